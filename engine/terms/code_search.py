"""Type-ahead search over a catalog's codable entries: by code, title words, and dictionary terms.

A coder types a few word starts ("neumonía neumoc") and expects the code they mean first, not
the shortest title.  So every title *and* every term of the language's dictionary (CodiEsp
mentions, index terms, inclusion terms: the synonyms coders write) is an entry that names a code,
and the codes are ranked by how much of an entry the query covers and how often the code is used
(the dictionary's counts, plus the site's own learned counts when the window passes them).  When
no entry holds every word, entries holding most of them still come, below (a misspelled or
unknown word then costs a little, not everything).

The picker asks on every keystroke, so the folded entries are joined into one string once and
searched with ``str.find`` (C speed); building takes one to two seconds, so the window builds it
off the UI thread.
"""

from __future__ import annotations

import math
import re
import threading
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import accumulate

from rapidfuzz.distance import Levenshtein

from engine.core.codes import Edition
from engine.core.errors import DictionaryError
from engine.core.progress import give_way
from engine.terms.catalog import Catalog
from engine.terms.dictionary import TermDictionary
from engine.text.normalize import fold

__all__ = ["CodeHit", "CodeSearch", "Ranking"]

# What a typed code starts as: ICD-10 (j18, j189) or ICD-O-3 morphology (8140, 8140/3, 8010/3/h).
_CODE_PREFIX = re.compile(r"[a-z][0-9][0-9a-z]{0,5}|[0-9]{1,4}(/[0-9]{0,2}(/h?)?)?")
_CHUNK = 250  # titles folded per call: one call holds the GIL (about 5 ms here, 40 ms at 2,000)
_PARTIAL_UNTIL = 20  # codes found before entries holding only some words are left unscored
_SCAN_LIMIT = 2500  # entries found per query word (most used codes first); more means a vague query
_SHORT_SCAN = 250  # times the word's length squared: one or two letters ("d", "ne") name thousands
# Words that say nothing about which code is meant: an entry is not "less covered" for holding them
# ("Neumonía, no especificada" is as good a match for "neumonía" as "neumonía" itself).
_UNSPECIFIED = ("no especificad", "sin especificar", "unspecified", "nicht naher bezeichnet", "non precise")
_FILLERS = frozenset(
    "a al con de del e el en la las lo los no o otra otras otro otros para por sin tipo u y "
    "especificada especificadas especificado especificados "
    "and by classified due elsewhere in not of on or other specified the to unspecified with without "
    "bei das dem den der des die ein eine mit naher nicht oder ohne sonstige sonstiger sonstiges und bezeichnet "
    "au avec du et le les non ou precise precisee sans".split()
)


@dataclass(frozen=True, slots=True)
class CodeHit:
    code: str
    title: str
    via: str = ""  # the dictionary term that matched, when it was not the title


@dataclass(frozen=True, slots=True)
class Ranking:
    """How relevance and use weigh (tuned on CodiEsp dev mentions; see README, "Code picker")."""

    usage: float = 0.35  # weight of log(uses) / log(most uses), next to a coverage of 0–1
    learned: int = 5  # a site decision counts as this many dictionary annotations
    first_word: float = 0.15  # the entry starts with the query's first word (the head word, as typed)
    unspecified: float = 0.1  # the entry is the "unspecified" code of its words: the general one
    fuzzy: float = 0.7  # lowest similarity of a word start that counts as a misspelled match


_CACHE: dict[tuple[Edition, str], CodeSearch] = {}
_LOCK = threading.Lock()


