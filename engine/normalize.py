"""Text folding with an exact map back to the original characters.

Dictionary terms and documents are compared after the same folding: Unicode
compatibility decomposition, accents and other combining marks removed, case
folded, Greek final sigma made medial, and every character that is not a
letter or digit turned into a space.  Tokens are what is left between spaces.
Every token keeps the character offsets of the original text it came from,
which is what lets the review window highlight exactly what was matched.

Speed matters here (the dictionary stage scans whole batches), so the common
case avoids per-character Python work: when every distinct character of a text
folds to exactly one character, folding is a handful of ``str.replace`` calls
and positions in the folded text equal positions in the original.  Text holding
a character that folds to nothing or to several characters (decomposed
accents, ``ß`` → ``ss``, ligatures) takes a slower path with a per-character
offset map.  Both paths give identical results (a property test checks this).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate, compress, count
from operator import add

__all__ = ["Scan", "Token", "fold", "fold_char", "scan", "term_key", "tokenize"]

# Characters given a precomputed one-to-one entry: Latin, Greek, Cyrillic,
# punctuation, letter-like symbols, ligatures (frequent in PDF text) and
# fullwidth forms.  Text with any other character takes the slow path.
_TABLE_RANGES = ((0x0000, 0x3000), (0xFB00, 0xFB50), (0xFF00, 0xFFF0))


@lru_cache(maxsize=65536)
def fold_char(char: str) -> str:
    """Fold one character; the result may be empty or longer than one."""
    decomposed = unicodedata.normalize("NFKD", char)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    folded = stripped.casefold().replace("ς", "σ")
    # A character is either part of a token or a separator, never both, so
    # one original character can never end up in two tokens ("½" → "12").
    word = "".join(c for c in folded if c.isalnum())
    return word or (" " if folded else "")


def _one_to_one_table() -> dict[str, str | None]:
    """Char → its one-char fold (only where it differs), or None if not one-to-one."""
    table: dict[str, str | None] = {}
    for low, high in _TABLE_RANGES:
        for code_point in range(low, high):
            char = chr(code_point)
            folded = fold_char(char)
            if len(folded) != 1:
                table[char] = None
            elif folded != char:
                table[char] = folded
    return table


_TABLE = _one_to_one_table()
_IN_TABLE_RANGES = frozenset(
    chr(cp) for low, high in _TABLE_RANGES for cp in range(low, high)
)


@dataclass(frozen=True, slots=True)
class Token:
    """A folded token and the half-open span of original text it came from."""

    text: str
    start: int
    end: int


@dataclass(slots=True)
class Scan:
    """A folded text split on single spaces: the matcher's hot-path input.

    ``parts`` keeps the empty strings that consecutive separators leave, so the
    folded position of part ``k`` is the sum of earlier part lengths plus ``k``.
    Positions are computed only for the parts a caller asks about.
    """

    parts: list[str]
    offsets: list[int] | None = None  # folded index → original index (slow path)
    _cursor: tuple[int, int] = field(default=(0, 0), repr=False)

    def position(self, part: int) -> int:
        """Folded start position of ``parts[part]`` (fast for increasing calls)."""
        index, position = self._cursor
        if part < index:
            index, position = 0, 0
        position += sum(map(len, self.parts[index:part])) + (part - index)
        self._cursor = (part, position)
        return position

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Original ``(start, end)`` covering parts ``first`` to ``last`` inclusive."""
        start = self.position(first)
        end = self.position(last) + len(self.parts[last])
        if self.offsets is None:
            return start, end
        # An expansion such as "ß" → "ss" ends after the whole original char.
        return self.offsets[start], self.offsets[end - 1] + 1

    def tokens(self) -> list[Token]:
        """Every non-empty part as a Token with original offsets."""
        lengths = list(map(len, self.parts))
        folded_starts = map(add, accumulate(lengths, initial=0), count())
        result = []
        for part, start, length in compress(zip(self.parts, folded_starts, lengths), lengths):
            if self.offsets is None:
                result.append(Token(part, start, start + length))
            else:
                end = self.offsets[start + length - 1] + 1
                result.append(Token(part, self.offsets[start], end))
        return result


def _fold_fast(text: str) -> str | None:
    """Fold with C-speed string operations, or None if offsets would shift."""
    folded = text
    for char in set(text):
        if char in _TABLE:
            mapped = _TABLE[char]
            if mapped is None:
                return None
            folded = folded.replace(char, mapped)
        elif char not in _IN_TABLE_RANGES:
            return None
    return folded


def _fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """Fold char by char; ``offsets[i]`` is the original index of folded char i."""
    pieces: list[str] = []
    offsets: list[int] = []
    for index, char in enumerate(text):
        folded = fold_char(char)
        pieces.append(folded)
        offsets.extend([index] * len(folded))
    return "".join(pieces), offsets


def scan(text: str) -> Scan:
    """Fold ``text`` and split it into parts for matching."""
    folded = _fold_fast(text)
    if folded is not None:
        return Scan(folded.split(" "))
    folded, offsets = _fold_with_offsets(text)
    return Scan(folded.split(" "), offsets)


def fold(text: str) -> str:
    """Fold ``text`` for comparison (its length may change; see module doc)."""
    folded = _fold_fast(text)
    return folded if folded is not None else _fold_with_offsets(text)[0]


def tokenize(text: str) -> list[Token]:
    """Folded tokens of ``text`` with original character offsets."""
    return scan(text).tokens()


def term_key(text: str) -> str:
    """The lookup key of a dictionary term or mention: folded tokens joined by spaces."""
    return " ".join(filter(None, fold(text).split(" ")))
