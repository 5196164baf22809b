"""Abbreviations a document defines itself: "carcinoma hepatocelular (CHC)".

Clinical reports define their own short forms once and use them after; no dictionary
holds every one ("CHC", "GCTS", "CPRH").  The long form is found as Schwartz and Hearst
(2003) do: the short form's characters matched right to left inside the words before the
parenthesis, its first character starting a word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["defined_abbreviations", "occurrences"]

_DEFINITION_RE = re.compile(r"\(([A-Za-zÀ-ÿ0-9-]{2,8})\)")
_SENTENCE_BREAK = re.compile(r"[.;:\n()]")
_LOOK_BACK = 400  # characters before "(SHORT)" that hold its long form: 16 words at most (2 × 8 letters)


def defined_abbreviations(text: str) -> dict[str, str]:
    """Short form (as written) → its long form, for every "long form (SHORT)" in ``text``."""
    found: dict[str, str] = {}
    for match in _DEFINITION_RE.finditer(text):
        short = match.group(1)
        if sum(c.isupper() for c in short) < 2 or short in found:
            continue
        start = max(0, match.start() - _LOOK_BACK)  # the words just before; not the whole text each time
        before = _SENTENCE_BREAK.split(text[start : match.start()])[-1].split()
        if start and before and text[start - 1 : start].strip():
            before = before[1:]  # the look-back began inside a word
        window = " ".join(before[-min(len(short) + 5, 2 * len(short)) :])
        long = _long_form(short, window)
        if long and len(long) > len(short):
            found[short] = long
    return found


def occurrences(text: str, shorts: Iterable[str]) -> list[tuple[int, int]]:
    """Where ``text`` writes any of the short forms ``shorts`` as a word of its own, left to right."""
    alternatives = sorted(map(re.escape, set(shorts)), key=len, reverse=True)
    if not alternatives:
        return []
    return [m.span() for m in re.finditer(rf"(?<!\w)(?:{'|'.join(alternatives)})(?!\w)", text)]


def _long_form(short: str, candidate: str) -> str | None:
    """The shortest end of ``candidate`` that holds ``short``'s characters in order, or None."""
    s, text = short.lower(), candidate.lower()
    position = len(text) - 1
    for index in range(len(s) - 1, -1, -1):
        char = s[index]
        if not char.isalnum():
            continue
        while position >= 0 and (
            text[position] != char or (index == 0 and position > 0 and text[position - 1].isalnum())
        ):
            position -= 1
        if position < 0:
            return None
        position -= 1
    start = text.rfind(" ", 0, position + 1) + 1
    return candidate[start:].strip()
