"""A mention's local context for the prompt: its sentence (cut to a window of words) and section.

The model reads a few dozen words per mention instead of the whole document:
prompt evaluation is what a CPU pays for (about 54 tokens/s for a 1.5B model,
9 for an 8B one on two cores), and the sentence and its heading carry what
decides between candidates (site, acuity, cause, history).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from engine.core.model import Mention
from engine.text.normalize import fold

__all__ = ["Context", "ContextFinder", "is_heading", "merge_ranges"]

WINDOW_WORDS = 10  # words kept on each side of a mention in a longer sentence (12 cost 611 evaluated tokens per CodiEsp dev document, over the 600 budget)
_LOOK = 1000  # characters searched on each side for the sentence's ends
_WORD = re.compile(r"\S+")
# A sentence ends at . ! ? ; followed by a space, or at a line break.
_BOUNDARY = re.compile(r"[.!?;](?=\s)|\n")
# A heading: a short line, or the start of one, ending in a colon ("ANTECEDENTES:", "Exploración física:").
_HEADING = re.compile(r"^[ \t]*([^\W\d_][^\n:.;]{2,48}):", re.MULTILINE)
_HEADING_LINE = re.compile(r"^[ \t]*([^\W\d_][^\n:.;a-zß-ÿ]{2,48})[ \t]*$", re.MULTILINE)  # ANY CAPS LINE
_HEADING_WORDS = 6
_WORDS = re.compile(r"\w+")  # whole tokens: "HER2" is not the pronoun "her"
_ENUMERATOR = re.compile(r"^\s*[^\W\d_]\)")  # "a) Examen externo:"


def _folded(words: str) -> frozenset[str]:
    return frozenset(fold(word) for word in words.split())


# A heading names a part of the report; a sentence that reaches a colon ("El paciente refiere: dolor…",
# "En la analítica destacaba: …") opens with an article, preposition or pronoun, or holds a pronoun or
# a verb of being somewhere ("Destacaban entre sus antecedentes: …").  Folded words of every language
# we code; none is a word a heading starts with (CodiEsp dev: 15 of 80 colon phrases are sentences).
_SENTENCE_STARTS = _folded(
    # es
    "el la los las lo un una unos unas en entre dentro con por para a al de del desde hasta tras durante sobre"
    " este esta estos estas ese esa esos esas se le les su sus mi yo ella ellos ellas usted nos me y o pero"
    " aunque cuando si donde ya hay"
    # en
    " the an in on at with by for to from of during after before this these those he she it they we i you"
    " his her its their our there and or but when if as"
    # de
    " der die das den dem des ein eine einen einem einer im am an bei mit von vom zu zum zur fur nach vor"
    " wahrend dieser diese dieses er sie es wir ich man und oder aber wenn als da"
    # fr (l' and d' are split off their word)
    " l d le les une du dans au aux avec sans pour sur pendant apres avant ce cet cette ces il elle ils elles"
    " on nous je et ou mais quand comme"
    # el
    " ο η το οι τα τον την του της των ενας μια ενα στο στη στην στον στα στους στις σε με απο για κατα μετα"
    " πριν αυτος αυτη αυτο και η αλλα οταν αν"
)
_CLAUSE_WORDS = _folded(
    "se su sus que como me nos"  # es
    " is are was were has have had his her their which who that"  # en
    " ist sind war waren wurde wurden hat haben sich dass"  # de
    " est sont etait ont sa son ses qui"  # fr
    " ειναι ηταν εχει που"  # el
)


@dataclass(frozen=True, slots=True)
class Context:
    """Where a mention sits: its sentence's ranges in the text (one per sentence its spans touch,
    in order, not overlapping), and the heading above it, if any."""

    ranges: tuple[tuple[int, int], ...]
    heading: str


def merge_ranges(ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Sorted ranges with overlapping ones joined."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


class ContextFinder:
    """Contexts of one document's mentions; headings are found once, so a long document costs one pass."""

    def __init__(self, text: str) -> None:
        self.text = text
        found: dict[int, str] = {}
        for pattern in (_HEADING, _HEADING_LINE):
            for match in pattern.finditer(text):
                if is_heading(match.group(1)):
                    found.setdefault(match.start(), match.group(1).strip())
        self._starts = sorted(found)
        self._headings = [found[at] for at in self._starts]

    def of(self, mention: Mention) -> Context:
        """The sentence around each span of ``mention`` (at most ``WINDOW_WORDS`` words each side)
        and the heading above its start; a discontinuous mention across sentences gets each of them."""
        index = bisect_right(self._starts, mention.start) - 1
        heading = self._headings[index] if index >= 0 else ""
        return Context(merge_ranges([self._sentence(s.start, s.end) for s in mention.spans]), heading)

    def _sentence(self, start: int, end: int) -> tuple[int, int]:
        text = self.text
        low = max(0, start - _LOOK)  # a longer sentence is cut to its window anyway
        first = low
        for match in _BOUNDARY.finditer(text, low, start):
            first = match.end()
        found = _BOUNDARY.search(text, end, end + _LOOK)
        last = found.end() if found else min(len(text), end + _LOOK)
        return _words_before(text, first, start), _words_after(text, end, last)


def is_heading(phrase: str) -> bool:
    """Whether a line's start before a colon (or a capitals line) names a section: a few words, one
    phrase (no comma: "Exploración física normal, presión arterial: 130/79"), not a sentence's start."""
    phrase = _ENUMERATOR.sub("", phrase)
    words = _WORDS.findall(fold(phrase))
    return (
        bool(words) and len(phrase.split()) <= _HEADING_WORDS and "," not in phrase
        and words[0] not in _SENTENCE_STARTS and _CLAUSE_WORDS.isdisjoint(words)
    )


def _words_before(text: str, low: int, position: int) -> int:
    words = list(_WORD.finditer(text, low, position))
    return words[-WINDOW_WORDS].start() if len(words) > WINDOW_WORDS else low


def _words_after(text: str, position: int, high: int) -> int:
    words = list(_WORD.finditer(text, position, high))
    return words[WINDOW_WORDS - 1].end() if len(words) > WINDOW_WORDS else high
