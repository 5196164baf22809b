"""The review session in memory: the open documents, their results and the coder's edits.

The session remembers what changed since it was last handed to the database
(``take_changes``): the documents touched, whether the list itself changed, and
the review steps for the audit log.  ``engine.records.session_db`` stores it, a
document at a time, so a review action never rewrites the whole session.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir

from engine.core.codes import Edition
from engine.core.model import DocumentResult
from engine.records.audit import ReviewStep
from engine.records.review import is_reviewed, needs_confirmation
from engine.terms.site_dictionary import Lesson
from engine.text.input_files import iter_input_files

__all__ = ["DocumentState", "ReviewSession", "SessionChanges", "SessionDocument", "default_session_path"]

SESSION_FORMAT = "icdlinker-session-1"


class DocumentState(StrEnum):
    NEW = "new"
    CODING = "coding"
    CODED = "coded"
    NO_MENTIONS = "no mentions found"  # nothing was found: the coder confirms it before it counts as reviewed
    REVIEWED = "reviewed"
    ERROR = "error"


@dataclass(slots=True)
class SessionDocument:
    """One document of the session.

    ``language`` is None until the document has been read and its language
    detected; ``language_fixed`` marks a coder's choice, which coding keeps.
    ``coding`` is saved too: a document still coding at the next start was in a
    run the app did not finish.  ``unfinished`` says why a result is partial
    (the model stopped before it had answered for every mention).
    """

    key: str
    source: str | None
    language: str | None = None
    edition: Edition | None = None
    language_fixed: bool = False
    result: DocumentResult | None = None
    error: str | None = None
    coding: bool = False
    unfinished: str | None = None

    @property
    def name(self) -> str:
        return os.path.basename(self.source) if self.source else self.key  # not Path(): called per row

    @property
    def state(self) -> DocumentState:
        if self.coding:
            return DocumentState.CODING
        if self.error is not None:
            return DocumentState.ERROR
        if self.result is None:
            return DocumentState.NEW
        if needs_confirmation(self.result):
            return DocumentState.NO_MENTIONS
        return DocumentState.REVIEWED if is_reviewed(self.result) else DocumentState.CODED

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "source": self.source,
            "language": self.language,
            "edition": self.edition.value if self.edition else None,
            "language_fixed": self.language_fixed,
            "result": self.result.to_dict() if self.result else None,
            "error": self.error,
            "unfinished": self.unfinished,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionDocument:
        return cls(
            key=data["key"],
            source=data.get("source"),
            language=data.get("language"),
            edition=Edition(data["edition"]) if data.get("edition") else None,
            language_fixed=bool(data.get("language_fixed")),
            result=DocumentResult.from_dict(data["result"]) if data.get("result") else None,
            error=data.get("error"),
            unfinished=data.get("unfinished"),
        )


@dataclass(frozen=True, slots=True)
class SessionChanges:
    """What to write: copies of the changed documents (only the writer holds them), the list if it
    changed, the review steps for the audit log (they teach the site dictionary too), and lessons
    that come from no review step (edits in the site dictionary view, imports)."""

    documents: tuple[SessionDocument, ...] = ()
    order: tuple[str, ...] | None = None  # every key, in list order, when documents were added or removed
    steps: tuple[ReviewStep, ...] = ()
    lessons: tuple[Lesson, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.documents or self.order is not None or self.steps or self.lessons)


@dataclass(slots=True)
class ReviewSession:
    """Documents in the order the coder opened them, and what changed since the last ``take_changes``."""

    documents: list[SessionDocument] = field(default_factory=list)
    _changed: dict[str, None] = field(default_factory=dict, repr=False, compare=False)
    _listed: bool = field(default=False, repr=False, compare=False)
    _steps: list[ReviewStep] = field(default_factory=list, repr=False, compare=False)
    _places: dict[str, int] = field(default_factory=dict, repr=False, compare=False)  # key → place in documents

    def __iter__(self) -> Iterator[SessionDocument]:
        return iter(self.documents)

    def __len__(self) -> int:
        return len(self.documents)

    def get(self, key: str) -> SessionDocument:
        """The document with this key.  The window asks many times per result; a scan of a
        2,751-document list each time added up to hundreds of ms on the UI thread."""
        place = self._places.get(key)
        if place is None or place >= len(self.documents) or self.documents[place].key != key:
            # ``documents`` is a plain list that callers may change: check the hint, rebuild if stale
            self._places = {document.key: n for n, document in enumerate(self.documents)}
            place = self._places.get(key)
            if place is None:
                raise KeyError(key)
        return self.documents[place]

    def add_paths(self, paths: Iterable[Path]) -> list[SessionDocument]:
        """Add files and every document file inside folders; already open files are skipped."""
        known = {d.key for d in self.documents}
        added = []
        for path in iter_input_files(list(paths)):
            key = str(path.resolve())
            if key not in known:
                known.add(key)
                added.append(SessionDocument(key, str(path)))
        self.documents.extend(added)
        for document in added:
            self.touch(document.key)
        self.touch()
        return added

    def remove(self, key: str) -> None:
        self.documents.remove(self.get(key))
        self.touch()

    def set_result(self, key: str, result: DocumentResult, step: ReviewStep | None = None) -> SessionDocument:
        """Store a (possibly partial) coding result or a reviewed one; ``step`` is the review action
        that made it, for the audit log."""
        document = self.get(key)
        document.result = None if result.error else result
        document.error = result.error
        if not document.language_fixed:  # an unreadable file has no language to detect
            document.language = None if result.error else result.document.language
        if step is not None:
            self._steps.append(step)
        self.touch(key)
        return document

    def touch(self, key: str | None = None) -> None:
        """``key``'s document changed; without a key, the list of documents did."""
        if key is None:
            self._listed = True
        else:
            self._changed[key] = None

    def take_changes(self, everything: bool = False) -> SessionChanges:
        """What changed since the last call (``everything``: the whole session), as copies the
        caller may hand to another thread."""
        if everything:
            self._changed.update(dict.fromkeys(d.key for d in self.documents))
            self._listed = True
        by_key = {d.key: d for d in self.documents} if len(self._changed) > 8 else None
        copies = []
        for key in self._changed:
            try:
                document = by_key[key] if by_key is not None else self.get(key)
            except KeyError:  # removed meanwhile
                continue
            copies.append(replace(document))
        order = tuple(d.key for d in self.documents) if self._listed else None
        changes = SessionChanges(tuple(copies), order, tuple(self._steps))
        self._changed, self._listed, self._steps = {}, False, []
        return changes

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SESSION_FORMAT,
            "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "documents": [d.to_dict() for d in self.documents],
        }

    @classmethod
    def from_dict(cls, data: Any) -> ReviewSession:
        """The session of an export or an old ``session.json``; ValueError, KeyError or TypeError if it is not one."""
        if not isinstance(data, dict) or data.get("format") != SESSION_FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"not an icdlinker session (format {found!r})")
        return cls([SessionDocument.from_dict(d) for d in data["documents"]])


def default_session_path() -> Path:
    """The session database; ``ICDLINKER_DATA_DIR`` overrides the per-user folder (tests, portable installs)."""
    folder = os.environ.get("ICDLINKER_DATA_DIR") or user_data_dir("icdlinker", appauthor=False)
    return Path(folder) / "session.sqlite3"
