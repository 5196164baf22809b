"""Check the curated lexicons (``dictionaries/lexicons/<lang>.tsv``) before they are built.

A lexicon is written by hand, so every line is checked: its shape, its kind, an
abbreviation's expansion and context cues, duplicates, and its code against the
language's edition (valid, and terminal: a coder can submit it as final).  Each
entry is printed beside the code's catalog title in the language, so a reviewer
reads term and title side by side, and the counts per language and ICD chapter
are what ``dictionaries/SOURCES.md`` records.

    python -m dictionaries.lexicon_check            # every shipped lexicon
    python -m dictionaries.lexicon_check el fr      # some languages
    python -m dictionaries.lexicon_check --quiet de # problems and counts only

A NOTE (two spellings the engine folds to one key) is printed but is no problem.  The exit
status is 1 when any file has a problem.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.terms.catalog import Catalog
from engine.terms.dictionary import DEFAULT_EDITIONS

from .lexicon_source import Lexicon, lexicon_path, parse_lexicon, shipped_languages


def check_codes(lexicon: Lexicon, catalog: Catalog) -> None:
    """Every code must be in the edition and terminal in its default version (the one the app codes
    to unless a setting names another: CIE-10-ES 2018 for CM)."""
    for entry in lexicon.entries:
        if not catalog.is_valid(entry.code):
            lexicon.problem(entry.line, f"{entry.code} is not a code of {catalog.edition.label}")
        elif not catalog.in_version(entry.code):
            default = catalog.version().name
            lexicon.problem(entry.line, f"{entry.code} is not in {default}, the edition's default version")
        elif not catalog.is_terminal(entry.code):
            below = ", ".join(catalog.terminal_descendants(entry.code)[:8])
            label = catalog.edition.label
            lexicon.problem(entry.line, f"{entry.code} is not terminal in {label}; choose one of {below}")


def chapter_of(catalog: Catalog, code: str) -> str:
    """The code's chapter, by its range (``I00-I99``); empty for a code not in the catalog."""
    node = catalog.node(code)
    while node is not None and node.parent:
        node = catalog.node(node.parent)
    return node.code if node is not None and node.kind == "chapter" else ""


def title_for_review(catalog: Catalog, code: str, lang: str) -> str:
    """The title the coder would see, and the English one where the code has none in ``lang``."""
    title = catalog.title(code, lang)
    node = catalog.node(code)
    english = node.titles.get("en", "") if node else ""
    if node is not None and lang not in node.titles and english and english not in title:
        return f"{title} [en: {english}]"
    return title


@dataclass(frozen=True)
class Counts:
    entries: int
    codes: int
    abbreviations: int
    chapters: Counter[str]


def counts(lexicon: Lexicon, catalog: Catalog) -> Counts:
    """Entries, distinct codes, abbreviations and distinct codes per chapter."""
    codes = {entry.code for entry in lexicon.entries}
    return Counts(
        entries=len(lexicon.entries),
        codes=len(codes),
        abbreviations=sum(entry.kind == "abbr" for entry in lexicon.entries),
        chapters=Counter(chapter_of(catalog, code) for code in codes),
    )


def review_lines(lexicon: Lexicon, catalog: Catalog, lang: str) -> Iterator[str]:
    """One line per entry: line number, code, term (and expansion), the catalog's title."""
    for entry in lexicon.entries:
        shown = f"{entry.term} = {entry.expansion}" if entry.kind == "abbr" else entry.term
        yield f"{entry.line:5}  {entry.code:<8} {shown:<45} | {title_for_review(catalog, entry.code, lang)}"


def count_lines(lang: str, total: Counts, catalog: Catalog) -> Iterator[str]:
    yield (
        f"{lang} ({catalog.edition.label}): {total.entries} entries, {total.codes} distinct codes, "
        f"{total.abbreviations} abbreviations, {len(total.chapters)} chapters"
    )
    for chapter in sorted(total.chapters, key=lambda c: (c == "", c)):
        yield f"    {chapter or '(not in catalog)':<9} {total.chapters[chapter]:4} codes"


def check_language(lang: str, path: Path | None = None, *, quiet: bool = False) -> list[str]:
    """Parse, check and print one language's lexicon; return its problems."""
    path = path or lexicon_path(lang)
    if lang not in DEFAULT_EDITIONS or not path.is_file():
        known = ", ".join(DEFAULT_EDITIONS)
        problem = f"{lang}: no lexicon file {path}" if lang in DEFAULT_EDITIONS else (
            f"{lang}: no edition for this language (known: {known})"
        )
        print(f"PROBLEM {problem}")
        return [problem]
    catalog = Catalog.bundled(DEFAULT_EDITIONS[lang])
    lexicon = parse_lexicon(path)
    check_codes(lexicon, catalog)
    if not quiet:
        for line in review_lines(lexicon, catalog, lang):
            print(line)
    for note in lexicon.notes:
        print(f"NOTE {note}")
    for problem in lexicon.problems:
        print(f"PROBLEM {problem}")
    for line in count_lines(lang, counts(lexicon, catalog), catalog):
        print(line)
    return lexicon.problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dictionaries.lexicon_check", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "languages", nargs="*", metavar="LANG", help="languages to check (default: every lexicon)"
    )
    parser.add_argument("--quiet", action="store_true", help="print problems and counts, not every entry")
    args = parser.parse_args(argv)
    problems: list[str] = []
    for lang in args.languages or shipped_languages():
        problems += check_language(lang, quiet=args.quiet)
    print(f"{len(problems)} problem(s)" if problems else "no problems")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
