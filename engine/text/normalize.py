"""Text folding with an exact map back to the original characters.

Dictionary terms and documents are compared after the same folding: Unicode
compatibility decomposition, accents and other combining marks removed, case
folded, Greek final sigma made medial, and every character that is not a
letter or digit turned into a space.  Tokens are what is left between spaces.
Every token keeps the character offsets of the original text it came from,
which is what lets the review window highlight exactly what was matched.

A document is scanned by splitting the *original* text on its separator
characters (one regular-expression split, in C) and folding each distinct
piece once: clinical text repeats its words, so a 20 MB document has a few
ten thousand distinct pieces among millions.  The start of every piece is kept
in a compact array, so a span costs O(1) however far into the document it is
and however the matcher moves back and forth (nested mentions), and characters
that fold to nothing or to several characters (decomposed accents, ``ß`` →
``ss``, ligatures) need no per-character offset map.  Cost and memory are
linear in the document's size; the scan works through the text in chunks and
calls back between them, which is where a cancel takes effect.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, islice, repeat
from operator import add

__all__ = ["Scan", "Token", "fold", "fold_char", "scan", "term_key", "tokenize"]

# Characters whose separator status is precomputed into one pattern: Latin,
# Greek, Cyrillic, punctuation, letter-like symbols, ligatures (frequent in PDF
# text) and fullwidth forms.  A text with a separator outside them (an emoji,
# CJK punctuation) gets its own pattern.
_BASE_RANGES = ((0x0000, 0x3000), (0xFB00, 0xFB50), (0xFF00, 0xFFF0))
# Characters split between two cancel checks: a few milliseconds of work.
_CHUNK = 1 << 18


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


def _in_base_ranges(char: str) -> bool:
    code_point = ord(char)
    return any(low <= code_point < high for low, high in _BASE_RANGES)


def _char_class(chars: Iterable[str]) -> str:
    """A regular-expression class matching exactly ``chars``, written as ranges."""
    codes = sorted(map(ord, chars))
    ranges: list[list[int]] = []
    for code in codes:
        if ranges and code == ranges[-1][1] + 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "[" + "".join(f"\\U{low:08x}-\\U{high:08x}" for low, high in ranges) + "]"


_BASE_SEPARATORS = frozenset(
    char for low, high in _BASE_RANGES for char in map(chr, range(low, high)) if fold_char(char) == " "
)
_BASE_PATTERN = re.compile(_char_class(_BASE_SEPARATORS))


@lru_cache(maxsize=64)
def _pattern_with(extra: frozenset[str]) -> re.Pattern[str]:
    return re.compile(_char_class(_BASE_SEPARATORS | extra))


def _separator_pattern(text: str) -> re.Pattern[str]:
    """The pattern that matches every character of ``text`` that folds to a space."""
    if text.isascii():
        return _BASE_PATTERN
    extra = frozenset(c for c in set(text) if not _in_base_ranges(c) and fold_char(c) == " ")
    return _pattern_with(extra) if extra else _BASE_PATTERN


@dataclass(frozen=True, slots=True)
class Token:
    """A folded token and the half-open span of original text it came from."""

    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Scan:
    """A text cut at its separators, each piece folded: the matcher's hot-path input.

    ``parts[k]`` is the folded ``k``-th piece between single separator
    characters (empty between two consecutive ones), exactly as splitting the
    folded text on spaces would give; ``starts[k]`` is where that piece begins
    in the original text, which is ``length`` characters long.
    """

    parts: list[str]
    starts: array[int]
    length: int

    def _end(self, part: int) -> int:
        """Original end of ``parts[part]``: just before the next separator."""
        return self.starts[part + 1] - 1 if part + 1 < len(self.starts) else self.length

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Original ``(start, end)`` covering parts ``first`` to ``last`` inclusive."""
        return self.starts[first], self._end(last)

    def tokens(self) -> list[Token]:
        """Every non-empty part as a Token with original offsets."""
        return [Token(part, self.starts[k], self._end(k)) for k, part in enumerate(self.parts) if part]


def _fold_piece(piece: str) -> str:
    """Fold a piece holding no separator (so an ASCII one is all letters and digits)."""
    return piece.lower() if piece.isascii() else "".join(map(fold_char, piece))


def scan(text: str, checkpoint: Callable[[], None] | None = None) -> Scan:
    """Fold ``text`` and split it into parts for matching; ``checkpoint`` is called between chunks.

    A checkpoint that raises (a cancel) stops the scan there.
    """
    pattern = _separator_pattern(text)
    parts: list[str] = []
    starts = array("q")
    position = 0
    while True:
        cut = pattern.search(text, position + _CHUNK) if len(text) - position > _CHUNK else None
        end = cut.start() if cut else len(text)
        pieces = pattern.split(text[position:end])
        folded = {piece: _fold_piece(piece) for piece in set(pieces)}  # one fold per distinct piece
        parts.extend(map(folded.__getitem__, pieces))
        starts.extend(islice(accumulate(map(add, map(len, pieces), repeat(1)), initial=position), len(pieces)))
        if cut is None:
            return Scan(parts, starts, len(text))
        position = end + 1  # the separator at ``end`` separates this chunk's last piece from the next's first
        if checkpoint is not None:
            checkpoint()


def fold(text: str) -> str:
    """Fold ``text`` for comparison (its length may change; see module doc)."""
    return "".join(map(fold_char, text))


def tokenize(text: str) -> list[Token]:
    """Folded tokens of ``text`` with original character offsets."""
    return scan(text).tokens()


def term_key(text: str) -> str:
    """The lookup key of a dictionary term or mention: folded tokens joined by spaces."""
    return " ".join(filter(None, fold(text).split(" ")))
