"""The curated core lexicons (``dictionaries/lexicons/<lang>.tsv``) as a dictionary source.

A lexicon is written by the project from domain knowledge and public classification
wording: the diagnoses most hospital coding needs, the synonyms and inflected forms
clinicians write, and the abbreviations of clinical letters.  One line per surface form::

    code<TAB>term<TAB>kind<TAB>expansion<TAB>context

``kind`` is ``term`` or ``abbr``; an abbreviation names the wording shown to the coder
(``expansion``) and the ``|``-separated cue words of which one must occur near it for it to
be detected (see ``engine.terms.abbreviations``).  Lines starting with ``#`` are comments.
The build reads it only; ``dictionaries.lexicon_check`` reviews it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.core.codes import normalize_code

LEXICON_DIR = Path(__file__).resolve().parent / "lexicons"
HEADER = "code\tterm\tkind\texpansion\tcontext"


@dataclass(frozen=True, slots=True)
class CuratedEntry:
    code: str  # canonical form
    term: str
    kind: str  # "term" or "abbr"
    expansion: str
    context: tuple[str, ...]

    @property
    def is_abbreviation(self) -> bool:
        return self.kind == "abbr"


def lexicon_path(lang: str) -> Path:
    return LEXICON_DIR / f"{lang}.tsv"


def read_lexicon(lang: str) -> list[CuratedEntry]:
    """The entries of a language's lexicon, in file order; none when it has no file.

    A malformed line stops the build with its line number: the file is the project's own,
    and a silently skipped line would be a silently missing diagnosis.
    """
    path = lexicon_path(lang)
    if not path.is_file():
        return []
    entries = []
    header_seen = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        if not header_seen:
            if line.rstrip("\t") != HEADER:
                raise ValueError(f"{path}:{number}: the first line must be the header {HEADER!r}")
            header_seen = True
            continue
        fields = (line.split("\t") + ["", "", "", "", ""])[:5]
        code, term, kind, expansion, context = (field.strip() for field in fields)
        if kind not in ("term", "abbr") or not term or (kind == "abbr") != bool(expansion and context):
            raise ValueError(
                f"{path}:{number}: expected code, term, kind (term|abbr), and for abbr an expansion "
                f"and context cues: {line!r}"
            )
        cues = tuple(cue.strip() for cue in context.split("|") if cue.strip())
        entries.append(CuratedEntry(normalize_code(code), term, kind, expansion, cues))
    return entries
