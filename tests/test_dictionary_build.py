"""The dictionary build: vendored inputs intact, compiled outputs well-formed and honest."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from dictionaries import build, codiesp, terms
from dictionaries.catalog_tree import Catalog
from dictionaries.vendored import MANIFEST_PATH, SOURCES_DIR
from engine.text.normalize import term_key

COMPILED = build.COMPILED_DIR
CATALOG_KEYS = {"format", "edition", "name", "attribution", "languages", "nodes", "versions", "default_version"}
TERMS_KEYS = {"format", "language", "edition", "sources", "terms", "occurrences", "abbreviations"}
KINDS = {"chapter", "block", "category", "subcategory", "code"}


def load(path: Path) -> dict:
    return json.loads(gzip.decompress(path.read_bytes()))


@pytest.fixture(scope="module")
def catalogs() -> dict[str, dict]:
    return {edition: load(COMPILED / f"{edition}.catalog.json.gz") for edition in ("who", "cm", "gm", "icdo3")}


def test_manifest_lists_every_vendored_file_with_its_checksum() -> None:
    files = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))["files"]
    on_disk = {path.name for path in SOURCES_DIR.iterdir()} - {MANIFEST_PATH.name}
    assert set(files) == on_disk
    for name, entry in files.items():
        assert hashlib.sha256((SOURCES_DIR / name).read_bytes()).hexdigest() == entry["sha256"], name
        assert entry["origin"] and entry["licence"], name


def test_catalogs_have_documented_shape(catalogs: dict[str, dict]) -> None:
    for edition, catalog in catalogs.items():
        assert set(catalog) == CATALOG_KEYS and catalog["format"] == 1 and catalog["edition"] == edition
        codes = {node[0] for node in catalog["nodes"]}
        assert len(codes) == len(catalog["nodes"])
        for _, kind, parent, titles in catalog["nodes"]:
            assert kind in KINDS and (parent is None) == (kind == "chapter")
            assert parent is None or parent in codes
            assert titles and set(titles) <= set(catalog["languages"])


def test_term_dictionaries_have_documented_shape(catalogs: dict[str, dict]) -> None:
    for path in sorted(COMPILED.glob("*.terms.json.gz")):
        document = load(path)
        assert TERMS_KEYS <= set(document) <= TERMS_KEYS | {"detection"} and document["format"] == 1
        valid = {node[0] for node in catalogs[document["edition"]]["nodes"]}
        for key, display, codes in document["terms"][::50]:
            assert key == term_key(display)
            assert all(code in valid and source in document["sources"] for code, source, _ in codes)
        for splits in document["occurrences"].values():
            assert set(splits) <= set(document["sources"])


def test_every_codiesp_dev_gold_code_is_in_the_cm_catalog(catalogs: dict[str, dict]) -> None:
    codes = {node[0] for node in catalogs["cm"]["nodes"]}
    assert codiesp.gold_codes("dev") - codes == set()


def test_excluding_codiesp_dev_leaves_no_trace(tmp_path: Path) -> None:
    build.main(["--only", "es", "--exclude", "codiesp-dev", "--out", str(tmp_path)])
    outputs = sorted(tmp_path.iterdir())
    assert [path.name for path in outputs] == ["cm.catalog.json.gz", "cm.notes.json.gz", "es.terms.json.gz"]
    for path in outputs:
        assert "codiesp-dev" not in gzip.decompress(path.read_bytes()).decode("utf-8")
    assert "codiesp-train" in load(tmp_path / "es.terms.json.gz")["sources"]


@pytest.mark.parametrize(("language", "edition"), [("es", "cm"), ("de", "gm")])
def test_rebuild_reproduces_compiled_bytes(tmp_path: Path, language: str, edition: str) -> None:
    build.main(["--only", language, "--out", str(tmp_path)])
    notes = ("cm.notes.json.gz",) if edition == "cm" else ()
    for name in (f"{edition}.catalog.json.gz", f"{language}.terms.json.gz", *notes):
        assert (tmp_path / name).read_bytes() == (COMPILED / name).read_bytes(), name


def _gm(titles: dict[str, str]) -> Catalog:
    catalog = Catalog("gm", "test", ("de",), "")
    for code, title in titles.items():
        catalog.add(code, "category" if len(code) == 3 else "subcategory", code[:3] if len(code) > 3 else None,
                    {"de": title})
    return catalog


def test_an_index_code_the_catalog_no_longer_has_moves_where_its_terms_lead() -> None:
    catalog = _gm({
        "I48": "Vorhofflimmern und Vorhofflattern", "I48.0": "Vorhofflimmern, paroxysmal",
        "I48.1": "Vorhofflimmern, persistierend", "I48.3": "Vorhofflattern, typisch",
        "I48.9": "Vorhofflimmern und Vorhofflattern, nicht näher bezeichnet",
        "K50": "Crohn-Krankheit", "K50.0": "Crohn-Krankheit des Dünndarmes",
    })
    index = [
        ("Vorhofflimmern", "I48.19"),  # the bare word leads to "nicht näher bezeichnet"
        ("Absolute Arrhythmie bei Vorhofflimmern", "I48.19"),
        ("Paroxysmales Vorhofflimmern", "I48.10"),  # inflected: only I48.0 holds it
        ("Chronisches Vorhofflimmern", "I48.11"),  # no title holds "chronisch": dropped
        ("Morbus Crohn des Dickdarmes", "K50.1"),  # no title of its category holds it: dropped
        ("Vorhofflimmern, persistierend", "I48.1"),  # still valid: not moved
    ]
    assert terms._successors(index, catalog) == {"I48.19": "I48.9", "I48.10": "I48.0"}


def test_the_german_dictionary_finds_the_2010_index_terms_under_2017_codes() -> None:
    german = {row[0]: row for row in load(COMPILED / "de.terms.json.gz")["terms"]}
    assert {code for code, _, _ in german[term_key("Vorhofflimmern")][2]} == {"I48.9"}  # index and lexicon agree
    assert {code for code, _, _ in german[term_key("Paroxysmales Vorhofflimmern")][2]} == {"I48.0"}
    chronic = german.get(term_key("Chronisches Vorhofflimmern"), ("", "", []))[2]
    assert "gm-alpha" not in {source for _, source, _ in chronic}  # its 2010 code I48.11 is gone
