"""How a review session lies in SQLite, and how its documents and decisions become rows and back.

Schema (``meta.format`` = ``icdlinker-session-db-1``)::

    meta(name TEXT PRIMARY KEY, value TEXT)       -- format, created, migrated_from
    documents(                                    -- one row per open document
        key BLOB PRIMARY KEY,   -- the document's path as file-system bytes (os.fsencode):
                                --   file names need not be valid UTF-8
        position INTEGER,       -- place in the document list
        source BLOB,            -- the path as opened (os.fsencode), NULL for a pasted text
        language TEXT, edition TEXT, language_fixed INTEGER,  -- the coder's choices
        error TEXT,             -- why it could not be coded
        coding INTEGER,         -- 1: a run was coding it when the app stopped (offered to resume)
        unfinished TEXT,        -- why its result is partial (the model did not finish)
        document TEXT,          -- JSON {id, language, source} of the coded text, NULL if not coded
        text BLOB,              -- that text, UTF-8; written when the document is (re)coded only
        assignments TEXT,       -- JSON list of engine.core.model.Assignment.to_dict()
        saved TEXT,             -- when the row was last written (ISO 8601, UTC)
        confirmed INTEGER)      -- 1: the coder confirmed that a document without mentions has none
    decisions(                                    -- the audit log: one row per mention decided
        id INTEGER PRIMARY KEY, -- in the order decided
        at TEXT,                -- when (ISO 8601, UTC, milliseconds)
        coder TEXT,             -- the "coder" setting
        document BLOB,          -- documents.key (kept when the document is removed)
        action TEXT,            -- accept, reject, change_code, add_mention, delete, accept_all,
                                --   confirm_no_mentions (spans [], mention "": the whole document)
        step TEXT,              -- do, undo, redo
        spans TEXT,             -- JSON [[start, end], ...] into the text; mention TEXT: its words
        mention TEXT, edition TEXT,
        code_before TEXT, code_after TEXT,      -- NULL before an added / after a deleted mention
        status_before TEXT, status_after TEXT,  -- engine.core.model.ReviewStatus values
        stage_before TEXT, stage_after TEXT,    -- engine.core.model.Stage values: who proposed the code
        model TEXT, model_sha256 TEXT, prompt_version TEXT)  -- the model asked about it, if any
    site_lessons(...)                             -- what decisions taught: see engine.records.site_store
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.core.codes import Edition
from engine.core.model import Assignment, Document, DocumentResult
from engine.records.audit import AuditRow, audit_rows
from engine.records.session import SessionChanges, SessionDocument
from engine.records.site_store import SITE_SCHEMA, insert_lessons, lessons_from
from engine.terms.site_dictionary import Lesson

__all__ = ["FORMAT", "Damaged", "SessionRows", "checked", "connect", "read_documents"]

FORMAT = "icdlinker-session-db-1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS documents (
    key BLOB PRIMARY KEY, position INTEGER NOT NULL, source BLOB, language TEXT, edition TEXT,
    language_fixed INTEGER NOT NULL DEFAULT 0, error TEXT, coding INTEGER NOT NULL DEFAULT 0,
    unfinished TEXT, document TEXT, text BLOB, assignments TEXT, saved TEXT NOT NULL,
    confirmed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, coder TEXT NOT NULL, document BLOB NOT NULL,
    action TEXT NOT NULL, step TEXT NOT NULL, spans TEXT NOT NULL, mention TEXT NOT NULL, edition TEXT NOT NULL,
    code_before TEXT, code_after TEXT, status_before TEXT, status_after TEXT, stage_before TEXT, stage_after TEXT,
    model TEXT, model_sha256 TEXT, prompt_version TEXT);
CREATE INDEX IF NOT EXISTS decisions_by_document ON decisions (document);
"""
_UPSERT = """
INSERT INTO documents (key, position, source, language, edition, language_fixed, error, coding, unfinished,
                       assignments, saved, confirmed)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET position = excluded.position, source = excluded.source,
    language = excluded.language, edition = excluded.edition, language_fixed = excluded.language_fixed,
    error = excluded.error, coding = excluded.coding, unfinished = excluded.unfinished,
    assignments = excluded.assignments, saved = excluded.saved, confirmed = excluded.confirmed
"""
_DECISION = f"INSERT INTO decisions ({', '.join(AuditRow.__slots__)}) VALUES ({', '.join('?' * len(AuditRow.__slots__))})"
_DAMAGED = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}




