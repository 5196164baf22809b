"""The audit rows of a session database, read back per mention (for exports with provenance).

The ``decisions`` table (see ``engine.records.session_rows``) is read through its own read-only
connection: the session's writer thread may keep writing meanwhile (WAL lets both), and an export
never changes the session.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.core.codes import Edition
from engine.core.errors import SessionError
from engine.core.model import Span
from engine.records.audit import spans_key

__all__ = ["AuditLog", "Decision"]

_COLUMNS = ("at", "coder", "action", "step", "code_before", "code_after", "status_after", "stage_after",
            "model", "model_sha256", "prompt_version")


@dataclass(frozen=True, slots=True)
class Decision:
    """One audit row of a mention, as an export shows it."""

    at: str
    coder: str
    action: str
    step: str
    code_before: str | None
    code_after: str | None
    status_after: str | None
    stage_after: str | None
    model: str | None
    model_sha256: str | None
    prompt_version: str | None

    def to_dict(self) -> dict[str, str]:
        """The row's fields that have a value (what a registry's loader reads)."""
        return {name: value for name in _COLUMNS if (value := getattr(self, name)) is not None}


class AuditLog:
    """Decisions by (document key, mention spans, edition), in the order they were made: an ICD-10 and
    an ICD-O-3 mention of the same words have decisions of their own."""

    def __init__(self, rows: dict[tuple[str, str, str], list[Decision]] | None = None) -> None:
        self._rows = rows or {}

    @classmethod
    def read(cls, path: Path) -> AuditLog:
        """Every decision in the session database at ``path`` (none for a database not on disk)."""
        if str(path) == ":memory:" or not path.exists():
            return cls()
        rows: dict[tuple[str, str, str], list[Decision]] = {}
        try:
            connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
            try:
                query = f"SELECT document, spans, edition, {', '.join(_COLUMNS)} FROM decisions ORDER BY id"
                for document, spans, edition, *values in connection.execute(query):
                    key = os.fsdecode(document) if isinstance(document, bytes) else str(document)
                    rows.setdefault((key, spans, edition), []).append(Decision(*values))
            finally:
                connection.close()
        except sqlite3.Error as error:
            raise SessionError(f"could not read the review decisions in {path} for the provenance column: {error}",
                               hint="Export without provenance (the registry preset), or ask IT to check the "
                                    "session database.") from error
        return cls(rows)

    def __len__(self) -> int:
        return sum(map(len, self._rows.values()))

    def decisions(self, key: str, spans: Sequence[Span], edition: Edition) -> list[Decision]:
        """What coders decided about the ``edition`` mention at ``spans`` of the document ``key``, oldest first."""
        return self._rows.get((key, spans_key(spans), edition.value), [])
