"""Finding diagnosis mentions in raw text with the dictionary."""

from __future__ import annotations

from collections.abc import Callable

from engine.core.model import Document, Mention, Span
from engine.terms.dictionary import TermDictionary
from engine.text.normalize import scan

__all__ = ["detect_mentions"]


def detect_mentions(
    document: Document, dictionary: TermDictionary, checkpoint: Callable[[], None] | None = None
) -> list[Mention]:
    """Dictionary matches (see ``TermDictionary.find``), with exact original offsets.

    ``checkpoint`` is called often while a long document is scanned; a cancel raises there.
    """
    scanned = scan(document.text, checkpoint)
    mentions = []
    for match in dictionary.find(scanned, checkpoint):
        start, end = scanned.span(match.first, match.last)
        mentions.append(Mention((Span(start, end),), document.text[start:end]))
    return mentions