class Damaged(Exception):
    """The file is not a session database we can read (as opposed to a locked or unwritable one)."""


def read_documents(connection: sqlite3.Connection) -> Iterator[SessionDocument]:
    """Every saved document in list order; sqlite3 errors and bad rows propagate (the caller judges)."""
    rows = connection.execute(
        "SELECT key, source, language, edition, language_fixed, error, coding, unfinished, document, text, "
        "assignments, confirmed FROM documents ORDER BY position"
    )
    for row in rows:
        yield _document(row)


class SessionRows:
    """What is on disk (each document's place and coded text), so a write touches only what changed."""

    def __init__(self) -> None:
        self._positions: dict[str, int] = {}
        self._texts: dict[str, Document] = {}
        self._encoded = _EncodedAssignments()

    def loaded(self, position: int, document: SessionDocument) -> None:
        """``document`` was read from row ``position``."""
        self._positions[document.key] = position
        if document.result is not None:
            self._texts[document.key] = document.result.document

    def write(self, connection: sqlite3.Connection, changes: SessionChanges) -> list[Lesson]:
        """One transaction; what is known to be on disk changes only once it has committed.

        Returns the site dictionary's lessons it wrote, for the dictionaries in memory.
        """
        positions, texts = dict(self._positions), dict(self._texts)
        with connection:
            if changes.order is not None:
                _reorder(connection, changes.order, positions, texts)
                for key in self._positions.keys() - positions.keys():  # removed from the session
                    self._encoded.forget(key)
            _write_documents(connection, changes.documents, positions, texts, self._encoded)
            lessons = list(changes.lessons)
            insert_lessons(connection, changes.lessons)
            for step in changes.steps:
                language = step.after.document.language
                for row in audit_rows(step):
                    decision = connection.execute(_DECISION, _audit_values(row)).lastrowid
                    taught = lessons_from(row, language)
                    insert_lessons(connection, taught, decision)
                    lessons += taught
        self._positions, self._texts = positions, texts
        return lessons


def _audit_values(row: AuditRow) -> tuple[Any, ...]:
    values = [_text(getattr(row, name)) for name in AuditRow.__slots__]
    values[AuditRow.__slots__.index("document")] = os.fsencode(row.document)
    return tuple(values)


def _reorder(connection: sqlite3.Connection, order: tuple[str, ...], positions: dict[str, int],
             texts: dict[str, Document]) -> None:
    """Delete the rows of removed documents and renumber the others (only where a place changed)."""
    wanted = {key: n for n, key in enumerate(order)}
    gone = [key for key in positions if key not in wanted]
    connection.executemany("DELETE FROM documents WHERE key = ?", [(os.fsencode(k),) for k in gone])
    for key in gone:
        del positions[key]
        texts.pop(key, None)
    moved = [(n, key) for key, n in wanted.items() if key in positions and positions[key] != n]
    connection.executemany("UPDATE documents SET position = ? WHERE key = ?", [(n, os.fsencode(k)) for n, k in moved])
    positions.update((key, n) for n, key in moved)
    for key in wanted.keys() - positions.keys():  # new ones are written next, in their place
        positions[key] = wanted[key]


class _EncodedAssignments:
    """Each assignment's JSON, kept by object for the document it was last written with.

    Review keeps the untouched assignments as the same objects, so an action on a
    50,000-mention document encodes one mention instead of all of them: encoding
    them all kept the writer busy ~0.5 s per action, and the UI thread waited for
    the GIL in every Qt call meanwhile (gaps of 500 ms while reviewing).
    """

    def __init__(self) -> None:
        self._by_document: dict[str, dict[int, tuple[Assignment, str]]] = {}

    def encode(self, key: str, assignments: tuple[Assignment, ...]) -> str:
        known, kept, parts, fresh = self._by_document.get(key, {}), {}, [], 0
        for assignment in assignments:
            hit = known.get(id(assignment))  # the object is held, so its id cannot be reused meanwhile
            if hit is not None and hit[0] is assignment:
                text = hit[1]
            else:
                text = _json(assignment.to_dict())
                fresh += 1
                if fresh % 64 == 0:
                    time.sleep(0.001)  # let the UI thread run: a new 50,000-mention document takes ~0.5 s
            kept[id(assignment)] = (assignment, text)
            parts.append(text)
        self._by_document[key] = kept
        return "[" + ",".join(parts) + "]"

    def forget(self, key: str) -> None:
        self._by_document.pop(key, None)


