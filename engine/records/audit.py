"""Review decisions as audit rows: who changed which mention from what to what, and on whose proposal.

The window hands over a ``ReviewStep`` (the result before and after one review
action, undo or redo); the session database's writer thread turns it into one
``AuditRow`` per mention that changed, so the UI thread does no diffing.  The
table these rows go into is documented in ``engine.records.session_db``; later work
(learning a site's decisions, exports with provenance) reads it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from engine.core.model import Assignment, DocumentResult, Span

__all__ = ["Action", "AuditRow", "ReviewStep", "Step", "audit_rows", "spans_key"]


class Action(StrEnum):
    """The review command a decision came from (stable names: they are stored)."""

    ACCEPT = "accept"
    REJECT = "reject"
    CHANGE_CODE = "change_code"
    ADD_MENTION = "add_mention"
    DELETE = "delete"
    ACCEPT_ALL = "accept_all"
    CONFIRM_NO_MENTIONS = "confirm_no_mentions"  # a document without mentions confirmed as having none


class Step(StrEnum):
    """The action done, undone or redone (an undo row's "before" is the action's "after")."""

    DO = "do"
    UNDO = "undo"
    REDO = "redo"


@dataclass(frozen=True, slots=True)
class ReviewStep:
    """One review action as the window applied it; immutable, so the UI thread only hands it over."""

    key: str
    action: Action
    step: Step
    before: DocumentResult
    after: DocumentResult
    coder: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One mention's decision; ``*_before`` are None for an added mention, ``*_after`` for a deleted one."""

    at: str  # ISO 8601, UTC, milliseconds
    coder: str
    document: str
    action: str
    step: str
    spans: str  # JSON [[start, end], ...] into the document text
    mention: str
    edition: str
    code_before: str | None
    code_after: str | None
    status_before: str | None
    status_after: str | None
    stage_before: str | None
    stage_after: str | None
    model: str | None  # the model that was asked about this mention, if one was
    model_sha256: str | None
    prompt_version: str | None


def audit_rows(step: ReviewStep) -> list[AuditRow]:
    """A row per mention the step changed, added or deleted (an unchanged accept writes none).

    Review functions keep the untouched assignments as the same objects, so what
    changed is what is not shared between the two results; a removed and an added
    assignment on the same spans and edition are one change (a new status or code): an
    ICD-10 and an ICD-O-3 mention of the same words are two.
    """
    before_ids = {id(a) for a in step.before.assignments}
    after_ids = {id(a) for a in step.after.assignments}
    removed = [a for a in step.before.assignments if id(a) not in after_ids]
    added = [a for a in step.after.assignments if id(a) not in before_ids]
    pairs: list[tuple[Assignment | None, Assignment | None]] = []
    for old in removed:
        new = next((a for a in added if a.mention.spans == old.mention.spans and a.edition is old.edition), None)
        if new is not None:
            added.remove(new)
        pairs.append((old, new))
    pairs += [(None, new) for new in added]
    at = step.at.astimezone(UTC).isoformat(timespec="milliseconds")
    rows = [_row(step, at, old, new) for old, new in pairs if old != new]
    if not rows and step.before.confirmed_empty != step.after.confirmed_empty:
        rows.append(_confirmation_row(step, at))
    return rows


def _confirmation_row(step: ReviewStep, at: str) -> AuditRow:
    """Who confirmed (or, undoing, took back) that a document has nothing to code: a row with no mention."""
    return AuditRow(
        at=at, coder=step.coder, document=step.key, action=step.action.value, step=step.step.value,
        spans="[]", mention="", edition="", code_before=None, code_after=None,
        status_before=None, status_after=None, stage_before=None, stage_after=None,
        model=None, model_sha256=None, prompt_version=None,
    )


def _row(step: ReviewStep, at: str, old: Assignment | None, new: Assignment | None) -> AuditRow:
    either = new or old
    assert either is not None
    asked = next((a.provenance for a in (old, new) if a is not None and "model" in a.provenance), {})
    return AuditRow(
        at=at, coder=step.coder, document=step.key, action=step.action.value, step=step.step.value,
        spans=spans_key(either.mention.spans), mention=either.mention.text,
        edition=either.edition.value,
        code_before=old.code if old else None, code_after=new.code if new else None,
        status_before=old.status.value if old else None, status_after=new.status.value if new else None,
        stage_before=_stage(old), stage_after=_stage(new),
        model=asked.get("model"), model_sha256=asked.get("model_sha256") or None,
        prompt_version=asked.get("prompt_version"),
    )


def spans_key(spans: Sequence[Span]) -> str:
    """A mention's spans as its audit rows store them: JSON ``[[start, end], ...]``."""
    return json.dumps([[s.start, s.end] for s in spans])


def _stage(assignment: Assignment | None) -> str | None:
    return assignment.stage.value if assignment is not None and assignment.stage else None
