"""The review session on disk: one SQLite database, written a document at a time off the UI thread.

A review action writes that document's row and its audit rows, never the whole
session: the window hands ``SessionChanges`` (copies, immutable from then on)
to a writer thread that owns its own connection, serialises them and commits.
WAL with ``synchronous=NORMAL``: a killed process loses at most the transaction
being written; a power cut may lose the last commits but never the database.
A database or old ``session.json`` that cannot be read is renamed
``*.damaged-<time>`` (never overwritten) and a fresh session starts.

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
        saved TEXT)             -- when the row was last written (ISO 8601, UTC)
    decisions(                                    -- the audit log: one row per mention decided
        id INTEGER PRIMARY KEY, -- in the order decided
        at TEXT,                -- when (ISO 8601, UTC, milliseconds)
        coder TEXT,             -- the "coder" setting
        document BLOB,          -- documents.key (kept when the document is removed)
        action TEXT,            -- accept, reject, change_code, add_mention, delete, accept_all
        step TEXT,              -- do, undo, redo
        spans TEXT,             -- JSON [[start, end], ...] into the text; mention TEXT: its words
        mention TEXT, edition TEXT,
        code_before TEXT, code_after TEXT,      -- NULL before an added / after a deleted mention
        status_before TEXT, status_after TEXT,  -- engine.core.model.ReviewStatus values
        stage_before TEXT, stage_after TEXT,    -- engine.core.model.Stage values: who proposed the code
        model TEXT, model_sha256 TEXT, prompt_version TEXT)  -- the model asked about it, if any
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any

from engine.core.codes import Edition
from engine.core.errors import SessionError
from engine.core.model import Assignment, Document, DocumentResult
from engine.records.audit import AuditRow, audit_rows
from engine.records.session import ReviewSession, SessionChanges, SessionDocument, default_session_path

__all__ = ["FORMAT", "OpenedSession", "SessionDatabase", "open_session", "read_session_json"]

log = logging.getLogger(__name__)

FORMAT = "icdlinker-session-db-1"
LEGACY_NAME = "session.json"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS documents (
    key BLOB PRIMARY KEY, position INTEGER NOT NULL, source BLOB, language TEXT, edition TEXT,
    language_fixed INTEGER NOT NULL DEFAULT 0, error TEXT, coding INTEGER NOT NULL DEFAULT 0,
    unfinished TEXT, document TEXT, text BLOB, assignments TEXT, saved TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, coder TEXT NOT NULL, document BLOB NOT NULL,
    action TEXT NOT NULL, step TEXT NOT NULL, spans TEXT NOT NULL, mention TEXT NOT NULL, edition TEXT NOT NULL,
    code_before TEXT, code_after TEXT, status_before TEXT, status_after TEXT, stage_before TEXT, stage_after TEXT,
    model TEXT, model_sha256 TEXT, prompt_version TEXT);
CREATE INDEX IF NOT EXISTS decisions_by_document ON decisions (document);
"""
_UPSERT = """
INSERT INTO documents (key, position, source, language, edition, language_fixed, error, coding, unfinished,
                       assignments, saved)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET position = excluded.position, source = excluded.source,
    language = excluded.language, edition = excluded.edition, language_fixed = excluded.language_fixed,
    error = excluded.error, coding = excluded.coding, unfinished = excluded.unfinished,
    assignments = excluded.assignments, saved = excluded.saved
"""
_DECISION = f"INSERT INTO decisions ({', '.join(AuditRow.__slots__)}) VALUES ({', '.join('?' * len(AuditRow.__slots__))})"
_DAMAGED = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}


class _Damaged(Exception):
    """The file is not a session database we can read (as opposed to a locked or unwritable one)."""


@dataclass
class OpenedSession:
    """The restored session, the database that keeps it, and what the coder must be told or asked."""

    session: ReviewSession
    database: SessionDatabase
    problem: SessionError | None = None
    interrupted: list[str] = field(default_factory=list)  # keys a run was coding when the app stopped


def open_session(path: Path | None = None) -> OpenedSession:
    """Open (or create) the session database, migrating an old ``session.json`` beside it once.

    Never raises: a damaged file is set aside and reported in ``problem``; a
    database that cannot be opened at all (a locked or read-only folder) leaves
    the session in memory only, and ``problem`` says the work will not be saved.
    """
    path = path or default_session_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        legacy = path.with_name(LEGACY_NAME)
        if not path.exists() and legacy.exists():
            _migrate(legacy, path)
        database = SessionDatabase(path)
        session, interrupted = database.load()
    except SessionError as error:  # a damaged session.json, already set aside
        return _fresh(path, error)
    except _Damaged as error:
        try:
            aside = _set_aside(path)
        except OSError as failure:
            return _fresh(Path(":memory:"), SessionError(
                f"the saved session database was damaged ({error}) and could not be set aside ({failure}); "
                "this session will not be saved",
            ))
        return _fresh(path, SessionError(
            f"the saved session database was damaged ({error}); it was kept as {aside.name} and a new session "
            "started", hint="Nothing was deleted: send that file to IT if work from it is needed.",
        ))
    except (sqlite3.Error, OSError) as error:
        return _fresh(Path(":memory:"), SessionError(
            f"the session database {path} could not be opened ({error}); this session will not be saved",
        ))
    database.start()
    return OpenedSession(session, database, None, interrupted)


