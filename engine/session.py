"""The review session: the open documents, their results and the coder's edits.

It is saved whole, atomically, after every change (the window debounces), and
restored at the next start, so killing the app loses at most the last few
seconds of work.  A damaged session file is kept aside, never overwritten.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir

from engine.codes import Edition
from engine.errors import SessionError
from engine.export import write_text_atomic
from engine.model import DocumentResult
from engine.readers import iter_input_files
from engine.review import is_reviewed

__all__ = ["DocumentState", "ReviewSession", "SessionDocument", "default_session_path"]

log = logging.getLogger(__name__)

SESSION_FORMAT = "icdlinker-session-1"


class DocumentState(StrEnum):
    NEW = "new"
    CODING = "coding"
    CODED = "coded"
    REVIEWED = "reviewed"
    ERROR = "error"


@dataclass(slots=True)
class SessionDocument:
    """One document of the session.

    ``language`` is None until the document has been read and its language
    detected; ``language_fixed`` marks a coder's choice, which coding keeps.
    """

    key: str
    source: str | None
    language: str | None = None
    edition: Edition | None = None
    language_fixed: bool = False
    result: DocumentResult | None = None
    error: str | None = None
    coding: bool = False  # not saved: a run does not survive a restart

    @property
    def name(self) -> str:
        return Path(self.source).name if self.source else self.key

    @property
    def state(self) -> DocumentState:
        if self.coding:
            return DocumentState.CODING
        if self.error is not None:
            return DocumentState.ERROR
        if self.result is None:
            return DocumentState.NEW
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
        )


@dataclass(slots=True)
class ReviewSession:
    """Documents in the order the coder opened them; ``revision`` counts changes for autosave."""

    documents: list[SessionDocument] = field(default_factory=list)
    revision: int = 0

    def __iter__(self) -> Iterator[SessionDocument]:
        return iter(self.documents)

    def __len__(self) -> int:
        return len(self.documents)

    def get(self, key: str) -> SessionDocument:
        for document in self.documents:
            if document.key == key:
                return document
        raise KeyError(key)

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
        self.touch()
        return added

    def remove(self, key: str) -> None:
        self.documents.remove(self.get(key))
        self.touch()

    def set_result(self, key: str, result: DocumentResult) -> SessionDocument:
        """Store a (possibly partial) coding result or a reviewed one."""
        document = self.get(key)
        document.result = None if result.error else result
        document.error = result.error
        if not document.language_fixed:
            document.language = result.document.language
        self.touch()
        return document

    def touch(self) -> None:
        self.revision += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SESSION_FORMAT,
            "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "documents": [d.to_dict() for d in self.documents],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReviewSession:
        if data.get("format") != SESSION_FORMAT:
            raise ValueError(f"not an icdlinker session (format {data.get('format')!r})")
        return cls([SessionDocument.from_dict(d) for d in data["documents"]])

    def save(self, path: Path | None = None) -> Path:
        path = path or default_session_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, json.dumps(self.to_dict(), ensure_ascii=False))
        except OSError as error:
            raise SessionError(f"could not save the review session to {path}: {error.strerror or error}") from error
        return path

    @classmethod
    def load(cls, path: Path | None = None) -> ReviewSession:
        """The saved session, or an empty one when there is none.

        A file that cannot be read is renamed ``*.damaged-<time>`` (so the next
        save cannot destroy what may still be rescued) and SessionError says so.
        """
        path = path or default_session_path()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls()
        except OSError as error:
            raise SessionError(f"could not read the saved session {path}: {error.strerror or error}") from error
        try:
            return cls.from_dict(json.loads(text))
        except (ValueError, KeyError, TypeError) as error:
            aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
            os.replace(path, aside)
            raise SessionError(
                f"the saved session was damaged ({error}); it was kept as {aside.name} and a new session started",
                hint="Nothing was deleted: send that file to IT if work from it is needed.",
            ) from error


def default_session_path() -> Path:
    """``ICDLINKER_DATA_DIR`` overrides the per-user folder (tests, portable installs)."""
    folder = os.environ.get("ICDLINKER_DATA_DIR") or user_data_dir("icdlinker", appauthor=False)
    return Path(folder) / "session.json"
