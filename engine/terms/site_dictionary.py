"""The site dictionary: the terms this workstation's coders decided, matched the way coders write them.

A term is remembered by its *site key*: its folded words, each stemmed with the Snowball stemmer
of the language (δύσπνοια and δύσπνοιας → ``δυσπνοι``; infecciones urinarias and infección urinaria
→ ``infeccion urinari``), in sorted order, so inflection, case, accents and word order do not
keep a learned term from matching.  Words of up to three letters (abbreviations, in any script)
and words with digits are kept whole.  Only the mention's words and the codes are kept, never
the text around them.

Entries change while documents are coded (the session writer teaches them from another
thread): every change replaces an immutable entry under a lock, and readers only look up.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache

import snowballstemmer
from rapidfuzz import fuzz

from engine.core.codes import Edition
from engine.terms.dictionary import Match
from engine.text.normalize import Scan, term_key

__all__ = [
    "SITE_KEY_VERSION",
    "KeyRule",
    "Lesson",
    "SiteDecision",
    "SiteDictionary",
    "SiteEntry",
    "SiteRule",
    "Verdict",
    "site_key",
]

# Stored beside the keys: a new stemmer or key rule means every key is worked out again from its term.
SITE_KEY_VERSION = 1
_SNOWBALL = {"es": "spanish", "en": "english", "de": "german", "fr": "french", "el": "greek"}
_WHOLE_UP_TO = 3  # letters: abbreviations are not stemmed
_STEMS_KEPT = 200_000  # distinct words whose stem is remembered per dictionary
_MAX_TERM_WORDS = 12  # longer "terms" are selections gone wrong; they are not learned
_COMPOUNDING = frozenset({"de"})  # languages that write compounds as one word
_COMPOUND_LETTERS, _HEAD_FROM = 8, 3  # a compound is this long; a head leaves this much before it
_SHORTLIST = 60  # terms sharing the most informative words, re-scored on the whole words
_REMEMBERED = 8192  # ``similar`` answers kept while nothing is taught
_COMMON = 0.02  # a word in more than this share of the terms (de, la) finds none (unless rarest): it only weighs


@cache
def _stemmer(language: str) -> Callable[[str], str] | None:
    name = _SNOWBALL.get(language)
    return snowballstemmer.stemmer(name).stemWord if name else None


def _stem(word: str, language: str) -> str:
    stem = _stemmer(language)
    if stem is None or len(word) <= _WHOLE_UP_TO or any(c.isdigit() for c in word):
        return word
    return stem(word) or word


@dataclass(frozen=True, slots=True)
class KeyRule:
    """How a term becomes its key; the default is the app's, the others are measured against it."""

    stem: bool = True  # Snowball stems instead of whole words
    any_order: bool = True  # the words sorted, so word order does not matter

    def word(self, word: str, language: str) -> str:
        return _stem(word, language) if self.stem else word

    def join(self, words: list[str]) -> str:
        return " ".join(sorted(words) if self.any_order else words)


def site_key(text: str, language: str, rule: KeyRule = KeyRule()) -> str:
    """The key a term is learned and matched by (see the module docstring)."""
    return rule.join([rule.word(word, language) for word in term_key(text).split()])


@dataclass(frozen=True, slots=True)
class Lesson:
    """One decision's effect on one term: a code given (or taken back: ``weight`` −1), or a rejection (``code`` None)."""

    language: str
    edition: Edition
    term: str  # the mention's words as the coder saw them
    code: str | None
    weight: int
    at: str  # ISO 8601, UTC
    origin: str = "review"  # review | edit | import:<sha256 of the file>

    @property
    def key(self) -> str:
        return site_key(self.term, self.language)


@dataclass(frozen=True, slots=True)
class SiteEntry:
    key: str
    display: str  # the words as last decided
    codes: tuple[tuple[str, int], ...]  # (code, count), most frequent first; counts > 0
    rejected: int  # times coders said "not a diagnosis here"
    first: str  # when first and last decided (ISO 8601)
    last: str

    @property
    def total(self) -> int:
        return sum(n for _, n in self.codes) + self.rejected

    def with_lesson(self, lesson: Lesson) -> SiteEntry | None:
        """This entry after ``lesson``; None once nothing is left of it."""
        counts = Counter(dict(self.codes))
        rejected = self.rejected
        if lesson.code is None:
            rejected = max(0, rejected + lesson.weight)
        else:
            counts[lesson.code] += lesson.weight
        codes = tuple(sorted(((c, n) for c, n in counts.items() if n > 0), key=lambda item: (-item[1], item[0])))
        if not codes and not rejected:
            return None
        display = lesson.term if lesson.weight > 0 else self.display
        return replace(self, display=display, codes=codes, rejected=rejected,
                       first=min(self.first, lesson.at), last=max(self.last, lesson.at))


