"""CSV export of coding results, written atomically so a failure loses nothing."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from engine.model import DocumentResult

__all__ = ["CSV_COLUMNS", "csv_rows", "write_csv", "write_text_atomic"]

CSV_COLUMNS = ("document", "spans", "mention", "code", "edition", "title", "stage", "score", "status")


def csv_rows(results: Iterable[DocumentResult]) -> list[list[str]]:
    """One row per assignment, in document then text order."""
    rows = []
    for result in results:
        for a in sorted(result.assignments, key=lambda a: a.mention.spans):
            rows.append([
                result.document.id,
                a.mention.span_text,
                a.mention.text,
                a.code or "",
                a.edition.value,
                a.title,
                a.stage.value if a.stage else "",
                f"{a.score:.3f}",
                a.status.value,
            ])
    return rows


def write_csv(path: Path, results: Iterable[DocumentResult]) -> int:
    """Write the CSV (UTF-8); returns the number of rows."""
    rows = csv_rows(results)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    write_text_atomic(path, buffer.getvalue())
    return len(rows)


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