def _fresh(path: Path, problem: SessionError) -> OpenedSession:
    try:
        database = SessionDatabase(path)
    except (_Damaged, sqlite3.Error, OSError):
        database = SessionDatabase(Path(":memory:"))
    database.load()
    database.start()
    return OpenedSession(ReviewSession(), database, problem)


def read_session_json(path: Path) -> ReviewSession:
    """An old whole-session JSON file; a damaged one is set aside and SessionError says so."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SessionError(f"could not read the saved session {path}: {error.strerror or error}") from error
    try:
        return ReviewSession.from_dict(json.loads(data.decode("utf-8")))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
        aside = _set_aside(path)
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)[:200]
        raise SessionError(
            f"the saved session was damaged ({reason}); it was kept as {aside.name} and a new session started",
            hint="Nothing was deleted: send that file to IT if work from it is needed.",
        ) from error


def _migrate(legacy: Path, path: Path) -> None:
    """Copy ``session.json`` into a new database, then keep it as ``session.json.migrated``.

    Written under a temporary name first: a process killed meanwhile leaves the
    JSON file in place, and the next start migrates again.
    """
    session = read_session_json(legacy)
    building = path.with_name(path.name + ".migrating")
    for leftover in _files(building):
        leftover.unlink(missing_ok=True)
    connection = _connect(building)
    try:
        with connection:
            _write_documents(connection, session.take_changes(everything=True).documents, {}, {},
                             _EncodedAssignments())
            connection.execute("INSERT OR REPLACE INTO meta VALUES ('migrated_from', ?)", (legacy.name,))
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    os.replace(building, path)
    _set_aside(legacy, "migrated")
    log.info("session.json migrated into %s (%d documents)", path, len(session))


class SessionDatabase:
    """The session's database: ``load`` on the opening thread, then every write through ``submit``.

    ``submit`` only queues; the writer thread merges what is queued, writes it in
    one transaction and retries after a failure (nothing is dropped: the next
    write includes it).  ``on_error`` is called on the writer thread when writes
    start failing; ``flush`` waits for the queue and raises the failure.
    """

    def __init__(self, path: Path, on_error: Callable[[SessionError], None] | None = None) -> None:
        self.path = path
        self.on_error = on_error
        self._connection: sqlite3.Connection | None = _connect(path)
        self._queue: SimpleQueue[SessionChanges | threading.Event | None] = SimpleQueue()
        self._thread: threading.Thread | None = None
        self._positions: dict[str, int] = {}  # what is on disk: each document's place in the list
        self._texts: dict[str, Document] = {}  # and the document whose text is on disk
        self._encoded = _EncodedAssignments()
        self._error: SessionError | None = None

    def load(self) -> tuple[ReviewSession, list[str]]:
        """The saved session, and the keys of documents a run was coding when the app stopped."""
        connection = self._connection
        assert connection is not None, "load() once, before start()"
        session, interrupted = ReviewSession(), []
        try:
            # About 0.1 s for 2,751 documents: damage the row scan below would not read (an index) is
            # found now, when the file can still be set aside, not at the first save.
            problems = [line for (line,) in connection.execute("PRAGMA quick_check(5)")]
            if problems != ["ok"]:
                raise _Damaged("; ".join(problems)[:300])
            rows = connection.execute(
                "SELECT key, source, language, edition, language_fixed, error, coding, unfinished, document, text, "
                "assignments FROM documents ORDER BY position"
            )
            for position, row in enumerate(rows):
                document = _document(row)
                session.documents.append(document)
                self._positions[document.key] = position
                if document.result is not None:
                    self._texts[document.key] = document.result.document
                if document.coding:
                    document.coding = False
                    interrupted.append(document.key)
        except sqlite3.DatabaseError as error:
            raise _checked(error) from error
        except (ValueError, KeyError, TypeError, RecursionError) as error:
            raise _Damaged(f"a document row could not be read: {str(error)[:200]}") from error
        finally:
            connection.close()
            self._connection = None
        return session, interrupted

    @property
    def error(self) -> SessionError | None:
        """Why the last write failed; None once a write succeeds."""
        return self._error

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="session-writer", daemon=True)
        self._thread.start()

    def submit(self, changes: SessionChanges) -> None:
        """Queue changes for the writer (any thread; returns at once)."""
        if changes:
            self._queue.put(changes)

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until everything submitted is written; SessionError if it could not be."""
        done = threading.Event()
        self._queue.put(done)
        if self._thread is None or not self._thread.is_alive():
            raise SessionError("the session writer is not running; the session is not being saved")
        if not done.wait(timeout_s):
            raise SessionError(f"saving the session took more than {timeout_s:.0f} s")
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Write what is queued and stop the writer."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(30)

    # --- the writer thread --------------------------------------------------------------

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        pending = SessionChanges()
        while True:
            waiting, stop = [], False
            item = self._queue.get()
            while True:
                if isinstance(item, SessionChanges):
                    pending = _merge(pending, item)
                elif isinstance(item, threading.Event):
                    waiting.append(item)
                else:
                    stop = True
                try:
                    item = self._queue.get_nowait()
                except Empty:
                    break
            if pending:
                try:
                    connection = connection or _connect(self.path)
                    self._write(connection, pending)
                except Exception as error:  # a disk error or a bug: report it, keep the changes, keep going
                    if not isinstance(error, (sqlite3.Error, OSError, _Damaged)):
                        log.exception("writing the session failed")
                    self._failed(error)
                else:
                    pending, self._error = SessionChanges(), None
            for event in waiting:
                event.set()
            if stop:
                break
        if connection is not None:
            connection.close()

    def _write(self, connection: sqlite3.Connection, changes: SessionChanges) -> None:
        """One transaction; what is known to be on disk changes only once it has committed."""
        positions, texts = dict(self._positions), dict(self._texts)
        with connection:
            if changes.order is not None:
                _reorder(connection, changes.order, positions, texts)
                for key in self._positions.keys() - positions.keys():  # removed from the session
                    self._encoded.forget(key)
            _write_documents(connection, changes.documents, positions, texts, self._encoded)
            connection.executemany(_DECISION, [_audit_values(row) for step in changes.steps
                                               for row in audit_rows(step)])
        self._positions, self._texts = positions, texts

    def _failed(self, error: BaseException) -> None:
        first = self._error is None
        self._error = SessionError(f"could not save the review session to {self.path}: {error}")
        log.warning("%s", self._error)
        if first and self.on_error is not None:
            try:
                self.on_error(self._error)
            except RuntimeError:  # the window that listened is gone
                pass


