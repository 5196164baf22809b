"""Guess a document's language among the five we ship dictionaries for.

Clinical notes are full of Latin-derived terms shared by every language, so
we count function words, which are not: a few hundred characters settle it.
Greek is told by its script.  The coder can always override the guess.
"""

from __future__ import annotations

import re

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
_WORD = re.compile(r"[^\W\d_]+")
_GREEK = re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]")


def detect_language(text: str, default: str = "es") -> str:
    """The likeliest of es/en/de/fr/el for ``text``; ``default`` when there is no evidence."""
    return detected_language(text) or default


def detected_language(text: str) -> str | None:
    """The likeliest of es/en/de/fr/el for ``text``; None when nothing in it tells (a date, a code)."""
    sample = text[:20_000]
    letters = sum(1 for ch in sample if ch.isalpha())
    if letters and len(_GREEK.findall(sample)) > letters / 3:
        return "el"
    scores = dict.fromkeys(_WORD_SETS, 0)
    for word in _WORD.findall(sample.lower()):
        folded = "".join(fold_char(ch) for ch in word)
        for language, words in _WORD_SETS.items():
            if folded in words:
                scores[language] += 1
    best = max(scores, key=lambda language: scores[language])
    return best if scores[best] > 0 else None
