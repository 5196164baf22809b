"""Dictionary lookup, detection and the unambiguity rule, on small dictionaries made here."""

import gzip
import json
from pathlib import Path

import pytest

from engine.core.errors import DictionaryError
from engine.core.model import Document
from engine.linking.detection import detect_mentions
from engine.terms.dictionary import (
    DEFAULT_EDITIONS,
    LANGUAGES,
    DetectionPolicy,
    LinkingRule,
    TermDictionary,
    TermEntry,
)


def entry(*codes: tuple[str, int]) -> TermEntry:
    return TermEntry("k", "k", tuple(codes), frozenset({"test"}), 0, 0)


@pytest.mark.parametrize(
    ("codes", "settled"),
    [
        ((("N28.1", 1),), ("N28.1", 1.0)),  # one code: unambiguous even if seen once
        ((("N28.1", 8), ("N28.9", 1)), ("N28.1", 8 / 9)),  # clearly dominant
        ((("N28.1", 3), ("N28.9", 1)), ("N28.1", 0.75)),  # exactly at the share threshold
        ((("N28.1", 2), ("N28.9", 1)), None),  # 67 % is not dominant
        ((("N28.1", 1), ("N28.9", 1)), None),  # a tie
    ],
)
def test_unambiguity_rule(codes, settled) -> None:
    assert LinkingRule(min_share=0.75, min_count=2).decide(entry(*codes)) == settled


def test_dominance_needs_enough_observations() -> None:
    # 75 % share, but the winning code is seen too rarely to trust over the other.
    assert LinkingRule(min_share=0.5, min_count=3).decide(entry(("A", 2), ("B", 1))) is None


def test_detection_policy_uses_corpus_precision() -> None:
    policy = DetectionPolicy(min_precision=0.25, min_occurrences=1, min_key_length=3, title_terms=True)
    assert policy.admits("dolor", annotated=30, occurrences=100)
    assert not policy.admits("paciente", annotated=1, occurrences=500)
    assert policy.admits("espermatocele", annotated=0, occurrences=0)  # title never seen: kept
    assert not policy.admits("ca", annotated=0, occurrences=0)  # too short without evidence
    assert not DetectionPolicy(title_terms=False).admits("espermatocele", 0, 0)


def write_dictionary(path: Path) -> Path:
    data = {
        "format": 1,
        "language": "es",
        "edition": "cm",
        "sources": {"train": {}, "dev": {}, "title": {}},
        "terms": [
            ["insuficiencia renal", "insuficiencia renal", [["N19", "train", 5]]],
            ["insuficiencia renal cronica", "insuficiencia renal crónica", [["N18.9", "train", 9]]],
            ["renal", "renal", [["N28.9", "title", 1]]],
            ["quiste", "quiste", [["N28.1", "dev", 2]]],
            ["paciente", "paciente", [["Z00.0", "train", 1]]],
        ],
        "occurrences": {"paciente": {"train": [1, 300]}, "quiste": {"dev": [2, 2]}},
    }
    path.write_bytes(gzip.compress(json.dumps(data).encode()))
    return path


def test_longest_match_with_exact_original_offsets(tmp_path: Path) -> None:
    dictionary = TermDictionary.from_file(
        write_dictionary(tmp_path / "es.terms.json.gz"), policy=DetectionPolicy(nested=False)
    )
    text = "El PACIENTE tiene Insuficiencia  Renal-Crónica y un quiste."
    mentions = detect_mentions(Document("d", text, "es"), dictionary)
    assert [m.text for m in mentions] == ["Insuficiencia  Renal-Crónica", "quiste"]
    for mention in mentions:
        assert text[mention.start : mention.end] == mention.text


def test_nested_detection_reports_inner_terms(tmp_path: Path) -> None:
    dictionary = TermDictionary.from_file(
        write_dictionary(tmp_path / "es.terms.json.gz"), policy=DetectionPolicy(nested=True)
    )
    text = "insuficiencia renal crónica"
    found = sorted((m.start, m.end) for m in detect_mentions(Document("d", text, "es"), dictionary))
    assert found == [(0, 19), (0, 27), (14, 19)]


def test_sources_can_be_left_out_without_a_rebuild(tmp_path: Path) -> None:
    path = write_dictionary(tmp_path / "es.terms.json.gz")
    full = TermDictionary.from_file(path)
    without_dev = TermDictionary.from_file(path, exclude=frozenset({"dev"}))
    assert full.lookup("Quiste") is not None
    assert without_dev.lookup("Quiste") is None
    assert "dev" not in without_dev.sources
    assert len(without_dev) == len(full) - 1


def test_lookup_folds_like_detection(tmp_path: Path) -> None:
    dictionary = TermDictionary.from_file(write_dictionary(tmp_path / "es.terms.json.gz"))
    found = dictionary.lookup("INSUFICIENCIA renal cronica")
    assert found is not None and found.codes == (("N18.9", 9),) and found.display == "insuficiencia renal crónica"


@pytest.mark.parametrize("content", [b"", b"not gzip at all", gzip.compress(b"{broken json"), gzip.compress(b"[]")])
def test_damaged_dictionary_gives_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "es.terms.json.gz"
    path.write_bytes(content)
    with pytest.raises(DictionaryError, match="damaged"):
        TermDictionary.from_file(path)


def test_missing_dictionary_and_unknown_language() -> None:
    with pytest.raises(DictionaryError, match="missing"):
        TermDictionary.from_file(Path("/nonexistent/es.terms.json.gz"))
    with pytest.raises(DictionaryError, match="no dictionary for language"):
        TermDictionary.bundled("xx")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_bundled_dictionary_loads_and_its_codes_are_in_its_catalog(language: str) -> None:
    from engine.terms.catalog import Catalog

    dictionary = TermDictionary.bundled(language)
    catalog = Catalog.bundled(dictionary.edition)
    keys = dictionary.keys()
    assert len(keys) > 3000
    for key in keys[:: max(1, len(keys) // 500)]:
        for code, _ in dictionary.entry(key).codes:
            assert catalog.is_valid(code), (language, key, code)
    assert dictionary.edition is DEFAULT_EDITIONS[language]  # the table the window uses without loading
