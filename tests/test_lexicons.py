"""The curated core lexicons: every shipped file parses, its codes are valid and terminal in the
language's edition, nothing is listed twice, and the checker names what is wrong in a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from dictionaries import lexicon_check
from dictionaries.lexicon_check import check_codes, counts
from dictionaries.lexicon_source import HEADER as COLUMNS
from dictionaries.lexicon_source import lexicon_path, parse_lexicon, shipped_languages
from engine.terms.catalog import Catalog
from engine.terms.dictionary import DEFAULT_EDITIONS

HEADER = "\t".join(COLUMNS)
SHIPPED = shipped_languages()


def test_the_core_languages_ship_a_lexicon() -> None:
    assert {"el", "fr", "de"} <= set(SHIPPED)


@pytest.mark.parametrize("lang", SHIPPED)
def test_a_shipped_lexicon_parses_without_problems_and_codes_its_edition(lang: str) -> None:
    lexicon = parse_lexicon(lexicon_path(lang))
    catalog = Catalog.bundled(DEFAULT_EDITIONS[lang])
    check_codes(lexicon, catalog)
    assert lexicon.problems == []  # notes (two spellings of one folded key) are allowed
    for entry in lexicon.entries:
        assert catalog.is_valid(entry.code), entry
        assert catalog.is_terminal(entry.code), entry
        if entry.kind == "abbr":
            assert entry.expansion and entry.context, entry


@pytest.mark.parametrize("lang", ["el", "fr", "de"])
def test_a_core_lexicon_has_breadth_and_abbreviations(lang: str) -> None:
    lexicon = parse_lexicon(lexicon_path(lang))
    total = counts(lexicon, Catalog.bundled(DEFAULT_EDITIONS[lang]))
    assert total.entries >= 1000 and total.codes >= 400, total
    assert total.abbreviations >= 80, total
    assert len(total.chapters) >= 18, total  # cardiology to injuries and factors, not one corner


def test_greek_lexicon_covers_the_chapters_greek_titles_lack() -> None:
    """The WHO Greek titles have almost none in chapters IX-XI, XIV and XVIII."""
    lexicon = parse_lexicon(lexicon_path("el"))
    chapters = counts(lexicon, Catalog.bundled(DEFAULT_EDITIONS["el"])).chapters
    for chapter in ("I00-I99", "J00-J99", "K00-K93", "N00-N99", "R00-R99"):
        assert chapters[chapter] >= 20, (chapter, chapters[chapter])


def test_english_abbreviations_greek_and_german_letters_use_are_there() -> None:
    greek = {e.term for e in parse_lexicon(lexicon_path("el")).entries if e.kind == "abbr"}
    german = {e.term for e in parse_lexicon(lexicon_path("de")).entries if e.kind == "abbr"}
    assert {"ΣΔ", "ΑΥ", "ΚΜ", "ΧΑΠ", "ΝΑ", "AF", "CAD", "COPD"} <= greek
    assert {"VHF", "KHK", "HI", "DM", "AP", "NI", "COPD"} <= german


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "xx.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_checker_names_each_malformed_line_by_its_number(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "# a comment",
        HEADER,
        "I10\thypertension artérielle\tterm\t\t",  # 3: fine
        "I10\thypertension\tmot\t\t",  # 4: unknown kind
        "I48.9\tFA\tabbr\t\tECG|rythme",  # 5: abbreviation without expansion
        "I48.9\tFA\tabbr\tfibrillation auriculaire\t",  # 6: abbreviation without context
        "I10\thypertension artérielle\tterm",  # 7: duplicate of 3 (trailing fields left off)
        "I10 hypertension term",  # 8: no tabs
        "I489\tfibrillation\tterm\t\t",  # 9: not dotted
        "XYZ\tquelque chose\tterm\t\t",  # 10: not a code
        "I20.9\tangor\tterm\tangine\t",  # 11: a term with an expansion
        "I10\tHTA\tterm\t\t",  # 12: fine
        "I10\tHTA\tabbr\thypertension artérielle\ttension",  # 13: also a term, so found without cues
        "I10\tHypertension arterielle\tterm\t\t",  # 14: folds to line 3's key: a note only
    )
    lexicon = parse_lexicon(path)
    assert lexicon.problems == [
        "xx.tsv:4: unknown kind 'mot' (use abbr or term)",
        "xx.tsv:5: abbreviation 'FA' has no expansion",
        "xx.tsv:6: abbreviation 'FA' needs context cue words (a|b|c), none may be empty",
        "xx.tsv:8: expected 3 to 5 tab-separated fields (code, term, kind, expansion, context), found 1",
        "xx.tsv:9: write the code in dotted form: I48.9, not I489",
        "xx.tsv:10: 'XYZ' is not an ICD-10 code",
        "xx.tsv:11: term 'angor' has an expansion or context: only abbreviations take them",
        "xx.tsv:7: duplicate of line 3: 'hypertension artérielle' → I10",
        "xx.tsv:13: 'HTA' → I10 is both a term and an abbreviation (line 12):"
        " as a term it is found without the abbreviation's context cues",
    ]
    assert lexicon.notes == [
        "xx.tsv:14: 'Hypertension arterielle' folds to the same key as line 3's 'hypertension artérielle'"
        " → I10: the engine matches both with either"
    ]
    assert [entry.line for entry in lexicon.entries] == [3, 7, 12, 13, 14]


def test_the_checker_flags_codes_the_edition_lacks_or_that_are_not_terminal(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER,
        "I48\tfibrillation auriculaire\tterm\t\t",  # a category with subcategories
        "K58.9\tcôlon irritable\tterm\t\t",  # not in WHO 2019 (K58.8 is)
        "I48.9\tfibrillation auriculaire\tterm\t\t",
    )
    lexicon = parse_lexicon(path)
    check_codes(lexicon, Catalog.bundled(DEFAULT_EDITIONS["fr"]))
    assert lexicon.problems[0].startswith("xx.tsv:2: I48 is not terminal in WHO ICD-10; choose one of I48.0,")
    assert lexicon.problems[1:] == ["xx.tsv:3: K58.9 is not a code of WHO ICD-10"]


def test_a_file_without_its_header_is_one_clear_problem(tmp_path: Path) -> None:
    lexicon = parse_lexicon(write(tmp_path, "# comment", "I10\thypertension\tterm\t\t"))
    assert lexicon.entries == []
    shown = HEADER.replace("\t", "\\t")
    assert lexicon.problems == [f"xx.tsv:2: the first line must be the header {shown}"]


def test_the_command_prints_entries_beside_titles_and_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert lexicon_check.main(["fr"]) == 0
    out = capsys.readouterr().out
    line = next(row for row in out.splitlines() if "fibrillation auriculaire paroxystique" in row)
    assert "I48.0" in line and line.endswith("| Fibrillation auriculaire paroxystique")
    assert "fr (WHO ICD-10): " in out and "abbreviations" in out and "I00-I99" in out
    assert out.rstrip().endswith("no problems")


def test_the_command_fails_on_a_language_without_a_lexicon(capsys: pytest.CaptureFixture[str]) -> None:
    assert lexicon_check.main(["--quiet", "xx"]) == 1
    assert "xx: no edition for this language" in capsys.readouterr().out
