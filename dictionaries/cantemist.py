"""CANTEMIST gold tumour-morphology annotations and texts, read from the vendored copies.

Each split is one JSONL of ``{"id", "text", "ann"}`` with the brat file unchanged.  Every
``MORFOLOGIA_NEOPLASIA`` span carries one ``#N AnnotatorNotes`` eCIE-O-3.1 code, kept as
the annotators wrote it (``8000/6``, ``8140/33``, ``8010/3/H``): the official evaluation
compares whole codes.  CANTEMIST has no discontinuous spans.
"""

from __future__ import annotations

import json
from functools import cache

from engine.core.codes import normalize_morphology

from . import vendored as src
from .codiesp import Mention

SPLITS = ("train", "dev1", "dev2")  # the test split is held back by the maintainers
CITATION = (
    "Miranda-Escalada A., Farré E., Krallinger M. (2020). Named Entity Recognition, Concept "
    "Normalization and Clinical Coding: Overview of the Cantemist Track for Cancer Text Mining "
    "in Spanish, Corpus, Guidelines, Methods and Results. IberLEF 2020. Corpus: Zenodo 3978041"
)


def source_id(split: str) -> str:
    """Term-source id of a split ("cantemist-dev2"), also the ``--exclude`` name."""
    return f"cantemist-{split}"


def split_of(source: str) -> str | None:
    """The split a term-source id names ("cantemist-dev2" → "dev2"), None for other sources."""
    split = source.removeprefix("cantemist-")
    return split if split in SPLITS else None


@cache
def _documents(split: str) -> tuple[dict[str, str], ...]:
    raw = src.gunzip_text(f"cantemist-{split}.jsonl.gz")
    return tuple(json.loads(line) for line in raw.splitlines() if line)


@cache
def mentions(split: str) -> tuple[Mention, ...]:
    """Gold morphology mentions of a split: the text-bound span with its annotator's code."""
    found = []
    for document in _documents(split):
        spans: dict[str, tuple[str, str]] = {}
        for line in document["ann"].splitlines():
            fields = line.split("\t")
            if line.startswith("T") and len(fields) == 3:
                spans[fields[0]] = (fields[1].split(" ", 1)[1], fields[2])
            elif line.startswith("#") and len(fields) == 3 and fields[1].startswith("AnnotatorNotes "):
                span, text = spans[fields[1].split()[1]]
                found.append(Mention(document["id"], normalize_morphology(fields[2]), text, span))
    return tuple(found)


def gold_codes(split: str) -> set[str]:
    """Every morphology code of a split."""
    return {mention.code for mention in mentions(split)}


def annotated_texts(split: str) -> list[tuple[str, list[tuple[int, int]]]]:
    """Each document's text with its annotated spans, in document-id order."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for mention in mentions(split):
        start, end = mention.span.split()
        spans.setdefault(mention.document, []).append((int(start), int(end)))
    return [(document["text"], spans.get(document["id"], [])) for document in _documents(split)]


def texts(split: str) -> list[str]:
    """The split's document texts, in document-id order."""
    return [document["text"] for document in _documents(split)]


def document_texts(split: str) -> dict[str, str]:
    """The split's document texts by document id."""
    return {document["id"]: document["text"] for document in _documents(split)}
