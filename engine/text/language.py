"""Guess a document's language among the five we ship dictionaries for.

Clinical notes are full of Latin-derived terms shared by every language, so
we count function words, which are not: a few hundred characters settle it.
Greek is told by its script.  The coder can always override the guess.
"""

from __future__ import annotations

import re
from collections import Counter

from engine.text.normalize import fold_char

__all__ = ["detect_language", "detected_language"]

_FUNCTION_WORDS = {
    "es": "el la los las de del y en con por para que se un una es al sin no su como pero mas fue"
    " presenta paciente años",
    "en": "the and of in with for to is was a an on at by no not his her this that were patient years",
    "de": "der die das und mit von zu im ist ein eine bei nicht den dem des auf nach kein wurde patient jahre",
    "fr": "le la les de des du et en avec pour un une est au aux sans pas sur par qui patient ans",
}
_WORD_SETS = {language: frozenset(words.split()) for language, words in _FUNCTION_WORDS.items()}
# Each function word's languages ("de" is Spanish and French): one look-up a distinct word.
_LANGUAGES_OF: dict[str, tuple[str, ...]] = {}
for _language, _words in _WORD_SETS.items():
    for _word in _words:
        _LANGUAGES_OF[_word] = (*_LANGUAGES_OF.get(_word, ()), _language)
_LETTER = re.compile(r"[^\W\d_]")


class _FoldTable(dict[int, str]):
    """``str.translate``'s table, filled as characters are first met: a letter becomes its folded
    form, anything else a space (so reading words is one C loop, not a regex match a word).
    Characters above the alphabets (CJK, emoji) are folded each time, not kept: the table
    stays small whatever a hostile batch holds."""

    def __missing__(self, code_point: int) -> str:
        char = chr(code_point)
        value = fold_char(char.lower()) if _LETTER.match(char) else " "
        if code_point < 0x3000:
            self[code_point] = value
        return value


_FOLDED_WORDS = _FoldTable()
_GREEK = re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]")
_SAMPLE = 20_000  # characters read at most
_PIECE = 1_000  # characters read between two looks at the scores
# Function words of one language, and twice any other's: the rest of the text does not change the answer.
_CLEAR_LEAD = 20


def detect_language(text: str, default: str = "es") -> str:
    """The likeliest of es/en/de/fr/el for ``text``; ``default`` when there is no evidence."""
    return detected_language(text) or default


def detected_language(text: str) -> str | None:
    """The likeliest of es/en/de/fr/el for ``text``; None when nothing in it tells (a date, a code).

    Words are read a piece at a time until one language clearly leads, so a batch
    of long letters costs about a kilobyte of reading each.
    """
    sample = text[:_SAMPLE]
    greek = len(_GREEK.findall(sample))
    if greek and greek > len(_LETTER.findall(sample)) / 3:
        return "el"
    scores = dict.fromkeys(_WORD_SETS, 0)
    start = 0
    while start < len(sample):
        end = sample.find(" ", start + _PIECE)  # a piece ends between words
        end = len(sample) if end < 0 else end
        for word, count in Counter(sample[start:end].translate(_FOLDED_WORDS).split()).items():
            for language in _LANGUAGES_OF.get(word, ()):
                scores[language] += count
        first, second = sorted(scores.values(), reverse=True)[:2]
        if first >= _CLEAR_LEAD and first >= 2 * second:
            break
        start = end
    best = max(scores, key=lambda language: scores[language])
    return best if scores[best] > 0 else None
