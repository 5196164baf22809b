"""CSV and JSON export, written atomically so a failure loses nothing.

Three CSV presets: ``full`` keeps every mention with its provenance (for audit
and for re-importing into review); ``registry`` is what a registry takes: one
row per distinct code of a document, accepted and corrected codes only unless
asked otherwise (the summary says how many were left out); ``tumour`` is what a
cancer registry takes: one row per tumour, ICD-10 with ICD-O-3 topography and
morphology (``engine.records.tumour_export``), accepted codes only likewise.  ``document`` is a
stable id that stays unique across folders (the file's name and a hash of its
resolved path; the path has its own column); ``provenance`` is JSON of the stage,
evidence, model and the coders' decisions from the session's audit rows.
New columns go at the end, so readers by position keep working; ``language`` (the language
the document was coded in: its dictionary, and the titles') sits beside ``edition``, which
it completes.  Where an export goes is checked before
the work that fills it (``check_writable``), so a batch of 100,000 files does
not fail at its very end; a device or pipe (``/dev/stdout``) is written to, never
replaced by a file.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from engine.core.atomic import stat_or_none, write_atomic, write_text_atomic
from engine.core.errors import ExportError
from engine.core.model import Assignment, Document, DocumentResult, ReviewStatus
from engine.records.audit_log import AuditLog, Decision
from engine.records.tumour_export import TUMOUR_COLUMNS, tumour_rows
from engine.terms.catalog import Catalog

__all__ = [
    "CSV_COLUMNS",
    "REGISTRY_COLUMNS",
    "TUMOUR_COLUMNS",
    "ExportOptions",
    "ExportPreset",
    "ExportSummary",
    "check_writable",
    "csv_rows",
    "document_key",
    "export_id",
    "write_csv",
    "write_json",
    "write_text",
]

CSV_COLUMNS = (
    "document", "spans", "mention", "code", "edition", "language", "title", "stage", "score", "status",
    "evidence", "candidates", "provenance", "path",
)
REGISTRY_COLUMNS = ("document", "code", "edition", "language", "title", "status", "path")

_FINAL = (ReviewStatus.ACCEPTED, ReviewStatus.CORRECTED)
# For a registry row that stands for several mentions: the most settled status wins.
_STATUS_RANK = {
    ReviewStatus.CORRECTED: 4, ReviewStatus.ACCEPTED: 3, ReviewStatus.NEEDS_REVIEW: 2,
    ReviewStatus.PENDING: 1, ReviewStatus.REJECTED: 0,
}


class ExportPreset(StrEnum):
    FULL = "full"
    REGISTRY = "registry"
    TUMOUR = "tumour"


@dataclass(frozen=True, slots=True)
class ExportOptions:
    preset: ExportPreset = ExportPreset.FULL
    # Only accepted and corrected codes; None: the preset's default (the registry's: yes).
    only_accepted: bool | None = None
    excel_bom: bool = False  # a UTF-8 byte-order mark, so Excel reads accents right
    delimiter: str = ","  # ";" for Excel in most European locales

    @property
    def columns(self) -> tuple[str, ...]:
        return {ExportPreset.REGISTRY: REGISTRY_COLUMNS, ExportPreset.TUMOUR: TUMOUR_COLUMNS}.get(
            self.preset, CSV_COLUMNS
        )

    @property
    def accepted_only(self) -> bool:
        if self.only_accepted is None:
            return self.preset in (ExportPreset.REGISTRY, ExportPreset.TUMOUR)
        return self.only_accepted


@dataclass(slots=True)
class ExportSummary:
    """What an export wrote, and what the accepted-only rule left out (codes or mentions)."""

    rows: int = 0
    left_out: int = 0
    unit: str = "mentions"  # what a row is: "mentions" (full) or "codes" (registry)

    def count(self, rows: int) -> str:
        """"12 codes", "1 tumour": so many rows of this export."""
        return f"{rows} {self.unit.removesuffix('s') if rows == 1 else self.unit}"

    def left_out_text(self) -> str:
        """"3 codes not yet accepted were left out"."""
        return f"{self.count(self.left_out)} not yet accepted {'was' if self.left_out == 1 else 'were'} left out"

    def describe(self) -> str:
        """"12 codes written; 3 codes not yet accepted were left out"."""
        return f"{self.count(self.rows)} written" + (f"; {self.left_out_text()}" if self.left_out else "")


def document_key(document: Document) -> str:
    """The document as the session keys it: its resolved path, or its id for a pasted text."""
    return str(Path(document.source).resolve()) if document.source else document.id


def export_id(document: Document) -> str:
    """A stable id unique across folders: the file's name and 8 hex digits of its resolved path's
    SHA-256 (``urgencias~1a2b3c4d``); a pasted text keeps its id."""
    if not document.source:
        return document.id
    digest = hashlib.sha256(os.fsencode(document_key(document))).hexdigest()[:8]
    return f"{document.id}~{digest}"


def _printable(path: str) -> str:
    """A path as the ids print it: bytes that are not UTF-8 become U+FFFD (the CSV must be writable)."""
    return os.fsencode(path).decode("utf-8", "replace")


def csv_rows(results: Iterable[DocumentResult], options: ExportOptions = ExportOptions(),
             audit: AuditLog | None = None) -> list[list[str]]:
    """The rows under ``options.columns``, in document then text order."""
    return list(_iter_rows(results, options, audit or AuditLog(), ExportSummary()))


def _iter_rows(results: Iterable[DocumentResult], options: ExportOptions, audit: AuditLog,
               summary: ExportSummary) -> Iterator[list[str]]:
    """The rows one document at a time: a CSV of a 20 MB document is written without holding all of it."""
    for result in results:
        document = result.document
        ordered = sorted(result.assignments, key=lambda a: a.mention.spans)
        kept = [a for a in ordered if not options.accepted_only or a.status in _FINAL]
        ids = _Ids(export_id(document), _printable(document.source or ""), document.language)
        if options.preset is ExportPreset.REGISTRY:
            rows = _registry_rows(ids, kept)
            summary.left_out += len({a.code for a in ordered if a.code and a.status is not ReviewStatus.REJECTED}
                                    - {row[1] for row in rows})
        elif options.preset is ExportPreset.TUMOUR:
            topography = Catalog.bundled_topography()
            rows = tumour_rows(ids, kept, topography, _evidence)
            if len(kept) < len(ordered):  # the tumours that unticking "only accepted" adds, not every open code
                summary.left_out += max(0, len(tumour_rows(ids, ordered, topography, _evidence)) - len(rows))
        else:
            key = document_key(document)
            rows = [_full_row(ids, a, audit.decisions(key, a.mention.spans, a.edition)) for a in kept]
            summary.left_out += len(ordered) - len(kept)
        summary.rows += len(rows)
        yield from rows


class _Ids(NamedTuple):
    """What every row of a document repeats."""

    document: str
    path: str
    language: str


def _evidence(a: Assignment) -> str:
    """A mention as the tumour preset shows its evidence: ``"adenocarcinoma" @120 134``."""
    return f'"{a.mention.text}" @{a.mention.span_text}'


def _full_row(ids: _Ids, a: Assignment, decisions: list[Decision]) -> list[str]:
    return [
        ids.document, a.mention.span_text, a.mention.text, a.code or "", a.edition.value, ids.language, a.title,
        a.stage.value if a.stage else "", f"{a.score:.3f}", a.status.value, a.evidence,
        " ".join(f"{c.code}:{c.score:.2f}" for c in a.candidates),
        json.dumps(_provenance(a, decisions), ensure_ascii=False, sort_keys=True), ids.path,
    ]


def _provenance(a: Assignment, decisions: list[Decision]) -> dict[str, Any]:
    """Who proposed the code and how (stage, evidence, model), and who decided it and when."""
    provenance: dict[str, Any] = {**a.provenance, "stage": a.stage.value if a.stage else None,
                                  "evidence": a.evidence}
    for name in ("model", "model_sha256", "prompt_version"):  # the audit rows keep the model asked
        if not provenance.get(name):
            known = next((value for d in reversed(decisions) if (value := getattr(d, name))), None)
            if known:
                provenance[name] = known
    if decisions:
        provenance["coder"], provenance["decided_at"] = decisions[-1].coder, decisions[-1].at
        provenance["decisions"] = [d.to_dict() for d in decisions]
    return provenance


def _registry_rows(ids: _Ids, assignments: list[Assignment]) -> list[list[str]]:
    best: dict[str, Assignment] = {}
    for a in assignments:
        if a.code is None or a.status is ReviewStatus.REJECTED:
            continue
        if a.code not in best or _STATUS_RANK[a.status] > _STATUS_RANK[best[a.code].status]:
            best[a.code] = a
    return [[ids.document, a.code or "", a.edition.value, ids.language, a.title, a.status.value, ids.path]
            for a in best.values()]


def write_csv(path: Path, results: Iterable[DocumentResult], options: ExportOptions = ExportOptions(),
              audit: AuditLog | None = None) -> ExportSummary:
    """Write the CSV; returns what was written and left out.  Raises ExportError, leaving any old
    file as it was.  ``audit``: the session's decisions, for the provenance column.

    A character no encoding can write (a file name's undecodable byte) becomes a visible ``?``.
    """
    unit = {ExportPreset.REGISTRY: "codes", ExportPreset.TUMOUR: "tumours"}.get(options.preset, "mentions")
    summary = ExportSummary(unit=unit)

    def write(stream: TextIO) -> None:
        writer = csv.writer(stream, delimiter=options.delimiter, lineterminator="\r\n" if options.excel_bom else "\n")
        writer.writerow(options.columns)
        writer.writerows(_iter_rows(results, options, audit or AuditLog(), summary))

    try:
        write_atomic(path, write, "utf-8-sig" if options.excel_bom else "utf-8", errors="replace")
    except OSError as error:
        raise _export_error(path, error) from error
    return summary


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """A JSON export (e.g. a whole review session), atomically."""
    write_text(path, json.dumps(payload, ensure_ascii=False, indent=1))


def write_text(path: Path, text: str, encoding: str = "utf-8", errors: str = "strict") -> None:
    """``write_text_atomic`` for an export: any failure is an ExportError saying what to do."""
    try:
        write_text_atomic(path, text, encoding, errors)
    except OSError as error:
        raise _export_error(path, error) from error


def check_writable(path: Path) -> None:
    """Raise ExportError now if ``path`` cannot be written, before the work that would fill it."""
    try:
        info = stat_or_none(path)
        if info is not None and not stat.S_ISREG(info.st_mode):
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectoryError(errno.EISDIR, "it is a folder, not a file")
            if not os.access(path, os.W_OK):
                raise PermissionError(errno.EACCES, "permission denied")
            return
        folder = Path(os.path.realpath(path)).parent
        if not folder.is_dir():
            raise FileNotFoundError(errno.ENOENT, f"the folder {folder} does not exist")
        handle, probe = tempfile.mkstemp(prefix=".icdlinker-probe.", dir=folder)  # proves the folder takes files
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise _export_error(path, error) from error


def _export_error(path: Path, error: OSError) -> ExportError:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return ExportError(f"could not write {path}: the disk is full; the previous file, if any, is untouched")
    if error.errno == errno.EFBIG:
        return ExportError(f"could not write {path}: the file is larger than this disk or account allows")
    return ExportError(f"could not write {path}: {error.strerror or error}")
