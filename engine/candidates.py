"""Fuzzy candidate retrieval for mentions the dictionary could not settle.

Choices are every dictionary term plus every catalog title in the document
language (and English titles for CIE-10-ES, whose full codes have English
titles only), all folded the same way as the query so accents never count as
differences.  The result is a ranked list of codes: what the fuzzy fallback
picks from today and what the LLM stage will be offered.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz, process

from engine.catalog import Catalog
from engine.codes import Edition
from engine.dictionary import TermDictionary
from engine.model import Candidate
from engine.normalize import term_key

__all__ = ["CandidateIndex"]


@dataclass(frozen=True, slots=True)
class _Choice:
    codes: tuple[tuple[str, int], ...]  # (code, weight) most likely first
    source: str


class CandidateIndex:
    """Ranks codes for a mention by fuzzy similarity of terms and titles."""

    def __init__(
        self,
        dictionary: TermDictionary,
        catalog: Catalog,
        title_languages: tuple[str, ...] | None = None,
        scan_limit: int = 40,
    ) -> None:
        self.catalog = catalog
        self.language = dictionary.language
        self.scan_limit = scan_limit
        if title_languages is None:
            title_languages = (self.language,)
            if catalog.edition is Edition.CM and self.language != "en":
                title_languages += ("en",)
        choices: dict[str, _Choice] = {
            key: _Choice(entry.codes, "term") for key, entry in dictionary.entries.items()
        }
        for node in catalog.codes():
            for language in title_languages:
                title = node.titles.get(language)
                key = term_key(title) if title else ""
                if key and key not in choices:
                    choices[key] = _Choice(((node.code, 1),), f"title-{language}")
        self._keys = list(choices)
        self._choices = list(choices.values())

    def __len__(self) -> int:
        return len(self._keys)

    def retrieve(self, text: str, limit: int = 10) -> list[Candidate]:
        """Up to ``limit`` valid codes, best first, scored 0–1."""
        query = term_key(text)
        if not query:
            return []
        hits = process.extract(
            query, self._keys, scorer=fuzz.WRatio, processor=None, limit=self.scan_limit
        )
        best: dict[str, tuple[float, int, str]] = {}
        for _, score, index in hits:
            choice = self._choices[index]
            for code, weight in choice.codes:
                rank = (score / 100.0, weight, choice.source)
                if code not in best or rank[:2] > best[code][:2]:
                    best[code] = rank
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))
        return [
            Candidate(code, self.catalog.edition, self.catalog.title(code, self.language), score, f"fuzzy:{source}")
            for code, (score, _, source) in ranked
            if self.catalog.is_valid(code)
        ][:limit]
