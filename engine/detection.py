"""Finding diagnosis mentions in raw text with the dictionary."""

from __future__ import annotations

from engine.dictionary import TermDictionary
from engine.model import Document, Mention, Span
from engine.normalize import scan

__all__ = ["detect_mentions"]


def detect_mentions(document: Document, dictionary: TermDictionary) -> list[Mention]:
    """Longest non-overlapping dictionary matches, with exact original offsets."""
    scanned = scan(document.text)
    mentions = []
    for match in dictionary.find(scanned):
        start, end = scanned.span(match.first, match.last)
        mentions.append(Mention((Span(start, end),), document.text[start:end]))
    return mentions
