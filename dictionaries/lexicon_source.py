"""The curated core lexicons (``dictionaries/lexicons/<lang>.tsv``) as a dictionary source.

A lexicon is written by the project from domain knowledge and public classification
wording: the diagnoses most hospital coding needs, the synonyms and inflected forms
clinicians write, and the abbreviations of clinical letters.  One line per surface form::

    code<TAB>term<TAB>kind<TAB>expansion<TAB>context

``kind`` is ``term`` or ``abbr``; an abbreviation names the wording shown to the coder
(``expansion``) and the ``|``-separated cue words of which one must occur near it for it to
be detected (see ``engine.terms.abbreviations``).  Lines starting with ``#`` are comments.
The build and ``dictionaries.lexicon_check`` (which also checks codes against the edition
and prints each entry beside its title for review) read it with ``parse_lexicon``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from engine.core.codes import normalize_code
from engine.text.normalize import term_key

LEXICON_DIR = Path(__file__).resolve().parent / "lexicons"
HEADER = ("code", "term", "kind", "expansion", "context")
KINDS = frozenset({"term", "abbr"})


@dataclass(frozen=True, slots=True)
class LexiconEntry:
    """One line of a lexicon: a surface form (or abbreviation) for one code."""

    line: int
    code: str
    term: str
    kind: str
    expansion: str
    context: tuple[str, ...]

    @property
    def is_abbreviation(self) -> bool:
        return self.kind == "abbr"


@dataclass
class Lexicon:
    """A parsed lexicon file: its well-formed entries and what was wrong with the rest."""

    path: Path
    entries: list[LexiconEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # worth a look, not wrong

    def problem(self, line: int, message: str) -> None:
        self.problems.append(f"{self.path.name}:{line}: {message}")

    def note(self, line: int, message: str) -> None:
        self.notes.append(f"{self.path.name}:{line}: {message}")


def lexicon_path(lang: str) -> Path:
    return LEXICON_DIR / f"{lang}.tsv"


def shipped_languages() -> list[str]:
    """The languages that have a lexicon file, in name order."""
    return sorted(path.stem for path in LEXICON_DIR.glob("*.tsv"))


def _content_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) for every line that is neither blank nor a ``#`` comment."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            yield number, line


def parse_lexicon(path: Path) -> Lexicon:
    """Read one lexicon file; a malformed line is reported with its number and left out."""
    lexicon = Lexicon(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        lexicon.problem(0, f"not UTF-8 ({error.reason} at byte {error.start})")
        return lexicon
    lines = _content_lines(text)
    first = next(lines, None)
    if first is None or tuple(first[1].split("\t")) != HEADER:
        lexicon.problem(first[0] if first else 1, "the first line must be the header " + "\\t".join(HEADER))
        return lexicon
    for number, line in lines:
        entry = _parse_line(lexicon, number, line)
        if entry is not None:
            lexicon.entries.append(entry)
    _check_duplicates(lexicon)
    return lexicon


def _parse_line(lexicon: Lexicon, number: int, line: str) -> LexiconEntry | None:
    """One entry line; a term may leave its empty trailing fields off, as the build reads it."""
    fields = [part.strip() for part in line.split("\t")]
    if not 3 <= len(fields) <= len(HEADER):
        names = ", ".join(HEADER)
        lexicon.problem(number, f"expected 3 to 5 tab-separated fields ({names}), found {len(fields)}")
        return None
    code, term, kind, expansion, context = fields + [""] * (len(HEADER) - len(fields))
    cues = tuple(cue.strip() for cue in context.split("|")) if context else ()
    if kind not in KINDS:
        lexicon.problem(number, f"unknown kind {kind!r} (use {' or '.join(sorted(KINDS))})")
        return None
    if not term_key(term):
        lexicon.problem(number, "empty term")
        return None
    if kind == "abbr" and not expansion:
        lexicon.problem(number, f"abbreviation {term!r} has no expansion")
        return None
    if kind == "abbr" and (not cues or not all(cues)):
        lexicon.problem(number, f"abbreviation {term!r} needs context cue words (a|b|c), none may be empty")
        return None
    if kind == "term" and (expansion or cues):
        lexicon.problem(number, f"term {term!r} has an expansion or context: only abbreviations take them")
        return None
    try:
        normalized = normalize_code(code)
    except ValueError:
        lexicon.problem(number, f"{code!r} is not an ICD-10 code")
        return None
    if normalized != code:
        lexicon.problem(number, f"write the code in dotted form: {normalized}, not {code}")
        return None
    return LexiconEntry(number, code, term, kind, expansion, cues)


def _check_duplicates(lexicon: Lexicon) -> None:
    """The same term twice for one code is a duplicate, and a term that is also an abbreviation
    detects without the abbreviation's cues.  Two spellings the engine folds to one key ("é", "e")
    are only noted: the build keeps one, and the line does no harm."""
    first: dict[tuple[str, str], LexiconEntry] = {}
    for entry in lexicon.entries:
        key = (term_key(entry.term), entry.code)
        earlier = first.setdefault(key, entry)
        if earlier is entry:
            continue
        if earlier.kind != entry.kind:
            lexicon.problem(
                entry.line,
                f"{entry.term!r} → {entry.code} is both a term and an abbreviation (line {earlier.line}):"
                " as a term it is found without the abbreviation's context cues",
            )
        elif " ".join(earlier.term.split()) == " ".join(entry.term.split()):
            lexicon.problem(entry.line, f"duplicate of line {earlier.line}: {entry.term!r} → {entry.code}")
        else:
            lexicon.note(entry.line, f"{entry.term!r} folds to the same key as line {earlier.line}'s "
                         f"{earlier.term!r} → {entry.code}: the engine matches both with either")


def read_lexicon(lang: str) -> list[LexiconEntry]:
    """The entries of a language's lexicon, in file order; none when it has no file.

    A malformed line stops the build with its line number: the file is the project's own,
    and a silently skipped line would be a silently missing diagnosis.
    """
    path = lexicon_path(lang)
    if not path.is_file():
        return []
    lexicon = parse_lexicon(path)
    if lexicon.problems:
        raise ValueError("; ".join(lexicon.problems))
    return lexicon.entries
