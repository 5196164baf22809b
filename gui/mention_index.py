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
from collections.abc import Iterator, Sequence
from itertools import accumulate, compress
from operator import attrgetter, is_, itemgetter, le, lt, neg, not_

from engine.core.model import Assignment, Mention

__all__ = ["MentionIndex", "nesting"]

_SPANS = attrgetter("spans")
_MENTION = attrgetter("mention")
_START = attrgetter("start")
_END = attrgetter("end")
STEP = 8_000  # mentions looked at in one step of a build


def nesting(assignments: Sequence[Assignment]) -> list[tuple[int, int | None]]:
    """(index, outer index or None) in display order: each outer mention followed by those inside it."""
    index = MentionIndex(list(map(_MENTION, assignments)))
    return list(zip(index.order(True), index.outer(True), strict=True))


class MentionIndex:
    """The mentions of one result: rows grouped or in text order, and their spans sorted by start."""

    def __init__(self, mentions: Sequence[Mention] = ()) -> None:
        for _ in self._build(tuple(mentions)):
            pass

    @classmethod
    def in_steps(cls, assignments: Sequence[Assignment]) -> Iterator[MentionIndex | None]:
        """Build the index STEP mentions at a time: None after each step (let the window's events
        run), the index last.  Each step stays well under the window's 100 ms bound."""
        index = cls.__new__(cls)
        yield from index._build(tuple(map(_MENTION, assignments)))
        yield index

    @classmethod
    def following_in_steps(
        cls, previous: MentionIndex, assignments: Sequence[Assignment]
    ) -> Iterator[MentionIndex | None]:
        """``following`` in steps: ``previous`` at once when it still fits, else ``in_steps``."""
        if previous.has(list(map(_MENTION, assignments))):
            yield previous
        else:
            yield from cls.in_steps(assignments)

    def _build(self, mentions: tuple[Mention, ...]) -> Iterator[None]:
        self.mentions = mentions
        self._rows: dict[bool, tuple[list[int], list[int]]] = {}  # grouped → (row → index, index → row)
        starts: list[int] = []
        ends: list[int] = []
        single = True
        for part in _parts(mentions):
            spans = list(map(_SPANS, part))
            starts += map(_START, map(itemgetter(0), spans))
            ends += map(_END, map(itemgetter(-1), spans))
            single = single and set(map(len, spans)) <= {1}
            yield
        increasing = yield from _increasing(starts)
        self._order, self._outer = yield from _nesting(starts, ends, increasing)
        if single and increasing:
            self._span_starts, self._span_ends, self._span_owners = starts, ends, range(len(starts))
        else:  # discontinuous or unordered mentions: list their spans one by one
            spans = sorted((s.start, s.end, i) for i, m in enumerate(mentions) for s in m.spans)
            yield
            self._span_starts = list(map(itemgetter(0), spans))
            self._span_ends = list(map(itemgetter(1), spans))
            self._span_owners = list(map(itemgetter(2), spans))
        self._longest = 0
        for first in range(0, len(self._span_starts), STEP):
            part = slice(first, first + STEP)
            lengths = map(int.__sub__, self._span_ends[part], self._span_starts[part])
            self._longest = max(self._longest, max(lengths))
            yield

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
        mention = self.mentions[index]
        return mention.end - mention.start

    def _row_maps(self, grouped: bool) -> tuple[list[int], list[int]]:
        if grouped not in self._rows:
            plain = list(range(len(self.mentions)))
            order = self._order if grouped else plain
            rows = plain if order == plain else list(map(itemgetter(1), sorted(zip(order, plain))))
            self._rows[grouped] = order, rows
        return self._rows[grouped]


def _nesting(starts: list[int], ends: list[int], increasing: bool) -> Iterator[None]:
    """Display order (by start, longer first) and each row's outer mention, STEP mentions a step.

    A mention is inside the last outer one exactly when its end is within the
    furthest end so far, so running maxima find the candidates; only those are
    looked at one by one.  A mention on the very same words as its outer one
    (another code) is a sibling, not inside.
    """
    order = list(range(len(starts)))
    if not increasing:  # detected mentions come in text order already; nested ones share starts
        order = list(map(itemgetter(2), sorted(zip(starts, map(neg, ends), order))))
        starts, ends = list(map(starts.__getitem__, order)), list(map(ends.__getitem__, order))
        yield
    inside: list[bool] = []
    furthest = -1
    for first in range(0, len(order), STEP):
        part = ends[first : first + STEP]
        inside += map(le, part, accumulate(part, max, initial=furthest))
        furthest = max(furthest, max(part))
        yield
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


def _increasing(values: list[int]) -> Iterator[None]:
    """Whether ``values`` only go up, STEP values a step."""
    for first in range(0, len(values), STEP):
        if not all(map(lt, values[first : first + STEP], values[first + 1 : first + STEP + 1])):
            return False
        yield
    return True


def _parts(mentions: tuple[Mention, ...]) -> Iterator[tuple[Mention, ...]]:
    for first in range(0, len(mentions), STEP):
        yield mentions[first : first + STEP]
