"""CSV and JSON export, written atomically so a failure loses nothing.

Two CSV presets: ``full`` keeps every mention with its provenance (for audit
and for re-importing into review); ``registry`` is what a registry takes: one
row per distinct code of a document.  Where an export goes is checked before
the work that fills it (``check_writable``), so a batch of 100,000 files does
not fail at its very end; a device or pipe (``/dev/stdout``) is written to, never
replaced by a file.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from engine.core.atomic import stat_or_none, write_atomic, write_text_atomic
from engine.core.errors import ExportError
from engine.core.model import Assignment, DocumentResult, ReviewStatus

__all__ = [
    "CSV_COLUMNS",
    "REGISTRY_COLUMNS",
    "ExportOptions",
    "ExportPreset",
    "check_writable",
    "csv_rows",
    "write_csv",
    "write_json",
    "write_text",
]

CSV_COLUMNS = (
    "document", "spans", "mention", "code", "edition", "title", "stage", "score", "status",
    "evidence", "candidates", "provenance",
)
REGISTRY_COLUMNS = ("document", "code", "edition", "title", "status")

_FINAL = (ReviewStatus.ACCEPTED, ReviewStatus.CORRECTED)
# For a registry row that stands for several mentions: the most settled status wins.
_STATUS_RANK = {
    ReviewStatus.CORRECTED: 4, ReviewStatus.ACCEPTED: 3, ReviewStatus.NEEDS_REVIEW: 2,
    ReviewStatus.PENDING: 1, ReviewStatus.REJECTED: 0,
}


class ExportPreset(StrEnum):
    FULL = "full"
    REGISTRY = "registry"


@dataclass(frozen=True, slots=True)
class ExportOptions:
    preset: ExportPreset = ExportPreset.FULL
    only_accepted: bool = False  # only accepted and corrected codes
    excel_bom: bool = False  # a UTF-8 byte-order mark, so Excel reads accents right
    delimiter: str = ","  # ";" for Excel in most European locales

    @property
    def columns(self) -> tuple[str, ...]:
        return REGISTRY_COLUMNS if self.preset is ExportPreset.REGISTRY else CSV_COLUMNS


def csv_rows(results: Iterable[DocumentResult], options: ExportOptions = ExportOptions()) -> list[list[str]]:
    """The rows under ``options.columns``, in document then text order."""
    return list(_iter_rows(results, options))


def _iter_rows(results: Iterable[DocumentResult], options: ExportOptions) -> Iterator[list[str]]:
    """The rows one document at a time: a CSV of a 20 MB document is written without holding all of it."""
    for result in results:
        kept = [
            a for a in sorted(result.assignments, key=lambda a: a.mention.spans)
            if not options.only_accepted or a.status in _FINAL
        ]
        if options.preset is ExportPreset.REGISTRY:
            yield from _registry_rows(result.document.id, kept)
        else:
            yield from (_full_row(result.document.id, a) for a in kept)


def _full_row(document_id: str, a: Assignment) -> list[str]:
    return [
        document_id, a.mention.span_text, a.mention.text, a.code or "", a.edition.value, a.title,
        a.stage.value if a.stage else "", f"{a.score:.3f}", a.status.value, a.evidence,
        " ".join(f"{c.code}:{c.score:.2f}" for c in a.candidates),
        json.dumps(a.provenance, ensure_ascii=False, sort_keys=True) if a.provenance else "",
    ]


def _registry_rows(document_id: str, assignments: list[Assignment]) -> list[list[str]]:
    best: dict[str, Assignment] = {}
    for a in assignments:
        if a.code is None or a.status is ReviewStatus.REJECTED:
            continue
        if a.code not in best or _STATUS_RANK[a.status] > _STATUS_RANK[best[a.code].status]:
            best[a.code] = a
    return [[document_id, a.code or "", a.edition.value, a.title, a.status.value] for a in best.values()]


def write_csv(path: Path, results: Iterable[DocumentResult], options: ExportOptions = ExportOptions()) -> int:
    """Write the CSV; returns the number of rows.  Raises ExportError, leaving any old file as it was.

    A character no encoding can write (a file name's undecodable byte) becomes a visible ``?``.
    """
    written = 0

    def write(stream: TextIO) -> None:
        nonlocal written
        writer = csv.writer(stream, delimiter=options.delimiter, lineterminator="\r\n" if options.excel_bom else "\n")
        writer.writerow(options.columns)
        for row in _iter_rows(results, options):
            writer.writerow(row)
            written += 1

    try:
        write_atomic(path, write, "utf-8-sig" if options.excel_bom else "utf-8", errors="replace")
    except OSError as error:
        raise _export_error(path, error) from error
    return written


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
