"""A code's tabular notes (includes, excludes, code first, ...), where the edition's data has them.

Only ICD-10-CM ships them (``cm.notes.json.gz``, built by ``dictionaries.notes``); other editions
have none and say so with an empty list.  A note written on a category, block or chapter applies
to every code under it, so a code's notes are its own and then its ancestors'.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from engine.core.codes import Edition
from engine.core.errors import CatalogError
from engine.core.resources import compiled_dir, load_compiled
from engine.terms.catalog import Catalog

__all__ = ["CodeNote", "CodeNotes"]

# What each kind of note tells a coder, in the words of the ICD-10-CM guidelines.
LABELS = {
    "inclusionTerm": "Inclusion terms",
    "includes": "Includes",
    "excludes1": "Excludes1 (never coded together with this code)",
    "excludes2": "Excludes2 (not part of this code; both may be coded)",
    "codeFirst": "Code first",
    "useAdditionalCode": "Use additional code",
    "codeAlso": "Code also",
    "notes": "Note",
}
_OWN_ONLY = frozenset({"inclusionTerm"})  # synonyms of the code itself, not of what lies under it


@dataclass(frozen=True, slots=True)
class CodeNote:
    kind: str  # a key of LABELS
    texts: tuple[str, ...]
    written_at: str  # the code (or block, chapter) the note is written on

    @property
    def label(self) -> str:
        return LABELS.get(self.kind, self.kind)


class CodeNotes:
    """Notes by catalog code, for one edition."""

    def __init__(self, notes: dict[str, dict[str, list[str]]]) -> None:
        self._notes = notes

    @staticmethod
    @cache
    def bundled(edition: Edition) -> CodeNotes:
        """The shipped notes of ``edition`` (none for an edition without a notes file)."""
        path = compiled_dir() / f"{Edition(edition).value}.notes.json.gz"
        if not path.exists():
            return CodeNotes({})
        try:
            return CodeNotes(load_compiled(path)["notes"])
        except (OSError, ValueError, KeyError, TypeError, EOFError) as error:
            raise CatalogError(f"code notes file damaged: {path} ({error})") from error

    def __len__(self) -> int:
        return len(self._notes)

    def for_code(self, code: str, catalog: Catalog) -> list[CodeNote]:
        """``code``'s own notes, then those of the levels above it that apply to it."""
        found: list[CodeNote] = []
        node = catalog.node(code)
        own = True
        while node is not None:
            for kind, texts in self._notes.get(node.code, {}).items():
                if own or kind not in _OWN_ONLY:
                    found.append(CodeNote(kind, tuple(texts), node.code))
            node = catalog.node(node.parent) if node.parent else None
            own = False
        return found