class CodeSearch:
    """Codes of ``catalog`` with their titles in ``language``, found also by ``dictionary``'s terms."""

    def __init__(self, catalog: Catalog, language: str, dictionary: TermDictionary | None = None,
                 ranking: Ranking = Ranking()) -> None:
        self.ranking = ranking
        nodes = sorted(catalog.codes(), key=lambda node: node.code)
        self.codes = [node.code for node in nodes]
        self.titles = [catalog.title(code, language) for code in self.codes]
        self._code_keys = [code.replace(".", "").lower() for code in self.codes]
        index = {code: i for i, code in enumerate(self.codes)}
        self._uses = [0] * len(self.codes)
        folded: list[str] = []
        for start in range(0, len(self.titles), _CHUNK):
            give_way()  # built on a worker while the window paints (engine.core.progress)
            folded.extend(_fold_all(self.titles[start : start + _CHUNK]))
        owners, vias = list(range(len(self.codes))), [""] * len(self.codes)  # entry → code, term shown
        if dictionary is not None and dictionary.edition is catalog.edition:
            for done, (key, display, codes, annotated) in enumerate(dictionary.term_codes()):
                if not done % _CHUNK:
                    give_way()
                for code in dict(codes):  # a code once per term, its counts summed over the sources
                    if (at := index.get(code)) is not None:
                        if annotated:  # a count of coders' annotations, not of lists naming it
                            self._uses[at] += sum(n for c, n in codes if c == code)
                        folded.append(key)
                        owners.append(at)
                        vias.append(display)
        self._most = math.log1p(max(self._uses, default=0)) or 1.0
        # Most used codes' entries first: a vague word stops scanning after _SCAN_LIMIT entries.
        order = sorted(range(len(folded)), key=lambda i: -self._uses[owners[i]])
        self._owners = [owners[i] for i in order]
        self._vias = [vias[i] for i in order]
        self._entries = [" ".join(folded[i].split()) for i in order]
        # " " + each entry: every word is found as " word"; starts[i] is where entry i begins.
        self._haystack = " " + " ".join(self._entries)
        self._starts = list(accumulate((len(text) + 1 for text in self._entries[:-1]), initial=1))

    @classmethod
    def cached(cls, edition: Edition, language: str) -> CodeSearch:
        """One index per edition and language for the whole process (safe from any thread)."""
        with _LOCK:
            found = _CACHE.get((edition, language))
            if found is None:
                found = _CACHE[(edition, language)] = cls(
                    Catalog.bundled(edition), language, _bundled_dictionary(language, edition))
            return found

    @classmethod
    def is_cached(cls, edition: Edition, language: str) -> bool:
        return (edition, language) in _CACHE

    def uses(self, code: str) -> int:
        """How often coders gave ``code`` in the dictionary's annotated corpora (CodiEsp for Spanish)."""
        at = bisect_left(self.codes, code)
        return self._uses[at] if at < len(self.codes) and self.codes[at] == code else 0

    def search(self, query: str, limit: int = 100, learned: Mapping[str, int] | None = None) -> list[CodeHit]:
        """Codes starting with ``query`` (in code order), then codes named by entries holding the
        query's word starts, best first; then those whose entries hold only some of them.

        ``learned``: how often this site's coders chose each code (the session database's counts).
        """
        words = [w for w in fold(query).split(" ") if w]
        if not words:
            return []
        hits = self._by_code(query.strip().replace(".", "").lower())[:limit]
        seen = set(hits)
        best = self._ranked(words, learned or {}, limit, partial=not hits)
        result = [CodeHit(self.codes[i], self.titles[i]) for i in hits]
        for index, via in best:
            if len(result) >= limit:
                break
            if index not in seen:
                result.append(CodeHit(self.codes[index], self.titles[index], via))
        return result

    def _by_code(self, key: str) -> list[int]:
        if not _CODE_PREFIX.fullmatch(key):
            return []
        first = bisect_left(self._code_keys, key)
        last = bisect_right(self._code_keys, key + "\uffff")
        return list(range(first, min(last, first + _SCAN_LIMIT)))

    def _ranked(self, words: list[str], learned: Mapping[str, int], limit: int,
                partial: bool) -> list[tuple[int, str]]:
        """(code index, term that matched) best first: codes an entry names with every word, then
        (with ``partial``) codes named with only some: after a code's own hits those are noise.

        Entries are scored a tier at a time, most words held first, and partial tiers only until
        ``_PARTIAL_UNTIL`` codes are found: a long mention's words each start thousands of entries,
        and scoring them all took 0.1 s a keystroke.
        """
        content = [w for w in words if w not in _FILLERS] or words  # "dolor de cabeza": "de" says nothing
        held = self._holding(content)
        tiers: dict[int, list[int]] = {}
        for entry, count in held.items():
            tiers.setdefault(count, []).append(entry)
        scores: dict[int, tuple[float, float, int]] = {}  # code → (missing words, -score, entry)
        for count in sorted(tiers, reverse=True):
            if count < len(content) and (not partial or len(scores) >= min(limit, _PARTIAL_UNTIL)):
                break
            for entry in tiers[count]:
                missing, score = self._score(entry, content, learned)
                code, found = self._owners[entry], (missing, -score, entry)
                if found < scores.get(code, (math.inf, 0.0, 0)):
                    scores[code] = found
        ranked = sorted(scores.items(), key=lambda item: (item[1][:2], item[0]))
        return [(code, self._vias[entry]) for code, (_, _, entry) in ranked]

    def _holding(self, words: list[str]) -> Counter[int]:
        """Entries holding some of the words as word starts, with how many (a few thousand per word,
        fewer for a word of one to three letters: the first keystrokes must not wait)."""
        held: Counter[int] = Counter()
        starts, haystack = self._starts, self._haystack
        for word in set(words):
            needle, most = " " + word, min(_SCAN_LIMIT, _SHORT_SCAN * len(word) ** 2)
            position, entries = haystack.find(needle), set()
            while position >= 0 and len(entries) < most:
                entries.add(bisect_right(starts, position + 1) - 1)
                position = haystack.find(needle, position + 1)
            held.update(entries)
        return held

    def _score(self, entry: int, words: list[str], learned: Mapping[str, int]) -> tuple[float, float]:
        """(query words the entry lacks, less part credit for near misses; how much of the entry's
        words the query covers, plus use)."""
        ranking, text = self.ranking, self._entries[entry]
        entry_words = text.split(" ")
        missing = 0.0
        for word in words:
            if not any(w.startswith(word) for w in entry_words):
                missing += 1.0 - self._misspelt(word, entry_words)
        content = [w for w in entry_words if w not in _FILLERS] or entry_words
        covered = sum(1 for w in content if any(w.startswith(q) for q in words))
        code = self._owners[entry]
        uses = self._uses[code] + ranking.learned * learned.get(self.codes[code], 0)
        bonus = ranking.first_word if entry_words[0].startswith(words[0]) else 0.0
        if any(marker in text for marker in _UNSPECIFIED):
            bonus += ranking.unspecified
        return missing, covered / len(content) + bonus + ranking.usage * math.log1p(uses) / self._most

    def _misspelt(self, word: str, entry_words: list[str]) -> float:
        """Part credit for a word no entry word starts with, but one nearly does ("neumocócica")."""
        if len(word) < 4:
            return 0.0
        similarity = max(Levenshtein.normalized_similarity(word, w[: len(word) + 1]) for w in entry_words)
        return similarity / 2 if similarity >= self.ranking.fuzzy else 0.0


def _bundled_dictionary(language: str, edition: Edition) -> TermDictionary | None:
    """The language's bundled terms when they code to ``edition``; titles alone otherwise."""
    try:
        dictionary = TermDictionary.bundled(language, edition=edition)
    except DictionaryError:
        return None
    return dictionary if dictionary.edition is edition else None


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
