"""The review session on disk: one SQLite database, written a document at a time off the UI thread.

A review action writes that document's row and its audit rows, never the whole
session: the window hands ``SessionChanges`` (copies, immutable from then on)
to a writer thread that owns its own connection, serialises them and commits.
WAL with ``synchronous=NORMAL``: a killed process loses at most the transaction
being written; a power cut may lose the last commits but never the database.
A database or old ``session.json`` that cannot be read is renamed
``*.damaged-<time>`` (never overwritten) and a fresh session starts.

The tables and how rows are written are in ``engine.records.session_rows``.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty, SimpleQueue

from engine.core.errors import SessionError, SiteDictionaryError
from engine.records.session import ReviewSession, SessionChanges, default_session_path
from engine.records.session_rows import FORMAT, Damaged, SessionRows, checked, connect, read_documents
from engine.records.site_store import (
    ImportReport,
    SiteDictionaries,
    imported_before,
    load_site,
    read_site_file,
)
from engine.terms.site_dictionary import Lesson

__all__ = ["FORMAT", "OpenedSession", "SessionDatabase", "open_session", "read_session_json"]

log = logging.getLogger(__name__)

LEGACY_NAME = "session.json"


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
    except Damaged as error:
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
    except (Damaged, sqlite3.Error, OSError):
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
    connection = connect(building)
    try:
        SessionRows().write(connection, session.take_changes(everything=True))
        with connection:  # the file is renamed into place only after this: a kill before it migrates again
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
        self._connection: sqlite3.Connection | None = connect(path)
        self._queue: SimpleQueue[SessionChanges | threading.Event | None] = SimpleQueue()
        self._thread: threading.Thread | None = None
        self._rows = SessionRows()  # what is on disk
        self.site = SiteDictionaries()  # what the coders taught, kept in step with the database by the writer
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
                raise Damaged("; ".join(problems)[:300])
            for position, document in enumerate(read_documents(connection)):
                session.documents.append(document)
                self._rows.loaded(position, document)
                if document.coding:
                    document.coding = False
                    interrupted.append(document.key)
            self.site = load_site(connection)
        except sqlite3.DatabaseError as error:
            raise checked(error) from error
        except (ValueError, KeyError, TypeError, RecursionError) as error:
            raise Damaged(f"a document row could not be read: {str(error)[:200]}") from error
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

    def check_site_file(self, path: Path) -> ImportReport:
        """What merging a site dictionary file shared by another workstation would add; changes nothing.

        The file is checked entirely: a damaged or foreign one, or one imported here before,
        raises SiteDictionaryError.
        """
        self.flush()  # an import just made is on disk, so it is found below
        report = read_site_file(path, self.site)
        if imported_before(self.path, report.origin):
            raise SiteDictionaryError(
                f"{path.name} was imported into this workstation before; importing it again would count its "
                "decisions twice, so nothing was changed",
                hint="Ask the other workstation for a new export to share what it learned since.")
        return report

    def teach(self, lessons: Iterable[Lesson]) -> None:
        """Write lessons that come from no review step (edits, imports) and wait until they are learned."""
        self.submit(SessionChanges(lessons=tuple(lessons)))
        self.flush()

    def import_site_file(self, path: Path) -> ImportReport:
        """Check a shared site dictionary file, then merge it: its counts add to what was learned here."""
        report = self.check_site_file(path)
        self.teach(report.lessons)
        return report

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
                    connection = connection or connect(self.path)
                    lessons = self._rows.write(connection, pending)
                except Exception as error:  # a disk error or a bug: report it, keep the changes, keep going
                    if not isinstance(error, (sqlite3.Error, OSError, Damaged)):
                        log.exception("writing the session failed")
                    self._failed(error)
                else:
                    pending, self._error = SessionChanges(), None
                    self.site.learn(lessons)
            for event in waiting:
                event.set()
            if stop:
                break
        if connection is not None:
            connection.close()

    def _failed(self, error: BaseException) -> None:
        first = self._error is None
        self._error = SessionError(f"could not save the review session to {self.path}: {error}")
        log.warning("%s", self._error)
        if first and self.on_error is not None:
            try:
                self.on_error(self._error)
            except RuntimeError:  # the window that listened is gone
                pass


def _merge(earlier: SessionChanges, later: SessionChanges) -> SessionChanges:
    if not earlier:
        return later
    documents = {d.key: d for d in earlier.documents}
    documents.update((d.key, d) for d in later.documents)
    order = later.order if later.order is not None else earlier.order
    return SessionChanges(tuple(documents.values()), order, earlier.steps + later.steps,
                          earlier.lessons + later.lessons)


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
