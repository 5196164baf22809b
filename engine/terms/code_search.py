"""Type-ahead search over a catalog's codable entries, by title words or by code.

The code picker asks on every keystroke, so the folded titles are joined into
one string once and searched with ``str.find`` (C speed); building takes about
a second for ICD-10-CM, so the window builds it off the UI thread.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import accumulate

from engine.core.codes import Edition
from engine.terms.catalog import Catalog
from engine.text.normalize import fold

__all__ = ["CodeHit", "CodeSearch"]

_CODE_PREFIX = re.compile(r"[a-z][0-9][0-9a-z]{0,5}")
_CHUNK = 250  # titles folded per call: one call holds the GIL (about 5 ms here, 40 ms at 2,000)
_SCAN_LIMIT = 5000  # matches ranked per query; more only means the query is too vague


@dataclass(frozen=True, slots=True)
class CodeHit:
    code: str
    title: str


_CACHE: dict[tuple[Edition, str], CodeSearch] = {}
_LOCK = threading.Lock()


class CodeSearch:
    """Codes of ``catalog`` with their titles in ``language`` (English, else any, where missing)."""

    def __init__(self, catalog: Catalog, language: str) -> None:
        nodes = sorted(catalog.codes(), key=lambda node: node.code)
        self.codes = [node.code for node in nodes]
        self.titles = [catalog.title(code, language) for code in self.codes]
        self._code_keys = [code.replace(".", "").lower() for code in self.codes]
        folded: list[str] = []
        for start in range(0, len(self.titles), _CHUNK):
            folded.extend(_fold_all(self.titles[start : start + _CHUNK]))
        # " " + each title: every word is found as " word"; starts[i] is where title i begins.
        self._haystack = " " + " ".join(folded)
        self._starts = list(accumulate((len(title) + 1 for title in folded[:-1]), initial=1))

    @classmethod
    def cached(cls, edition: Edition, language: str) -> CodeSearch:
        """One index per edition and language for the whole process (safe from any thread)."""
        with _LOCK:
            found = _CACHE.get((edition, language))
            if found is None:
                found = _CACHE[(edition, language)] = cls(Catalog.bundled(edition), language)
            return found

    @classmethod
    def is_cached(cls, edition: Edition, language: str) -> bool:
        return (edition, language) in _CACHE

    def search(self, query: str, limit: int = 100) -> list[CodeHit]:
        """Entries whose code starts with ``query``, then those whose title has every query word
        as a word start; shortest titles first (the general entry before its specialisations)."""
        words = [w for w in fold(query).split(" ") if w]
        if not words:
            return []
        hits = self._by_code(query.strip().replace(".", "").lower())
        seen = set(hits)
        for index in self._ranked_by_title(words):
            if len(hits) >= limit:
                break
            if index not in seen:
                hits.append(index)
        return [CodeHit(self.codes[i], self.titles[i]) for i in hits[:limit]]

    def _by_code(self, key: str) -> list[int]:
        if not _CODE_PREFIX.fullmatch(key):
            return []
        first = bisect_left(self._code_keys, key)
        last = bisect_right(self._code_keys, key + "\uffff")
        return list(range(first, min(last, first + _SCAN_LIMIT)))

    def _ranked_by_title(self, words: list[str]) -> list[int]:
        anchor = max(words, key=len)  # the longest word is usually the rarest
        others = [" " + w for w in words if w is not anchor]
        found: dict[int, None] = {}
        position = self._haystack.find(" " + anchor)
        while position >= 0 and len(found) < _SCAN_LIMIT:
            index = bisect_right(self._starts, position + 1) - 1
            if index not in found and all(w in self._entry(index) for w in others):
                found[index] = None
            position = self._haystack.find(" " + anchor, position + 1)
        first = " " + words[0]
        return sorted(found, key=lambda i: (not self._entry(i).startswith(first), len(self.titles[i]), i))

    def _entry(self, index: int) -> str:
        """Title ``index`` as folded, with a leading space."""
        end = self._starts[index + 1] - 1 if index + 1 < len(self._starts) else len(self._haystack)
        return self._haystack[self._starts[index] - 1 : end]


def _fold_all(titles: list[str]) -> list[str]:
    """Fold many titles in one call when that keeps every length (almost always), else one by one.

    In chunks, not all at once: one call over the whole catalog would hold the GIL long
    enough to freeze the window while a worker builds the index.
    """
    joined = "\n".join(titles)
    folded = fold(joined)
    if len(folded) != len(joined):
        return [fold(title) for title in titles]
    pieces, position = [], 0
    for title in titles:
        pieces.append(folded[position : position + len(title)])
        position += len(title) + 1
    return pieces
