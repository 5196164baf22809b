"""The site dictionary on disk: lessons in the session database, and the file sites share.

Every review decision that gives a mention a code, rejects it, or takes either back (an undo,
a change of mind) becomes a *lesson* row linked to its audit row; edits in the site dictionary
view and imports from other workstations are lessons too.  A term's counts are the sum of its
lessons, so undo un-teaches exactly what the action taught and nothing is ever rewritten.

Tables (beside ``documents`` and ``decisions``, see ``engine.records.session_rows``)::

    site_lessons(
        id INTEGER PRIMARY KEY,
        at TEXT,            -- when the decision was made (ISO 8601, UTC)
        language TEXT, edition TEXT,
        key TEXT,           -- engine.terms.site_dictionary.site_key(term, language)
        term TEXT,          -- the mention's words; never the text around them
        code TEXT,          -- NULL: "not a diagnosis here"
        weight INTEGER,     -- +1 taught, -1 taken back; an import adds its counts
        decision INTEGER,   -- decisions.id that taught it (NULL for edits and imports)
        origin TEXT)        -- review | edit | import:<sha256 of the file>

The shared file is JSON (``icdlinker-site-dictionary-1``): per term its words, codes with
counts, rejections, first and last use.  It holds no document text, no file names, no coder names.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.core.atomic import write_text_atomic
from engine.core.codes import Edition, canonical_code
from engine.core.errors import SiteDictionaryError
from engine.core.model import ReviewStatus
from engine.records.audit import AuditRow
from engine.terms.dictionary import LANGUAGES
from engine.terms.site_dictionary import (
    SITE_KEY_VERSION,
    KeyRule,
    Lesson,
    SiteDictionary,
    SiteEntry,
    site_key,
)

__all__ = [
    "FILE_FORMAT",
    "SITE_SCHEMA",
    "ImportReport",
    "LessonRecord",
    "SiteDictionaries",
    "edit_lessons",
    "export_site",
    "history",
    "imported_before",
    "insert_lessons",
    "lessons_from",
    "load_site",
    "read_site_file",
]

FILE_FORMAT = "icdlinker-site-dictionary-1"
SITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS site_lessons (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, language TEXT NOT NULL, edition TEXT NOT NULL, key TEXT NOT NULL,
    term TEXT NOT NULL, code TEXT, weight INTEGER NOT NULL, decision INTEGER, origin TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS site_lessons_by_key ON site_lessons (language, edition, key);
CREATE INDEX IF NOT EXISTS site_lessons_by_origin ON site_lessons (origin);
"""
_INSERT = ("INSERT INTO site_lessons (at, language, edition, key, term, code, weight, decision, origin) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
_PRIVACY = ("Mention words and the codes coders gave them, with counts and dates only: no document text, "
            "no file names, no coder names.")
_MAX_FILE_BYTES = 200_000_000
_MAX_TERM_CHARS = 300
_MAX_COUNT = 10_000_000
_DECIDED = {ReviewStatus.ACCEPTED.value, ReviewStatus.CORRECTED.value}


class SiteDictionaries:
    """The site dictionary of every language and edition, created empty when first asked for."""

    def __init__(self, dictionaries: Iterable[SiteDictionary] = (), key_rule: KeyRule = KeyRule()) -> None:
        self._by_scope = {(d.language, d.edition): d for d in dictionaries}
        self._lock = threading.Lock()
        self.key_rule = key_rule  # for dictionaries created from now on (benchmarks compare rules)

    def get(self, language: str, edition: Edition) -> SiteDictionary:
        with self._lock:
            found = self._by_scope.get((language, edition))
            if found is None:
                found = SiteDictionary(language, edition, key_rule=self.key_rule)
                self._by_scope[(language, edition)] = found
            return found

    def all(self) -> list[SiteDictionary]:
        with self._lock:
            return [d for _, d in sorted(self._by_scope.items(), key=lambda item: (item[0][0], item[0][1].value))]

    def __len__(self) -> int:
        return sum(len(d) for d in self.all())

    def learn(self, lessons: Iterable[Lesson]) -> None:
        by_scope: dict[tuple[str, Edition], list[Lesson]] = {}
        for lesson in lessons:
            by_scope.setdefault((lesson.language, lesson.edition), []).append(lesson)
        for (language, edition), scoped in by_scope.items():
            self.get(language, edition).learn(scoped)


def _decision(code: str | None, status: str | None) -> tuple[bool, str | None] | None:
    """What a mention's state says the coder decided: (True, code), (True, None) for a rejection, or None."""
    if status == ReviewStatus.REJECTED.value:
        return True, None
    if status in _DECIDED and code:
        return True, code
    return None


def lessons_from(row: AuditRow, language: str) -> list[Lesson]:
    """The lessons of one audit row: the decision the mention had is taken back, the new one taught.

    An undo row runs from the action's result back to what was there, so it un-teaches by the
    same rule; a delete takes back what the deleted mention had taught.
    """
    before = _decision(row.code_before, row.status_before)
    after = _decision(row.code_after, row.status_after)
    if before == after:
        return []
    edition = Edition(row.edition)
    lessons = []
    if before is not None:
        lessons.append(Lesson(language, edition, row.mention, before[1], -1, row.at))
    if after is not None:
        lessons.append(Lesson(language, edition, row.mention, after[1], 1, row.at))
    return lessons


def insert_lessons(connection: sqlite3.Connection, lessons: Iterable[Lesson], decision: int | None = None) -> None:
    connection.executemany(_INSERT, [
        (lesson.at, lesson.language, lesson.edition.value, lesson.key, lesson.term, lesson.code, lesson.weight,
         decision, lesson.origin) for lesson in lessons
    ])


def load_site(connection: sqlite3.Connection) -> SiteDictionaries:
    """Every learned term, summed from its lessons; keys are worked out again after a key-rule change."""
    found = connection.execute("SELECT value FROM meta WHERE name = 'site_key_version'").fetchone()
    if found is None or found[0] != str(SITE_KEY_VERSION):
        with connection:
            rows = connection.execute("SELECT id, term, language FROM site_lessons").fetchall()
            connection.executemany("UPDATE site_lessons SET key = ? WHERE id = ?",
                                   [(site_key(term, language), id_) for id_, term, language in rows])
            connection.execute("INSERT OR REPLACE INTO meta VALUES ('site_key_version', ?)", (str(SITE_KEY_VERSION),))
    entries: dict[tuple[str, str, str], dict[str, Any]] = {}
    for language, edition, key, code, count, first, last in connection.execute(
        "SELECT language, edition, key, code, SUM(weight), MIN(at), MAX(at) FROM site_lessons "
        "GROUP BY language, edition, key, code"
    ):
        entry = entries.setdefault((language, edition, key), {"codes": [], "rejected": 0, "first": first,
                                                                "last": last})
        entry["first"], entry["last"] = min(entry["first"], first), max(entry["last"], last)
        if count > 0:
            if code is None:
                entry["rejected"] = count
            else:
                entry["codes"].append((code, count))
    displays = dict(((language, edition, key), term) for language, edition, key, term in connection.execute(
        "SELECT language, edition, key, term FROM site_lessons WHERE weight > 0 ORDER BY id"
    ))
    scoped: dict[tuple[str, str], list[SiteEntry]] = {}
    for (language, edition, key), entry in entries.items():
        codes = tuple(sorted(entry["codes"], key=lambda item: (-item[1], item[0])))
        if codes or entry["rejected"]:
            scoped.setdefault((language, edition), []).append(SiteEntry(
                key, displays.get((language, edition, key), key), codes, entry["rejected"], entry["first"],
                entry["last"]))
    return SiteDictionaries(SiteDictionary(language, Edition(edition), found)
                            for (language, edition), found in scoped.items())


@dataclass(frozen=True, slots=True)
class LessonRecord:
    """Where a term was learned: one lesson with the decision behind it, for the site dictionary view."""

    at: str
    term: str
    code: str | None
    weight: int
    origin: str
    document: str | None  # the document the decision was made in (review lessons only)
    coder: str | None


def history(path: Path, language: str, edition: Edition, key: str, limit: int = 200) -> list[LessonRecord]:
    """The lessons of one term, newest first, read on a connection of its own (the writer keeps writing)."""
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        rows = connection.execute(
            "SELECT l.at, l.term, l.code, l.weight, l.origin, d.document, d.coder FROM site_lessons l "
            "LEFT JOIN decisions d ON d.id = l.decision WHERE l.language = ? AND l.edition = ? AND l.key = ? "
            "ORDER BY l.id DESC LIMIT ?", (language, edition.value, key, limit)).fetchall()
    finally:
        connection.close()
    return [LessonRecord(at, term, code, weight, origin, _path_text(document), coder)
            for at, term, code, weight, origin, document, coder in rows]


def _path_text(value: bytes | str | None) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def edit_lessons(dictionary: SiteDictionary, entry: SiteEntry, code: str | None = None) -> list[Lesson]:
    """Lessons that take back everything ``entry`` holds and, given ``code``, settle it on that code."""
    at = _now()
    lessons = [Lesson(dictionary.language, dictionary.edition, entry.display, c, -n, at, "edit")
               for c, n in entry.codes]
    if entry.rejected:
        lessons.append(Lesson(dictionary.language, dictionary.edition, entry.display, None, -entry.rejected, at,
                              "edit"))
    if code is not None:
        lessons.append(Lesson(dictionary.language, dictionary.edition, entry.display, code, 1, at, "edit"))
    return lessons


def export_site(site: SiteDictionaries, path: Path) -> int:
    """Write every learned term to ``path`` (atomically); returns how many terms were written."""
    terms = [
        {"language": d.language, "edition": d.edition.value, "term": entry.display, "codes": dict(entry.codes),
         "rejected": entry.rejected, "first": entry.first, "last": entry.last}
        for d in site.all() for entry in sorted(d.entries(), key=lambda e: e.key)
    ]
    payload = {"format": FILE_FORMAT, "privacy": _PRIVACY, "exported": _now(), "terms": terms}
    try:
        write_text_atomic(path, json.dumps(payload, ensure_ascii=False, indent=1) + "\n")
    except OSError as error:
        raise SiteDictionaryError(f"could not write {path}: {error.strerror or error}",
                                  hint="Choose a folder you can write to, or free some disk space.") from error
    return len(terms)


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import would add, and the terms where it disagrees with what this workstation learned."""

    origin: str
    lessons: tuple[Lesson, ...]
    terms: int
    new_terms: int
    conflicts: tuple[tuple[str, str, str, str], ...]  # (language, term, code here, code in the file)


def read_site_file(path: Path, site: SiteDictionaries) -> ImportReport:
    """Check a shared file entirely and work out its lessons; raises SiteDictionaryError, changing nothing."""
    data = _read_json(path)
    origin = "import:" + hashlib.sha256(data).hexdigest()
    try:
        # A Python hook per term lets the window's thread run while a large file parses.
        payload = json.loads(data.decode("utf-8-sig"), object_hook=_switch_point)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise _bad(path, f"not JSON ({str(error)[:120]})") from None
    if not isinstance(payload, dict) or payload.get("format") != FILE_FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else None
        raise _bad(path, f"not an icdlinker site dictionary (format {found!r}, expected {FILE_FORMAT!r})")
    terms = payload.get("terms")
    if not isinstance(terms, list):
        raise _bad(path, "'terms' must be a list")
    lessons: list[Lesson] = []
    new_terms, conflicts = 0, []
    for number, term in enumerate(terms, start=1):
        language, edition, words, codes, rejected, last = _checked_term(path, number, term)
        here = site.get(language, edition)
        known = here.lookup(words)  # through its stem cache: a file repeats its words
        if known is None:
            new_terms += 1
        elif codes and known.codes:
            theirs = max(codes.items(), key=lambda item: (item[1], item[0]))[0]
            if known.codes[0][0] != theirs:
                conflicts.append((language, words, known.codes[0][0], theirs))
        lessons += [Lesson(language, edition, words, code, n, last, origin) for code, n in codes.items()]
        if rejected:
            lessons.append(Lesson(language, edition, words, None, rejected, last, origin))
    return ImportReport(origin, tuple(lessons), len(terms), new_terms, tuple(conflicts))


def imported_before(path: Path, origin: str) -> bool:
    """Whether the same file (by content) was imported into the database at ``path`` already."""
    if str(path) == ":memory:" or not path.exists():
        return False
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        return connection.execute("SELECT 1 FROM site_lessons WHERE origin = ? LIMIT 1", (origin,)).fetchone() is not None
    except sqlite3.OperationalError:  # no site table yet
        return False
    finally:
        connection.close()


def _switch_point(value: dict[str, Any]) -> dict[str, Any]:
    return value


def _read_json(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > _MAX_FILE_BYTES:
            raise _bad(path, f"{size / 1e6:.0f} MB is larger than any site dictionary ({_MAX_FILE_BYTES / 1e6:.0f} MB)")
        with open(path, "rb") as stream:
            return stream.read(_MAX_FILE_BYTES + 1)
    except OSError as error:
        raise SiteDictionaryError(f"could not read {path}: {error.strerror or error}",
                                  hint="Check the file's name and permissions.") from None


def _checked_term(path: Path, number: int, term: Any) -> tuple[str, Edition, str, dict[str, int], int, str]:
    def fail(problem: str) -> SiteDictionaryError:
        return _bad(path, f"term {number}: {problem}")

    if not isinstance(term, dict):
        raise fail("not an object")
    language, edition, words = term.get("language"), term.get("edition"), term.get("term")
    if language not in LANGUAGES:
        raise fail(f"unknown language {language!r}")
    try:
        parsed_edition = Edition(edition)
    except ValueError:
        raise fail(f"unknown edition {edition!r}") from None
    if not isinstance(words, str) or not words.strip() or len(words) > _MAX_TERM_CHARS:
        raise fail("'term' must be the words of a mention (at most 300 characters)")
    codes, rejected = term.get("codes", {}), term.get("rejected", 0)
    if not isinstance(codes, dict) or not all(_is_count(n) for n in codes.values()) or not _is_count(rejected):
        raise fail("counts must be whole numbers from 0 to 10,000,000")
    try:
        normalized = {canonical_code(code): n for code, n in codes.items() if n}
    except (ValueError, AttributeError):
        raise fail(f"not an ICD code among {list(codes)[:5]}") from None
    last = term.get("last")
    if not isinstance(last, str) or not _is_time(last):
        raise fail("'last' must be a date and time (ISO 8601)")
    if not normalized and not rejected:
        raise fail("neither codes nor rejections")
    return language, parsed_edition, words, normalized, rejected, last


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_COUNT


def _is_time(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _bad(path: Path, problem: str) -> SiteDictionaryError:
    return SiteDictionaryError(f"{path} cannot be imported: {problem}; nothing was changed")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
