"""How well the code picker finds a code from the words a coder would type: recall at a depth.

A measurable check of the picker's ranking: for gold (mention text, code) pairs, where the gold
code lands in the picker's search for the mention's text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["PickerCheck"]


class _Search(Protocol):
    def search(self, query: str, limit: int = 100) -> Sequence[object]: ...


@dataclass(frozen=True, slots=True)
class PickerCheck:
    """The gold code's rank (1 = first) for each pair, None where it was not among the first ``depth``."""

    ranks: tuple[int | None, ...]

    @classmethod
    def of(cls, search: _Search, pairs: Iterable[tuple[str, str]], depth: int = 100) -> PickerCheck:
        ranks = []
        for text, code in pairs:
            codes = [getattr(hit, "code") for hit in search.search(text, depth)]
            ranks.append(codes.index(code) + 1 if code in codes else None)
        return cls(tuple(ranks))

    def recall(self, k: int) -> float:
        """Share of pairs whose gold code is among the first ``k``."""
        return sum(1 for r in self.ranks if r is not None and r <= k) / max(1, len(self.ranks))