class Verdict(StrEnum):
    SETTLED = "settled"  # coders gave it one code (nearly) every time
    CONFLICT = "conflict"  # coders disagree: its codes are candidates
    REJECTED = "rejected"  # coders said it is not a diagnosis: it is no longer detected


@dataclass(frozen=True, slots=True)
class SiteDecision:
    verdict: Verdict
    code: str | None  # the settled code, or the most frequent one in a conflict
    share: float  # of all decisions on the term


@dataclass(frozen=True, slots=True)
class SiteRule:
    """When the coders' decisions on a term settle it: one answer in at least ``min_share`` of them."""

    min_share: float = 0.75

    def decide(self, entry: SiteEntry) -> SiteDecision:
        total = entry.total
        if entry.rejected / total >= self.min_share:
            return SiteDecision(Verdict.REJECTED, None, entry.rejected / total)
        code, count = entry.codes[0] if entry.codes else (None, 0)
        verdict = Verdict.SETTLED if count / total >= self.min_share else Verdict.CONFLICT
        return SiteDecision(verdict, code, count / total)


class SiteDictionary:
    """The learned terms of one language and edition, with a detection index kept up to date."""

    def __init__(self, language: str, edition: Edition, entries: Iterable[SiteEntry] = (),
                 rule: SiteRule | None = None, key_rule: KeyRule = KeyRule()) -> None:
        self.language = language
        self.edition = edition
        self.rule = rule or SiteRule()
        self.key_rule = key_rule  # entries given must be keyed by it
        self._entries: dict[str, SiteEntry] = {}
        self._lock = threading.Lock()
        self._detecting: set[str] = set()  # keys that find mentions in raw text
        self._stem_use: Counter[str] = Counter()  # stems of those keys, with how many keys hold each
        self._lengths: Counter[int] = Counter()  # their lengths in words
        self._stems: dict[str, str] = {}
        self._holding: dict[str, set[str]] = {}  # stem → the detecting keys that hold it (for ``similar``)
        self._similar: dict[tuple[str, int], list[tuple[SiteEntry, float]]] = {}  # until the next change
        for entry in entries:
            self._put(entry.key, entry)

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[SiteEntry]:
        return list(self._entries.values())

    def entry(self, key: str) -> SiteEntry | None:
        return self._entries.get(key)

    def code_counts(self) -> Counter[str]:
        """How often the coders chose each code, over every learned term (the picker ranks by it)."""
        counts: Counter[str] = Counter()
        for entry in self.entries():
            for code, count in entry.codes:
                counts[code] += count
        return counts

    def lookup(self, text: str) -> SiteEntry | None:
        return self._entries.get(self._key(text))

    def decide(self, text: str) -> tuple[SiteEntry, SiteDecision] | None:
        """What the coders' decisions say about a mention's words, if they decided that term."""
        entry = self.lookup(text)
        return (entry, self.rule.decide(entry)) if entry is not None else None

    def similar(self, text: str, limit: int = 10) -> list[tuple[SiteEntry, float]]:
        """The learned (not rejected) terms most like an unlearned one, scored 0–1, best first.

        Scored like the bundled dictionary's fuzzy candidates (``engine.linking.candidates``): the
        Dice overlap of informative words (stems weighted by rarity among the learned terms),
        averaged with rapidfuzz's similarity of the whole keys.  "cáncer de lengua" finds the
        learned "cáncer de lengua izquierda" before any catalog title does.
        """
        query = self._key(text)
        remembered = self._similar.get((query, limit))
        if remembered is not None:  # a batch repeats its terms while nobody teaches
            return remembered
        words = set(query.split())
        if self.language in _COMPOUNDING:
            words |= self._heads(text)
        with self._lock:  # the writer may be teaching meanwhile
            known = len(self._detecting)
            similar_before = self._similar
            if not known:
                return []
            idf = {w: math.log(1 + known / n) for w in words if (n := self._stem_use.get(w))}
            common = max(64, known * _COMMON)
            shared: Counter[str] = Counter()
            rarest = max(idf, key=idf.__getitem__, default=None)
            for word, weight in idf.items():
                holding = self._holding[word]
                if len(holding) <= common or word == rarest:
                    for key in holding:
                        shared[key] += weight
            entries = {key: self._entries[key] for key, _ in shared.most_common(2 * _SHORTLIST)}
            rarity = _Rarity(known, self._stem_use)
            weights = {key: sum(map(rarity.__getitem__, set(key.split()))) for key in entries}
        query_weight = sum(idf.values())
        if not query_weight:
            return []
        overlap = {key: 2 * shared[key] / (query_weight + weights[key]) for key in entries}
        shortlist = sorted(overlap, key=overlap.__getitem__, reverse=True)[:_SHORTLIST]
        scored = [(entries[key], (overlap[key] + fuzz.token_sort_ratio(query, key) / 100) / 2)
                  for key in shortlist]
        found = sorted(scored, key=lambda item: (-item[1], item[0].key))[:limit]
        with self._lock:
            if self._similar is similar_before:  # nothing was taught meanwhile
                if len(self._similar) >= _REMEMBERED:
                    self._similar.clear()
                self._similar[(query, limit)] = found
        return found

    def _heads(self, text: str) -> set[str]:
        """Learned heads of compounds the site has not learned: "Linksherzinsuffizienz" brings in the
        learned "Herzinsuffizienz", so its codes become candidates (never a settled code)."""
        heads = set()
        for word in term_key(text).split():
            if len(word) < _COMPOUND_LETTERS or self._stem_of(word) in self._stem_use:
                continue
            for start in range(_HEAD_FROM, len(word) - _HEAD_FROM):
                stem = self._stem_of(word[start:])
                if stem in self._stem_use:  # the longest learned head
                    heads.add(stem)
                    break
        return heads

    def learn(self, lessons: Iterable[Lesson]) -> None:
        """Apply lessons of this language and edition (the session writer calls this after a commit)."""
        with self._lock:
            for lesson in lessons:
                key = self._key(lesson.term)
                if not key or key.count(" ") >= _MAX_TERM_WORDS:
                    continue
                known = self._entries.get(key)
                if known is None:
                    if lesson.weight <= 0:
                        continue
                    known = SiteEntry(key, lesson.term, (), 0, lesson.at, lesson.at)
                self._put(key, known.with_lesson(lesson))

    def find(self, scanned: Scan, checkpoint: Callable[[], None] | None = None) -> list[Match]:
        """Every occurrence of a learned (not rejected) term, nested ones included, left to right."""
        with self._lock:  # the writer may be teaching meanwhile
            if not self._detecting:
                return []
            longest = max(self._lengths)
        stems = self._stem_use
        parts = scanned.parts
        words = [(index, self._stem_of(part)) for index, part in enumerate(parts) if part]
        matches = []
        for position, (first, stem) in enumerate(words):
            if checkpoint is not None and not position % 4096:
                checkpoint()
            if stem not in stems:
                continue
            window: list[str] = []
            for last, next_stem in words[position : position + longest]:
                if next_stem not in stems:
                    break
                window.append(next_stem)
                key = self.key_rule.join(window)
                if key in self._detecting:
                    matches.append(Match(first, last, key))
        return matches

    def _key(self, text: str) -> str:
        """``site_key`` with the stems remembered: coding asks for every mention's key, twice."""
        return self.key_rule.join([self._stem_of(word) for word in term_key(text).split()])

    def _stem_of(self, word: str) -> str:
        stem = self._stems.get(word)
        if stem is None:
            if len(self._stems) >= _STEMS_KEPT:
                self._stems.clear()  # a hostile document with millions of distinct words stays bounded
            stem = self._stems[word] = self.key_rule.word(word, self.language)
        return stem

    def _put(self, key: str, entry: SiteEntry | None) -> None:
        self._similar = {}  # a new object: a ``similar`` running meanwhile does not keep its answer
        was = key in self._detecting
        if entry is None:
            self._entries.pop(key, None)
        else:
            self._entries[key] = entry
        detects = entry is not None and self.rule.decide(entry).verdict is not Verdict.REJECTED
        if detects == was:
            return
        words = key.split(" ")
        change = 1 if detects else -1
        (self._detecting.add if detects else self._detecting.discard)(key)
        _count(self._lengths, len(words), change)
        for word in set(words):
            _count(self._stem_use, word, change)
            holding = self._holding.setdefault(word, set())
            if detects:
                holding.add(key)
            else:
                holding.discard(key)
                if not holding:
                    del self._holding[word]


class _Rarity(dict[str, float]):
    """Each stem's idf among the learned terms, worked out once per query."""

    def __init__(self, known: int, use: Counter[str]) -> None:
        super().__init__()
        self._known, self._use = known, use

    def __missing__(self, stem: str) -> float:
        value = self[stem] = math.log(1 + self._known / self._use[stem])
        return value


def _count(counter: Counter[str] | Counter[int], item: str | int, change: int) -> None:
    """Add ``change``; an item no key holds any more leaves the counter (lookups test membership)."""
    left = counter[item] + change  # type: ignore[index]
    if left > 0:
        counter[item] = left  # type: ignore[index]
    else:
        counter.pop(item, None)  # type: ignore[arg-type]
