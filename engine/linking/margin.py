"""When the fuzzy ranking is decisive: the margin between its first and second candidate.

The LLM stage costs seconds per mention on a workstation; a mention whose top
candidate leads the second by a wide margin is nearly always right already (on
CodiEsp train; see ``engine.evaluation.margin``), so it is not worth asking about.
"""

from __future__ import annotations

from engine.core.model import Assignment

__all__ = ["fuzzy_margin", "is_decisive"]


def fuzzy_margin(assignment: Assignment) -> float:
    """Top candidate's score minus the second's; a lone candidate leads by its whole score."""
    scores = [c.score for c in assignment.candidates[:2]]
    if not scores:
        return 0.0
    return scores[0] - (scores[1] if len(scores) > 1 else 0.0)


def is_decisive(assignment: Assignment, margin: float) -> bool:
    """The fuzzy top candidate stands without asking the model (``margin`` > 1 never skips)."""
    return bool(assignment.candidates) and fuzzy_margin(assignment) >= margin
