"""Where a document's mentions sit, worked out once per set of mentions: table order and text spans.

A multi-megabyte document has tens of thousands of mentions, and a review action
changes a status, not the mentions.  The views keep one index while the mentions
stay the same, so what they look up on a keypress (a mention's row, the next one,
those on screen or under the mouse) is a bisection or a list access.  Building it
is a few passes that stay in C (operator getters, ``map``, running maxima): no
Python step per mention.  No Qt here: this is plain bookkeeping.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate, compress, islice
from operator import attrgetter, is_, itemgetter, le, lt, neg, not_

from engine.model import Assignment, Mention

__all__ = ["MentionIndex", "nesting"]

_SPANS = attrgetter("spans")
_MENTION = attrgetter("mention")


def nesting(assignments: Sequence[Assignment]) -> list[tuple[int, int | None]]:
    """(index, outer index or None) in display order: each outer mention followed by those inside it."""
    mentions = list(map(_MENTION, assignments))
    order, outer = _nesting(_starts(mentions), _ends(mentions))
    return list(zip(order, outer, strict=True))


class MentionIndex:
    """The mentions of one result: rows grouped or in text order, and their spans sorted by start."""

    def __init__(self, mentions: Sequence[Mention]) -> None:
        self.mentions = tuple(mentions)
        starts, ends = _starts(self.mentions), _ends(self.mentions)
        self._order, self._outer = _nesting(starts, ends)
        self._rows: dict[bool, tuple[list[int], list[int]]] = {}  # grouped → (row → index, index → row)
        self._lengths = list(map(int.__sub__, ends, starts))
        if set(map(len, map(_SPANS, self.mentions))) <= {1} and _increasing(starts):
            self._span_starts, self._span_ends, self._span_owners = starts, ends, range(len(starts))
        else:  # discontinuous or unordered mentions: list their spans one by one
            spans = sorted((s.start, s.end, i) for i, m in enumerate(self.mentions) for s in m.spans)
            self._span_starts = list(map(itemgetter(0), spans))
            self._span_ends = list(map(itemgetter(1), spans))
            self._span_owners = list(map(itemgetter(2), spans))
        self._longest = max(map(int.__sub__, self._span_ends, self._span_starts), default=0)

    @classmethod
    def following(cls, previous: MentionIndex | None, assignments: Sequence[Assignment]) -> MentionIndex:
        """``previous`` if these assignments still have its mentions (a status changed), else a new index."""
        mentions = list(map(_MENTION, assignments))
        if previous is not None and previous.has(mentions):
            return previous
        return cls(mentions)

    def has(self, mentions: Sequence[Mention]) -> bool:
        """Exactly these mentions, in this order (identity first: review keeps the same objects)."""
        return len(mentions) == len(self.mentions) and (
            all(map(is_, mentions, self.mentions)) or tuple(mentions) == self.mentions
        )

    def __len__(self) -> int:
        return len(self.mentions)

    def outer(self, grouped: bool) -> list[int | None]:
        """Each row's outer mention (None for a top-level row), in row order."""
        return self._outer if grouped else [None] * len(self.mentions)

    def order(self, grouped: bool) -> list[int]:
        """The mention shown in each row."""
        return self._row_maps(grouped)[0]

    def row(self, index: int, grouped: bool) -> int:
        return self._row_maps(grouped)[1][index]

    def neighbour(self, index: int | None, step: int, grouped: bool) -> int | None:
        """The mention ``step`` rows after ``index`` (the first or last row when there is none)."""
        order = self.order(grouped)
        if not order:
            return None
        if index is None or not 0 <= index < len(order):
            return order[0] if step > 0 else order[-1]
        return order[max(0, min(len(order) - 1, self.row(index, grouped) + step))]

    def spans_between(self, start: int, end: int) -> list[tuple[int, int, int]]:
        """(start, end, mention index) of every span that overlaps ``[start, end)``, by start."""
        first = bisect_left(self._span_starts, start - self._longest)
        last = bisect_left(self._span_starts, end)
        found = zip(self._span_starts[first:last], self._span_ends[first:last], self._span_owners[first:last])
        return [span for span in found if span[1] > start]

    def covering(self, offset: int) -> list[int]:
        """Mentions with a span over ``offset``, innermost (shortest) first."""
        found = sorted({index for _, _, index in self.spans_between(offset, offset + 1)})
        return sorted(found, key=self.length)

    def length(self, index: int) -> int:
        return self._lengths[index]

    def _row_maps(self, grouped: bool) -> tuple[list[int], list[int]]:
        if grouped not in self._rows:
            plain = list(range(len(self.mentions)))
            order = self._order if grouped else plain
            rows = plain if order == plain else list(map(itemgetter(1), sorted(zip(order, plain))))
            self._rows[grouped] = order, rows
        return self._rows[grouped]


def _nesting(starts: list[int], ends: list[int]) -> tuple[list[int], list[int | None]]:
    """Display order (by start, longer first) and each row's outer mention.

    A mention is inside the last outer one exactly when its end is within the
    furthest end so far, so running maxima find the candidates; only those are
    looked at one by one.  A mention on the very same words as its outer one
    (another code) is a sibling, not inside.
    """
    order = list(range(len(starts)))
    if not _increasing(starts):  # detected mentions come in text order already
        order = list(map(itemgetter(2), sorted(zip(starts, map(neg, ends), order))))
        starts, ends = list(map(starts.__getitem__, order)), list(map(ends.__getitem__, order))
    inside = [False, *map(le, islice(ends, 1, None), accumulate(ends, max))]
    tops = list(compress(range(len(order)), map(not_, inside)))
    outer: list[int | None] = [None] * len(order)
    sibling = -1  # the last row made an outer one for being on the same words
    for row in compress(range(len(order)), inside):
        around = max(tops[bisect_left(tops, row) - 1], sibling)
        if (starts[row], ends[row]) == (starts[around], ends[around]):
            sibling = row
        else:
            outer[row] = order[around]
    return order, outer


def _increasing(values: list[int]) -> bool:
    return all(map(lt, values, islice(values, 1, None)))


def _starts(mentions: Sequence[Mention]) -> list[int]:
    return list(map(attrgetter("start"), map(itemgetter(0), map(_SPANS, mentions))))


def _ends(mentions: Sequence[Mention]) -> list[int]:
    return list(map(attrgetter("end"), map(itemgetter(-1), map(_SPANS, mentions))))
