"""What the LLM stage's skip margin costs and saves, measured on gold mentions.

No model is needed: on the mentions the dictionaries leave open, the fuzzy
candidates alone say how often the top candidate is right (category level) for
each margin over the second.  On CodiEsp train this chooses the margin
(``choose_margin``); on dev, ``eval`` prints what that margin skips and how
often the skipped mentions' top candidate was right.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.core.codes import Level, at_level
from engine.core.model import DocumentResult
from engine.linking.margin import fuzzy_margin
from engine.text.annotations import GoldDocument

__all__ = ["MarginTally", "choose_margin"]

BUCKETS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)


@dataclass(slots=True)
class MarginTally:
    """(margin, top candidate right) for every open gold mention with candidates."""

    cases: list[tuple[float, bool]] = field(default_factory=list)

    def add(self, gold_document: GoldDocument, result: DocumentResult) -> None:
        for gold, assignment in zip(gold_document.mentions, result.assignments):
            if assignment.settled or not assignment.candidates:
                continue
            top = assignment.candidates[0].code
            right = at_level(top, Level.CATEGORY) == at_level(gold.code, Level.CATEGORY)
            self.cases.append((fuzzy_margin(assignment), right))

    def skipped(self, margin: float) -> tuple[int, int]:
        """(mentions at or above ``margin``, of which the top candidate is right)."""
        chosen = [right for m, right in self.cases if m >= margin]
        return len(chosen), sum(chosen)

    def table(self) -> str:
        """Top-candidate accuracy per margin bucket, and of everything at or above it."""
        lines = ["fuzzy margin (top − second)   open mentions   top right   at or above: mentions, top right"]
        for low, high in zip(BUCKETS, (*BUCKETS[1:], float("inf"))):
            inside = [right for m, right in self.cases if low <= m < high]
            n, k = self.skipped(low)
            rate = f"{sum(inside) / len(inside):.3f}" if inside else "—"
            lines.append(f"  [{low:.2f}, {high:.2f})  {len(inside):>14}   {rate:>9}   {n:>6}, {k / n if n else 0:.3f}")
        return "\n".join(lines)

    def report(self, margin: float) -> str:
        n, k = self.skipped(margin)
        total = len(self.cases)
        asked_right = sum(right for m, right in self.cases if m < margin)
        return (
            f"llm skip margin {margin:.2f}: skips {n} of {total} open mentions ({n / total if total else 0:.1%}), "
            f"their fuzzy top candidate right (category) {k} ({k / n if n else 0:.1%}); "
            f"{total - n} still asked, fuzzy top right on {asked_right}; "
            f"margin this corpus would choose: {choose_margin(self):.2f}"
        )


def choose_margin(tally: MarginTally, precision: float = 0.75, minimum_support: int = 30) -> float:
    """The smallest bucket edge above which the top candidate is right at least ``precision`` of the time.

    0.75: the 1.5B and 7B models do not beat the fuzzy top candidate over all
    asked mentions (``eval``'s "model vs fuzzy"), so where the top candidate is
    right three times in four, asking costs seconds for little to gain.  Too few
    mentions above an edge (``minimum_support``) do not count as evidence; with
    no edge qualifying, 1.01 (never skip) is returned.
    """
    for edge in BUCKETS:
        n, k = tally.skipped(edge)
        if n >= minimum_support and k / n >= precision:
            return edge
    return 1.01
