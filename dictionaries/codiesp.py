"""CodiEsp gold annotations and texts, read from the vendored copies.

Only DIAGNOSTICO rows are used.  A mention's text is the annotation's
text-reference column: for contiguous spans it folds to the same key as the
document slice (true for every train and dev row), and for discontinuous spans
it is the only text that joins the pieces.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from functools import cache

from engine.core.codes import normalize_code

from . import vendored as src

SPLITS = ("train", "dev")


def source_id(split: str) -> str:
    """Term-source id of a split ("codiesp-dev"), also the ``--exclude`` name."""
    return f"codiesp-{split}"


def split_of(source: str) -> str | None:
    """The split a term-source id names ("codiesp-dev" → "dev"), None for other sources."""
    split = source.removeprefix("codiesp-")
    return split if split in SPLITS else None


@dataclass(frozen=True)
class Mention:
    """One gold diagnosis annotation."""

    document: str
    code: str
    text: str
    span: str  # "start end[;start end]" as in the TSV


def _tsv_rows(name: str) -> list[list[str]]:
    """Rows of a vendored CodiEsp TSV (no quoting: mentions contain quotes)."""
    text = src.read_verified(name).decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE))


@cache
def mentions(split: str) -> tuple[Mention, ...]:
    """Gold DIAGNOSTICO mentions of a split, codes in canonical form."""
    return tuple(
        Mention(document, normalize_code(code), reference, span)
        for document, label, code, reference, span in _tsv_rows(f"codiesp-{split}X.tsv")
        if label == "DIAGNOSTICO"
    )


def gold_codes(split: str) -> set[str]:
    """Every diagnosis code of a split: mention codes and document-level codes."""
    document_codes = {normalize_code(code) for _, code in _tsv_rows(f"codiesp-{split}D.tsv")}
    return document_codes | {mention.code for mention in mentions(split)}


def texts(split: str) -> list[str]:
    """The split's document texts, in document-id order."""
    raw = src.gunzip_text(f"codiesp-{split}-texts.jsonl.gz")
    return [json.loads(line)["text"] for line in raw.splitlines() if line]
