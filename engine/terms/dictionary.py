"""Compiled term dictionaries: exact lookup, mention detection, the unambiguity rule.

A dictionary maps folded term keys (see ``engine.text.normalize``) to the codes the
sources give them, with counts.  Sources can be left out when loading (e.g.
``codiesp-dev`` for an honest evaluation on CodiEsp dev) without a rebuild,
because every count and occurrence statistic is stored per source.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cached_property
from itertools import compress, count
from pathlib import Path
from typing import Any

from engine.core.codes import Edition, is_morphology
from engine.core.errors import DictionaryError
from engine.core.resources import compiled_dir, load_compiled
from engine.terms.abbreviations import Abbreviation
from engine.text.normalize import Scan, term_key

__all__ = ["DetectionPolicy", "LinkingRule", "Match", "TermDictionary", "TermEntry"]

# The edition each language's bundled dictionary codes to (checked against the files by a test),
# so the edition of a language is known without loading its dictionary.
DEFAULT_EDITIONS: dict[str, Edition] = {
    "es": Edition.CM, "de": Edition.GM, "en": Edition.CM, "fr": Edition.WHO, "el": Edition.WHO,
}
LANGUAGES = tuple(DEFAULT_EDITIONS)
_CURATED = "curated-"  # the project's lexicons (dictionaries/lexicons)
_CIRCUMSTANCE_CHAPTERS = frozenset("VWXYZ")  # external causes, factors influencing health status
# Classifications with a dictionary of their own per language (``LANG.EDITION.terms.json.gz``): ICD-O-3
# morphology terms share nothing with ICD-10 ones, so no ICD-10 dictionary can code to it.
EDITION_DICTIONARIES: dict[Edition, tuple[str, ...]] = {Edition.ICDO3: ("es", "en")}
_CHECK_EVERY = 4096  # candidate starts between two cancel checks: about a millisecond


@dataclass(frozen=True, slots=True)
class TermEntry:
    key: str
    display: str
    codes: tuple[tuple[str, int], ...]  # (code, count), most frequent first
    sources: frozenset[str]
    annotated: int  # gold annotations of this term in the corpora kept
    occurrences: int  # times the term occurs in those corpora's texts

    @property
    def total(self) -> int:
        return sum(n for _, n in self.codes)


@dataclass(frozen=True, slots=True)
class LinkingRule:
    """When an exact dictionary match is settled without review.

    A term is unambiguous when it has a single code, or when its most frequent
    code has at least ``min_share`` of the counts *and* at least ``min_count``
    of them — a code seen once against nothing else is no stronger than a title.
    Tuned on CodiEsp train → dev (see README, "Dictionary stage").
    """

    min_share: float = 0.75
    min_count: int = 2

    def decide(self, entry: TermEntry) -> tuple[str, float] | None:
        """The settled code and its share of the counts, or None if ambiguous.

        Codes on one line of the hierarchy (``I50`` and ``I50.9`` for the same
        title) do not compete: the most specific one takes their counts.  ICD-O-3
        morphology codes always compete: ``8140/3`` and ``8140/33`` (a grade the
        annotator read elsewhere in the text) or ``8140/3/H`` are different answers.
        """
        counts = _fold_ancestors(entry.codes)
        code, top = max(counts.items(), key=lambda item: (item[1], item[0]))
        share = top / entry.total
        if len(counts) == 1 or (share >= self.min_share and top >= self.min_count):
            return code, share
        return None


def _fold_ancestors(codes: tuple[tuple[str, int], ...]) -> dict[str, int]:
    """Counts with each code that is a prefix of exactly one other code merged into it."""
    counts = dict(codes)
    for code in sorted(counts, key=len):
        if is_morphology(code):
            continue
        deeper = [other for other in counts if other != code and other.startswith(code)]
        if len(deeper) == 1:
            counts[deeper[0]] += counts.pop(code)
    return counts


@dataclass(frozen=True, slots=True)
class DetectionPolicy:
    """Which dictionary terms may *find* mentions in raw text.

    Lookup uses every term; detection leaves out terms that are usually not a
    diagnosis where they occur (measured on the annotated corpora kept), and
    very short keys, which are mostly abbreviations of something else.
    ``nested`` also reports terms inside longer ones ("infecciones urinarias"
    in "infecciones urinarias de repetición"): coders and CodiEsp code both,
    and on CodiEsp dev it lifts document-level full-code F1 from 0.666 to 0.691.
    """

    min_precision: float = 0.25
    min_occurrences: int = 1
    min_key_length: int = 3
    title_terms: bool = True
    nested: bool = True

    def admits(self, key: str, annotated: int, occurrences: int) -> bool:
        """Whether a term with these corpus statistics may detect mentions."""
        if occurrences >= self.min_occurrences:
            return annotated / occurrences >= self.min_precision
        if len(key) < self.min_key_length:
            return False
        return annotated > 0 or self.title_terms


@dataclass(frozen=True, slots=True)
class Match:
    first: int  # index into Scan.parts of the first token
    last: int  # index of the last token (inclusive)
    key: str


class TermDictionary:
    """Term keys → codes, loaded lazily: entries are built when first looked up.

    Start-up matters on a coder's workstation, so loading is one JSON parse;
    the detection index is built on the first scan.
    """

    def __init__(
        self,
        language: str,
        edition: Edition,
        rows: dict[str, tuple[str, list[list[Any]]]],
        occurrences: dict[str, dict[str, list[int]]],
        sources: dict[str, dict[str, Any]],
        exclude: frozenset[str] = frozenset(),
        policy: DetectionPolicy | None = None,
        abbreviations: dict[str, list[list[Any]]] | None = None,
    ) -> None:
        self.language = language
        self.edition = edition
        self.sources = {k: v for k, v in sources.items() if k not in exclude}
        self.policy = policy or DetectionPolicy()
        self._rows = rows
        self._occurrences = occurrences
        self._exclude = exclude
        self._entries: dict[str, TermEntry | None] = {}
        self._abbreviation_rows = abbreviations or {}

    @classmethod
    def from_file(
        cls, path: Path, exclude: frozenset[str] = frozenset(), policy: DetectionPolicy | None = None
    ) -> TermDictionary:
        try:
            with _collector_paused():
                data = load_compiled(path)
                rows = {key: (display, codes) for key, display, codes in data["terms"]}
            if detection := data.get("detection"):  # its corpus's conventions (CANTEMIST: longest span only)
                policy = replace(policy or DetectionPolicy(), **detection)
            return cls(
                data["language"], Edition(data["edition"]), rows, data.get("occurrences", {}),
                data["sources"], exclude, policy, data.get("abbreviations"),
            )
        except FileNotFoundError as error:
            raise DictionaryError(f"dictionary file missing: {path}") from error
        except (OSError, ValueError, KeyError, TypeError, EOFError) as error:
            raise DictionaryError(f"dictionary file damaged: {path} ({error})") from error

    @classmethod
    def bundled(
        cls,
        language: str,
        exclude: frozenset[str] = frozenset(),
        policy: DetectionPolicy | None = None,
        edition: Edition | None = None,
    ) -> TermDictionary:
        """The language's ICD-10 dictionary, or its dictionary of ``edition`` where that has its own."""
        if language not in LANGUAGES:
            raise DictionaryError(
                f"no dictionary for language {language!r}", hint=f"Choose one of: {', '.join(LANGUAGES)}."
            )
        if edition in EDITION_DICTIONARIES:
            if language not in EDITION_DICTIONARIES[edition]:
                raise DictionaryError(
                    f"no {edition.label} dictionary for language {language!r}",
                    hint=f"Choose one of: {', '.join(EDITION_DICTIONARIES[edition])}.",
                )
            return cls.from_file(compiled_dir() / f"{language}.{edition.value}.terms.json.gz", exclude, policy)
        return cls.from_file(compiled_dir() / f"{language}.terms.json.gz", exclude, policy)

    @property
    def excluded(self) -> frozenset[str]:
        """The sources left out when loading (an honest evaluation leaves its corpus out of all)."""
        return self._exclude

    def keys(self) -> list[str]:
        """Every key with at least one code from the sources kept."""
        if not self._exclude:
            return list(self._rows)
        return [key for key in self._rows if self.entry(key) is not None]

    def __len__(self) -> int:
        return len(self.keys())

    def entry(self, key: str) -> TermEntry | None:
        """The entry for a folded key (see ``engine.text.normalize.term_key``)."""
        if key not in self._entries:
            row = self._rows.get(key)
            self._entries[key] = self._build_entry(key, *row) if row else None
        return self._entries[key]

    def lookup(self, text: str) -> TermEntry | None:
        return self.entry(term_key(text))

    def term_codes(self) -> Iterator[tuple[str, str, list[tuple[str, int]], bool]]:
        """(key, display, [(code, count)], annotated) of every term, from the sources kept, without
        building (and keeping) an entry per term: the code picker indexes them all, and 90,000
        entries took it 5 s and 100 MB."""
        exclude, measured = self._exclude, self._occurrences
        for key, (display, rows) in self._rows.items():
            codes = [(code, n) for code, source, n in rows if source not in exclude]
            if codes:
                yield key, display, codes, key in measured and self._statistics(key)[0] > 0

    def _build_entry(self, key: str, display: str, rows: list[list[Any]]) -> TermEntry | None:
        """The codes of the sources kept.  Where an annotated corpus kept codes the term, its codings
        decide and a curated lexicon's do not count: the lexicon fills in where the corpus is silent
        (document-level full-code F1 with the lexicon's counts added to the corpus's, then this way:
        CodiEsp train with a dictionary without train 0.679 → 0.684, dev 0.696 → 0.704)."""
        kept = [(code, source, n) for code, source, n in rows if source not in self._exclude]
        measured = self._occurrences.get(key, {})
        if any(source in measured for _, source, _ in kept):
            kept = [(code, source, 0 if source.startswith(_CURATED) else n) for code, source, n in kept]
        counts: Counter[str] = Counter()
        sources = set()
        for code, source, n in kept:
            if n:
                counts[code] += n
            sources.add(source)
        if not counts:
            return None
        annotated, total = self._statistics(key)
        ranked = tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
        return TermEntry(key, display, ranked, frozenset(sources), annotated, total)

    def _statistics(self, key: str) -> tuple[int, int]:
        """(annotated, occurrences) summed over the corpora kept."""
        annotated = total = 0
        for source, (source_annotated, source_total) in self._occurrences.get(key, {}).items():
            if source not in self._exclude:
                annotated += source_annotated
                total += source_total
        return annotated, total

    @cached_property
    def abbreviations(self) -> dict[str, Abbreviation]:
        """The curated lexicons' abbreviations by key, from the sources kept."""
        return {
            key: Abbreviation.from_rows(key, rows)
            for key, rows in self._abbreviation_rows.items()
            if (entry := self.entry(key)) is not None and any(s.startswith(_CURATED) for s in entry.sources)
        }

    @cached_property
    def cued(self) -> dict[str, Abbreviation]:
        """Abbreviations that detect only with a context cue: those no other source gives.

        A key a corpus or a title also gives ("HTA" in CodiEsp) keeps the rule it had: its
        measured precision decides.
        """
        return {
            key: abbreviation for key, abbreviation in self.abbreviations.items()
            if all(s.startswith(_CURATED) for s in self.entry(key).sources)  # type: ignore[union-attr]
        }

    @cached_property
    def _index(self) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
        """(first tokens, keys and their token prefixes, full keys) of detection terms."""
        admits, measured = self.policy.admits, self._occurrences
        cued = self.cued  # the context cue, not corpus statistics or length, decides these
        keys = frozenset(
            key for key in self.keys()
            if key in cued or (
                admits(key, *(self._statistics(key) if key in measured else (0, 0)))
                and (key in measured or not self._bare_circumstance(key))
            )
        )
        prefixes = set(keys)
        level = {key.rpartition(" ")[0] for key in keys if " " in key}
        while level:  # add every shorter token prefix, one token at a time
            prefixes |= level
            level = {key.rpartition(" ")[0] for key in level if " " in key}
        firsts = frozenset(key.partition(" ")[0] for key in keys)
        return firsts, frozenset(prefixes), keys

    def _bare_circumstance(self, key: str) -> bool:
        """A one-word title of an external cause or a factor (V–Z): "activity" (Y93.9), "exposure"
        (X58), "donor" (Z52.9), "arrest" (Z65.3).  Such a word in a letter is almost never what the
        title codes, so without corpus statistics or a curated entry it does not find mentions
        (on CodiEsp train, English texts, document-level full-code P 0.678 → 0.696, F1 0.535 → 0.540)."""
        entry = self.entry(key)
        return (
            " " not in key and entry is not None
            and not any(source.startswith(_CURATED) for source in entry.sources)
            and all(code[0] in _CIRCUMSTANCE_CHAPTERS for code, _ in entry.codes)
        )

    def find(self, scanned: Scan, checkpoint: Callable[[], None] | None = None) -> list[Match]:
        """Dictionary matches on token boundaries, left to right.

        Longest non-overlapping matches by default; with ``policy.nested``
        every detection term occurring in the text, inner ones included.
        ``checkpoint`` is called every few thousand candidate starts (a cancel raises there).
        """
        firsts, prefixes, keys = self._index
        nested = self.policy.nested
        parts = scanned.parts
        size = len(parts)
        matches = []
        resume = 0
        for tried, first in enumerate(compress(count(), map(firsts.__contains__, parts))):
            if checkpoint is not None and not tried % _CHECK_EVERY:
                checkpoint()
            if first < resume and not nested:
                continue
            key = parts[first]
            found = [Match(first, first, key)] if key in keys else []
            index = first + 1
            while index < size:
                token = parts[index]
                if token:
                    longer = f"{key} {token}"
                    if longer not in prefixes:
                        break
                    key = longer
                    if key in keys:
                        found.append(Match(first, index, key))
                index += 1
            if found:
                if nested:
                    matches.extend(reversed(found))
                else:
                    matches.append(found[-1])
                    resume = found[-1].last + 1
        return matches


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Parsing builds ~10^5 small containers; the cyclic GC only slows that down."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