def _audit_values(row: AuditRow) -> tuple[Any, ...]:
    values = [_text(getattr(row, name)) for name in AuditRow.__slots__]
    values[AuditRow.__slots__.index("document")] = os.fsencode(row.document)
    return tuple(values)


def _merge(earlier: SessionChanges, later: SessionChanges) -> SessionChanges:
    if not earlier:
        return later
    documents = {d.key: d for d in earlier.documents}
    documents.update((d.key, d) for d in later.documents)
    order = later.order if later.order is not None else earlier.order
    return SessionChanges(tuple(documents.values()), order, earlier.steps + later.steps)


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
    key, source, language, edition, fixed, error, coding, unfinished, header, text, assignments = row
    result = None
    if header is not None:
        coded = json.loads(header)
        document = Document(coded["id"], bytes(text).decode("utf-8", "surrogatepass"), coded["language"],
                            coded["source"])
        result = DocumentResult(document, tuple(Assignment.from_dict(a) for a in json.loads(assignments)))
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


def _connect(path: Path) -> sqlite3.Connection:
    """A connection with the schema in place; _Damaged if the file is not our database."""
    connection = sqlite3.connect(path, timeout=10, isolation_level="DEFERRED")
    try:
        # Read before writing anything: another program's database is set aside unchanged.
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "meta" not in tables:
            raise _Damaged("not an icdlinker session database")
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        with connection:
            if not tables:
                connection.executescript(_SCHEMA)
                connection.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("format", FORMAT), ("created", datetime.now(UTC).isoformat(timespec="seconds"))])
            found = connection.execute("SELECT value FROM meta WHERE name = 'format'").fetchone()
            if found is None or found[0] != FORMAT:
                raise _Damaged(f"not an icdlinker session database (format {found[0] if found else None!r})")
    except sqlite3.DatabaseError as error:
        connection.close()
        raise _checked(error) from error
    except _Damaged:
        connection.close()
        raise
    return connection


def _checked(error: sqlite3.DatabaseError) -> Exception:
    """A corrupt file or not a database is damaged; anything else (locked, read-only) is not."""
    return _Damaged(str(error)) if getattr(error, "sqlite_errorname", "") in _DAMAGED else error


def _set_aside(path: Path, why: str = "damaged") -> Path:
    """Rename the file (and a database's -wal and -shm beside it) to ``*.damaged-<time>`` or
    ``*.migrated``, never over an earlier one; a database stays openable with its journal."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.{why}-{stamp}" if why == "damaged" else f"{path.name}.{why}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.{why}-{stamp}-{n}")
    for suffix in ("", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        if part.exists():
            os.replace(part, aside.with_name(aside.name + suffix))
    return aside


def _files(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("", "-wal", "-shm")]
