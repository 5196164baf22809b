"""The data every stage passes on: documents, mentions, candidates, assignments.

Everything here round-trips through JSON (``to_dict`` / ``from_dict``) without
loss, because sessions are autosaved and results exported; later stages (LLM,
review) add to an Assignment rather than replacing it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from engine.core.codes import Edition

__all__ = [
    "Assignment",
    "Candidate",
    "Document",
    "DocumentResult",
    "Mention",
    "ReviewStatus",
    "Span",
    "Stage",
]


class Stage(StrEnum):
    """Which part of the pipeline chose a code."""

    DICTIONARY = "dictionary"  # unambiguous exact dictionary match
    SITE = "site"  # the site dictionary: what this workstation's coders decided for the term
    FUZZY = "fuzzy"  # best fuzzy candidate; always needs review
    LLM = "llm"
    USER = "user"


class ReviewStatus(StrEnum):
    PENDING = "pending"
    NEEDS_REVIEW = "needs_review"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CORRECTED = "corrected"


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """Half-open character range into the original document text."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"bad span {self.start}-{self.end}")


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    text: str
    language: str
    source: str | None = None  # path the text was read from, if any
    # What the coder must know about how the text was read ("[ICD-W101] … mixes two encodings").
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = {"id": self.id, "text": self.text, "language": self.language, "source": self.source}
        return {**data, "warnings": list(self.warnings)} if self.warnings else data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Document:
        return cls(data["id"], data["text"], data["language"], data.get("source"), tuple(data.get("warnings", ())))


@dataclass(frozen=True, slots=True)
class Mention:
    """A diagnosis mention: one or more spans (CodiEsp has discontinuous ones)."""

    spans: tuple[Span, ...]
    text: str

    def __post_init__(self) -> None:
        if not self.spans:
            raise ValueError("a mention needs at least one span")

    @classmethod
    def from_spans(cls, document_text: str, spans: list[tuple[int, int]] | tuple[Span, ...]) -> Mention:
        """Build a mention whose text is cut from the document (pieces joined by a space)."""
        ordered = tuple(sorted(s if isinstance(s, Span) else Span(*s) for s in spans))
        if ordered[-1].end > len(document_text):
            raise ValueError(f"span {ordered[-1].start}-{ordered[-1].end} beyond text end {len(document_text)}")
        return cls(ordered, " ".join(document_text[s.start : s.end] for s in ordered))

    @property
    def start(self) -> int:
        return self.spans[0].start

    @property
    def end(self) -> int:
        return self.spans[-1].end

    @property
    def span_text(self) -> str:
        """Spans in CodiEsp notation: ``start end[;start end]``."""
        return ";".join(f"{s.start} {s.end}" for s in self.spans)

    def to_dict(self) -> dict[str, Any]:
        return {"spans": [[s.start, s.end] for s in self.spans], "text": self.text}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Mention:
        return cls(tuple(Span(*pair) for pair in data["spans"]), data["text"])


@dataclass(frozen=True, slots=True)
class Candidate:
    """A code proposed for a mention, with where the proposal came from."""

    code: str
    edition: Edition
    title: str
    score: float
    source: str  # e.g. "dictionary:codiesp-train", "fuzzy:title"

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "edition": self.edition.value,
            "title": self.title,
            "score": self.score,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Candidate:
        return cls(data["code"], Edition(data["edition"]), data["title"], data["score"], data["source"])


@dataclass(frozen=True, slots=True)
class Assignment:
    """What the pipeline (or the coder) decided for one mention.

    ``code`` is None when nothing could be proposed; ``candidates`` always holds
    what later stages may choose from.
    """

    mention: Mention
    code: str | None
    edition: Edition
    title: str
    stage: Stage | None
    score: float
    evidence: str = ""  # e.g. the dictionary term that matched
    status: ReviewStatus = ReviewStatus.PENDING
    candidates: tuple[Candidate, ...] = ()
    provenance: dict[str, Any] = field(default_factory=dict)

    def with_changes(self, **changes: Any) -> Assignment:
        return replace(self, **changes)

    @property
    def settled(self) -> bool:
        """Decided by a dictionary (bundled, or the site's without a conflict) or by the coder:
        the LLM stage leaves it alone."""
        if self.stage is Stage.SITE:
            return "site_conflict" not in self.provenance
        return self.stage in (Stage.DICTIONARY, Stage.USER)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mention": self.mention.to_dict(),
            "code": self.code,
            "edition": self.edition.value,
            "title": self.title,
            "stage": self.stage.value if self.stage else None,
            "score": self.score,
            "evidence": self.evidence,
            "status": self.status.value,
            "candidates": [c.to_dict() for c in self.candidates],
            "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Assignment:
        return cls(
            mention=Mention.from_dict(data["mention"]),
            code=data["code"],
            edition=Edition(data["edition"]),
            title=data["title"],
            stage=Stage(data["stage"]) if data["stage"] else None,
            score=data["score"],
            evidence=data["evidence"],
            status=ReviewStatus(data["status"]),
            candidates=tuple(Candidate.from_dict(c) for c in data["candidates"]),
            provenance=data["provenance"],
        )


@dataclass(frozen=True, slots=True)
class DocumentResult:
    """One document's outcome; ``error`` is set (and assignments empty) when it failed.

    ``confirmed_empty``: the coder confirmed that a document without mentions has nothing to
    code (until then "no mentions found" is a finding to check, not a finished review)."""

    document: Document
    assignments: tuple[Assignment, ...] = ()
    error: str | None = None
    confirmed_empty: bool = False

    def to_dict(self) -> dict[str, Any]:
        confirmed = {"confirmed_empty": True} if self.confirmed_empty else {}
        return {
            "document": self.document.to_dict(),
            "assignments": [a.to_dict() for a in self.assignments],
            "error": self.error,
            **confirmed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DocumentResult:
        return cls(
            Document.from_dict(data["document"]),
            tuple(Assignment.from_dict(a) for a in data["assignments"]),
            data["error"],
            bool(data.get("confirmed_empty")),
        )
