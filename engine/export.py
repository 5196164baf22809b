"""CSV and JSON export, written atomically so a failure loses nothing.

Two CSV presets: ``full`` keeps every mention with its provenance (for audit
and for re-importing into review); ``registry`` is what a registry takes: one
row per distinct code of a document.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from engine.errors import ExportError
from engine.model import Assignment, DocumentResult, ReviewStatus

__all__ = [
    "CSV_COLUMNS",
    "REGISTRY_COLUMNS",
    "ExportOptions",
    "ExportPreset",
    "csv_rows",
    "write_csv",
    "write_json",
    "write_text_atomic",
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
    rows = []
    for result in results:
        kept = [
            a for a in sorted(result.assignments, key=lambda a: a.mention.spans)
            if not options.only_accepted or a.status in _FINAL
        ]
        if options.preset is ExportPreset.REGISTRY:
            rows.extend(_registry_rows(result.document.id, kept))
        else:
            rows.extend(_full_row(result.document.id, a) for a in kept)
    return rows


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
    """Write the CSV; returns the number of rows.  Raises ExportError, leaving any old file as it was."""
    rows = csv_rows(results, options)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=options.delimiter, lineterminator="\r\n" if options.excel_bom else "\n")
    writer.writerow(options.columns)
    writer.writerows(rows)
    _write(path, buffer.getvalue(), "utf-8-sig" if options.excel_bom else "utf-8")
    return len(rows)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """A JSON export (e.g. a whole review session), atomically."""
    _write(path, json.dumps(payload, ensure_ascii=False, indent=1), "utf-8")


def _write(path: Path, text: str, encoding: str) -> None:
    try:
        write_text_atomic(path, text, encoding)
    except OSError as error:
        raise ExportError(f"could not write {path}: {error.strerror or error}") from error


def write_text_atomic(path: Path, text: str, encoding: str = "utf-8") -> None:
    """Replace ``path`` only once the new content is fully on disk."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding=encoding, newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