def _write_documents(connection: sqlite3.Connection, documents: tuple[SessionDocument, ...],
                     positions: dict[str, int], texts: dict[str, Document], encoded: _EncodedAssignments) -> None:
    saved = datetime.now(UTC).isoformat(timespec="milliseconds")
    last = max(positions.values(), default=-1)
    for document in documents:
        if document.key not in positions:
            last += 1
            positions[document.key] = last
        key, result = os.fsencode(document.key), document.result
        if result is None:
            encoded.forget(document.key)
        assignments = encoded.encode(document.key, result.assignments) if result else None
        connection.execute(_UPSERT, (
            key, positions[document.key], os.fsencode(document.source) if document.source else None,
            document.language, document.edition.value if document.edition else None, int(document.language_fixed),
            _text(document.error), int(document.coding), _text(document.unfinished), assignments, saved,
            int(bool(result and result.confirmed_empty)),
        ))
        coded = result.document if result else None
        if texts.get(document.key) is not coded:
            header = _json({"id": coded.id, "language": coded.language, "source": coded.source}) if coded else None
            text = coded.text.encode("utf-8", "surrogatepass") if coded else None
            connection.execute("UPDATE documents SET document = ?, text = ? WHERE key = ?", (header, text, key))
            if coded is None:
                texts.pop(document.key, None)
            else:
                texts[document.key] = coded


def _document(row: tuple[Any, ...]) -> SessionDocument:
    (key, source, language, edition, fixed, error, coding, unfinished, header, text, assignments,
     confirmed) = row
    result = None
    if header is not None:
        coded = json.loads(header)
        document = Document(coded["id"], bytes(text).decode("utf-8", "surrogatepass"), coded["language"],
                            coded["source"])
        result = DocumentResult(document, tuple(Assignment.from_dict(a) for a in json.loads(assignments)),
                                confirmed_empty=bool(confirmed))
    return SessionDocument(
        key=os.fsdecode(key), source=os.fsdecode(source) if source is not None else None, language=language,
        edition=Edition(edition) if edition else None, language_fixed=bool(fixed), result=result, error=error,
        coding=bool(coding), unfinished=unfinished,
    )


def _text(value: Any) -> Any:
    """A message that may quote a file name that is not UTF-8, with its odd bytes as ``\\udcf1``
    escapes: SQLite text must be UTF-8, and a message must not stop the save."""
    if not isinstance(value, str):
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _json(value: Any) -> str:
    """Compact JSON; a lone surrogate (from a file name that is not UTF-8) is written as a \\u escape."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":"))
    return text


def connect(path: Path) -> sqlite3.Connection:
    """A connection with the schema in place; Damaged if the file is not our database."""
    connection = sqlite3.connect(path, timeout=10, isolation_level="DEFERRED")
    try:
        # Read before writing anything: another program's database is set aside unchanged.
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "meta" not in tables:
            raise Damaged("not an icdlinker session database")
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        with connection:
            if not tables:
                connection.executescript(_SCHEMA)
                connection.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("format", FORMAT), ("created", datetime.now(UTC).isoformat(timespec="seconds"))])
            found = connection.execute("SELECT value FROM meta WHERE name = 'format'").fetchone()
            if found is None or found[0] != FORMAT:
                raise Damaged(f"not an icdlinker session database (format {found[0] if found else None!r})")
            connection.executescript(SITE_SCHEMA)  # a database from before the site dictionary gains its tables
            columns = {name for (_, name, *_) in connection.execute("PRAGMA table_info(documents)")}
            if "confirmed" not in columns:  # a database from before "no mentions found" was confirmed
                connection.execute("ALTER TABLE documents ADD COLUMN confirmed INTEGER NOT NULL DEFAULT 0")
    except sqlite3.DatabaseError as error:
        connection.close()
        raise checked(error) from error
    except Damaged:
        connection.close()
        raise
    return connection


def checked(error: sqlite3.DatabaseError) -> Exception:
    """A corrupt file or not a database is damaged; anything else (locked, read-only) is not."""
    return Damaged(str(error)) if getattr(error, "sqlite_errorname", "") in _DAMAGED else error


