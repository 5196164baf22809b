"""A multi-megabyte clinical document for the window's big-document test and benchmark.

Real CodiEsp texts (train, then background) one after another, as a scanned
record or a year of notes pasted into one file would be; where the data is not
there, the bundled Spanish samples.  Coded by the real pipeline.
"""

from __future__ import annotations

from itertools import cycle
from pathlib import Path

from engine.coding import Coder, CodingEvent, CodingRequest
from engine.core.model import Document, DocumentResult
from engine.core.progress import CancelToken
from engine.core.resources import resources_dir
from engine.records.settings import AppSettings

__all__ = ["clinical_text", "coded"]

CODIESP = Path(__file__).resolve().parents[2] / "shared" / "data" / "codiesp"


def clinical_text(size: int) -> str:
    """About ``size`` bytes (UTF-8) of clinical text, documents separated by a blank line."""
    files = [path for part in ("train", "background")
             for path in sorted((CODIESP / part / "text_files").glob("*.txt"))]
    files = files or sorted((resources_dir() / "samples" / "es").glob("*.txt"))
    parts, total = [], 0
    for path in cycle(files):
        if total >= size:
            break
        parts.append(path.read_text(encoding="utf-8"))
        total += len(parts[-1].encode("utf-8")) + 2
    return "\n\n".join(parts)


def coded(text: str, name: str = "big") -> DocumentResult:
    """``text`` coded as the window codes a Spanish document with default settings (no model)."""
    events: list[CodingEvent] = []
    Coder(AppSettings()).code([CodingRequest(name, Document(name, text, "es"), language="es")], CancelToken(),
                              events.append)
    return events[-1].result
