"""Candidate retrieval for mentions the dictionary could not settle.

Choices are every dictionary term plus every catalog title in the document
language (and English titles for CIE-10-ES, whose full codes have English
titles only), all folded like the query so accents never count as differences.

Retrieval has two steps, because a fuzzy scorer over ~100k titles costs about a
second per mention: an inverted index on word stems (the first five letters,
enough to join "renal"/"renales" or "crónica"/"crónico") finds the choices that
share informative words with the mention, weighted by rarity; rapidfuzz then
re-scores the best of those on the whole strings.  The result is a ranked list
of codes: what the fuzzy fallback picks from now and what the LLM stage will be
offered.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

from rapidfuzz import fuzz

from engine.core.codes import Edition
from engine.core.model import Candidate
from engine.core.progress import give_way
from engine.terms.catalog import Catalog
from engine.terms.dictionary import TermDictionary
from engine.text.normalize import term_key

__all__ = ["STOPWORDS", "BuiltIndex", "CandidateIndex", "Choice", "FuzzyIndex"]

_STEM = 5
_CHECK_EVERY = 512  # choices between two cancel checks while the index is built
# Words that carry no meaning for retrieval, folded like everything else.
STOPWORDS = frozenset(
    ["a", "al", "con", "de", "del", "e", "el", "en", "la", "las", "lo", "los", "o", "para", "por", "sin", "su", "sus", "un", "una", "y", "no", "otro", "otra", "otros", "otras", "the", "of", "and", "or", "in", "on", "with", "without", "to", "by", "for", "other", "due", "unspecified", "an", "as", "at", "der", "die", "das", "des", "dem", "den", "und", "oder", "mit", "ohne", "bei", "durch", "fur", "im", "in", "nicht", "sonstige", "le", "la", "les", "de", "des", "du", "et", "ou", "avec", "sans", "dans", "par", "pour", "autre", "autres", "και", "με", "του", "της", "των", "το", "η", "ο", "σε", "απο", "χωρις", "αλλα", "αλλο"]
)


@dataclass(frozen=True, slots=True)
class Choice:
    key: str
    codes: tuple[tuple[str, int], ...]  # (code, weight) most likely first
    source: str  # the candidate's: "fuzzy:term", "cross-lingual:en dyspnoea"


def _stems(key: str) -> set[str]:
    return {word[:_STEM] for word in key.split() if word not in STOPWORDS}


@dataclass(frozen=True, slots=True)
class BuiltIndex:
    choices: list[Choice]
    idf: dict[str, float]
    postings: dict[str, list[int]]
    weights: list[float]  # each choice's total informative weight: the denominator of the overlap score


class FuzzyIndex:
    """Ranks codes for a mention by word overlap, then fuzzy similarity, over ``_choices()``.

    Built on the first retrieval (about a second): a batch whose mentions all
    match the dictionary exactly never needs it.
    """

    def __init__(self, catalog: Catalog, language: str, shortlist: int = 60) -> None:
        self.catalog = catalog
        self.language = language
        self.shortlist = shortlist
        # Called every few hundred choices while the index is built (about a second): a cancel
        # raises there, and the half-built index is dropped, to be built again when next needed.
        self.checkpoint: Callable[[], None] | None = None

    def _check(self, done: int) -> None:
        if not done % _CHECK_EVERY:
            (self.checkpoint or give_way)()

    def _choices(self) -> Iterable[Choice]:
        """What the index retrieves from, each key folded by ``_key``."""
        raise NotImplementedError

    def _key(self, text: str) -> str:
        """A mention's or a choice's folded form, the one both are compared in."""
        return term_key(text)

    @cached_property
    def _built(self) -> BuiltIndex:
        return self._build()

    def _build(self) -> BuiltIndex:
        ordered = list(self._choices())
        # Each choice's stems are dropped as soon as they are posted: a list of 100k sets freed at
        # once held the GIL for 70 ms at the end of the build, freezing the window meanwhile.
        postings: dict[str, list[int]] = defaultdict(list)
        for index, choice in enumerate(ordered):
            self._check(index)
            for stem in _stems(choice.key):
                postings[stem].append(index)
        idf = {stem: math.log(1 + len(ordered) / len(ids)) for stem, ids in postings.items()}
        weights = [0.0] * len(ordered)
        for stem, ids in postings.items():
            for index in ids:
                weights[index] += idf[stem]
        return BuiltIndex(ordered, idf, dict(postings), weights)

    def __len__(self) -> int:
        return len(self._built.choices)

    def retrieve(self, text: str, limit: int = 10) -> list[Candidate]:
        """Up to ``limit`` valid codes, best first, scored 0–1."""
        built = self._built
        query = self._key(text)
        stems = _stems(query)
        query_weight = sum(built.idf.get(s, 0.0) for s in stems)
        if not query_weight:
            return []
        shared: dict[int, float] = defaultdict(float)
        for stem in stems:
            weight = built.idf.get(stem)
            if weight:
                for index in built.postings[stem]:
                    shared[index] += weight
        # Dice of the informative words: both the mention and the choice covered.  Only the shortlist's is
        # worked out: a common word ("carcinoma") shares thousands of terms, and sorting them all cost
        # most of a retrieval (nlargest is sorted(..., reverse=True)[:n], ties included).
        weights = built.weights

        def dice(index: int) -> float:
            return 2 * shared[index] / (query_weight + weights[index])

        best: dict[str, tuple[float, int, str]] = {}
        for index in heapq.nlargest(self.shortlist, shared, key=dice):
            choice = built.choices[index]
            score = (dice(index) + fuzz.token_sort_ratio(query, choice.key) / 100) / 2
            for code, weight in choice.codes:
                rank = (score, weight, choice.source)
                if code not in best or rank[:2] > best[code][:2]:
                    best[code] = rank
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))
        return [
            Candidate(code, self.catalog.edition, self.catalog.title(code, self.language), score, source)
            for code, (score, _, source) in ranked
            if self.catalog.is_valid(code)
        ][:limit]


class CandidateIndex(FuzzyIndex):
    """The document language's dictionary terms and catalog titles."""

    def __init__(
        self,
        dictionary: TermDictionary,
        catalog: Catalog,
        title_languages: tuple[str, ...] | None = None,
        shortlist: int = 60,
    ) -> None:
        super().__init__(catalog, dictionary.language, shortlist)
        self.dictionary = dictionary
        if title_languages is None:
            title_languages = (self.language,)
            if catalog.edition is Edition.CM and self.language != "en":
                title_languages += ("en",)
        self.title_languages = title_languages

    def _choices(self) -> Iterable[Choice]:
        choices: dict[str, Choice] = {}
        for done, key in enumerate(self.dictionary.keys()):
            self._check(done)
            entry = self.dictionary.entry(key)
            if entry is not None:
                choices[key] = Choice(key, entry.codes, "fuzzy:term")
        for done, node in enumerate(self.catalog.codes()):
            self._check(done)
            for language in self.title_languages:
                title = node.titles.get(language)
                key = term_key(title) if title else ""
                if key and key not in choices:
                    choices[key] = Choice(key, ((node.code, 1),), f"fuzzy:title-{language}")
        return choices.values()
