"""Bundled catalogs: validity, hierarchy and titles, which every stage relies on."""

import gzip
from pathlib import Path

import pytest

from engine.core.codes import Edition
from engine.core.errors import CatalogError
from engine.terms.catalog import Catalog


@pytest.fixture(scope="module")
def cm() -> Catalog:
    return Catalog.bundled(Edition.CM)


def test_hierarchy_from_chapter_to_code(cm: Catalog) -> None:
    assert cm.parent("N28.1") == "N28"
    assert cm.parent("N28") == "N25-N29"  # block
    assert cm.parent("N25-N29") == "N00-N99"  # chapter
    assert cm.node("N00-N99").kind == "chapter"
    assert cm.children("N28") == ["N28.0", "N28.1", "N28.8", "N28.9"]
    assert cm.parent("S31.40XA") == "S31.40X"


def test_validity_knows_codiesp_forms_and_rejects_ranges(cm: Catalog) -> None:
    assert cm.is_valid("n28.1") and cm.is_valid("S31.40X") and cm.is_valid("S31.40XA")
    assert not cm.is_valid("N25-N29")  # a block is not codable
    assert not cm.is_valid("Z99.999") and not cm.is_valid("garbage")


def test_titles_in_the_language_first_then_the_specific_english_wording(cm: Catalog) -> None:
    assert cm.title("N28.1", "es") == "Quiste de riñón, adquirido"
    # CM only has an English title: the nearest Spanish ancestor's (S31.4) first.
    assert cm.title("S31.40XA", "es") == (
        "Herida de la vagina y de la vulva — Unspecified open wound of vagina and vulva, initial encounter"
    )
    assert cm.title("R10.9", "es") == "Dolor abdominal y pélvico — Unspecified abdominal pain"
    assert cm.title("S31.40XA", "en") == "Unspecified open wound of vagina and vulva, initial encounter"
    assert cm.title("S31.40XA", "de") == "Unspecified open wound of vagina and vulva, initial encounter"  # no German
    who = Catalog.bundled(Edition.WHO)
    assert who.title("J18.9", "fr") == "Pneumopathie, sans précision"
    # No Greek title for J18 or J18.9: the chapter's Greek title, then the English one.
    assert who.title("J18.9", "el") == "Ασθένειες του αναπνευστικού συστήματος — Pneumonia, unspecified"
    assert all(title.lower() != "nan" for node in cm.codes() for title in node.titles.values())


@pytest.mark.parametrize("edition", list(Edition))
def test_every_edition_loads(edition: Edition) -> None:
    catalog = Catalog.bundled(edition)
    assert catalog.edition is edition and len(catalog) > 10000 and catalog.name


def test_damaged_catalog_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "cm.catalog.json.gz"
    path.write_bytes(gzip.compress(b'{"edition": "cm"}'))
    with pytest.raises(CatalogError, match="damaged"):
        Catalog.from_file(path)
    with pytest.raises(CatalogError, match="missing"):
        Catalog.from_file(tmp_path / "nope.json.gz")
