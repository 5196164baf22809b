"""Compiled term dictionaries: exact lookup, mention detection, the unambiguity rule.

A dictionary maps folded term keys (see ``engine.normalize``) to the codes the
sources give them, with counts.  Sources can be left out when loading (e.g.
``codiesp-dev`` for an honest evaluation on CodiEsp dev) without a rebuild,
because every count and occurrence statistic is stored per source.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from itertools import compress, count
from pathlib import Path
from typing import Any

from engine.codes import Edition
from engine.errors import DictionaryError
from engine.normalize import Scan, term_key
from engine.resources import compiled_dir

__all__ = ["DetectionPolicy", "LinkingRule", "Match", "TermDictionary", "TermEntry"]

LANGUAGES = ("es", "de", "en", "fr", "el")


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
        """The settled code and its share of the counts, or None if ambiguous."""
        code, top = entry.codes[0]
        share = top / entry.total
        if len(entry.codes) == 1 or (share >= self.min_share and top >= self.min_count):
            return code, share
        return None


@dataclass(frozen=True, slots=True)
class DetectionPolicy:
    """Which dictionary terms may *find* mentions in raw text.

    Lookup uses every term; detection leaves out terms that are usually not a
    diagnosis where they occur (measured on the annotated corpora kept), and
    very short keys, which are mostly abbreviations of something else.
    """

    min_precision: float = 0.2
    min_occurrences: int = 2
    min_key_length: int = 3
    title_terms: bool = True

    def admits(self, entry: TermEntry) -> bool:
        if entry.occurrences >= self.min_occurrences:
            return entry.annotated / entry.occurrences >= self.min_precision
        if len(entry.key) < self.min_key_length:
            return False
        return entry.annotated > 0 or self.title_terms


@dataclass(frozen=True, slots=True)
class Match:
    first: int  # index into Scan.parts of the first token
    last: int  # index of the last token (inclusive)
    key: str


class TermDictionary:
    def __init__(
        self,
        language: str,
        edition: Edition,
        entries: dict[str, TermEntry],
        sources: dict[str, dict[str, Any]],
        policy: DetectionPolicy | None = None,
    ) -> None:
        self.language = language
        self.edition = edition
        self.entries = entries
        self.sources = sources
        self.policy = policy or DetectionPolicy()

    @classmethod
    def from_file(
        cls, path: Path, exclude: frozenset[str] = frozenset(), policy: DetectionPolicy | None = None
    ) -> TermDictionary:
        try:
            data = json.loads(gzip.decompress(path.read_bytes()))
            entries = _entries(data, exclude)
            sources = {k: v for k, v in data["sources"].items() if k not in exclude}
            return cls(data["language"], Edition(data["edition"]), entries, sources, policy)
        except FileNotFoundError as error:
            raise DictionaryError(f"dictionary file missing: {path}") from error
        except (OSError, ValueError, KeyError, TypeError, EOFError) as error:
            raise DictionaryError(f"dictionary file damaged: {path} ({error})") from error

    @classmethod
    def bundled(
        cls, language: str, exclude: frozenset[str] = frozenset(), policy: DetectionPolicy | None = None
    ) -> TermDictionary:
        if language not in LANGUAGES:
            raise DictionaryError(
                f"no dictionary for language {language!r}", hint=f"Choose one of: {', '.join(LANGUAGES)}."
            )
        return cls.from_file(compiled_dir() / f"{language}.terms.json.gz", exclude, policy)

    def lookup(self, text: str) -> TermEntry | None:
        return self.entries.get(term_key(text))

    @cached_property
    def _index(self) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
        """(first tokens, keys and their token prefixes, full keys) of detection terms."""
        keys = [key for key, entry in self.entries.items() if self.policy.admits(entry)]
        prefixes: set[str] = set()
        for key in keys:
            end = key.find(" ")
            while end != -1:
                prefixes.add(key[:end])
                end = key.find(" ", end + 1)
        firsts = {key.partition(" ")[0] for key in keys}
        return frozenset(firsts), frozenset(prefixes.union(firsts, keys)), frozenset(keys)

    def find(self, scanned: Scan) -> list[Match]:
        """Longest non-overlapping matches on token boundaries, left to right."""
        firsts, prefixes, keys = self._index
        parts = scanned.parts
        size = len(parts)
        matches = []
        resume = 0
        for first in compress(count(), map(firsts.__contains__, parts)):
            if first < resume:
                continue
            key = parts[first]
            best = first if key in keys else -1
            best_key = key
            index = first + 1
            while index < size:
                token = parts[index]
                if token:
                    longer = f"{key} {token}"
                    if longer not in prefixes:
                        break
                    key = longer
                    if key in keys:
                        best, best_key = index, key
                index += 1
            if best >= 0:
                matches.append(Match(first, best, best_key))
                resume = best + 1
        return matches


def _entries(data: dict[str, Any], exclude: frozenset[str]) -> dict[str, TermEntry]:
    occurrences = data.get("occurrences", {})
    entries = {}
    for key, display, rows in data["terms"]:
        counts: Counter[str] = Counter()
        sources = set()
        for code, source, n in rows:
            if source not in exclude:
                counts[code] += n
                sources.add(source)
        if not counts:
            continue
        annotated = total = 0
        for source, (source_annotated, source_total) in occurrences.get(key, {}).items():
            if source not in exclude:
                annotated += source_annotated
                total += source_total
        ranked = tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
        entries[key] = TermEntry(key, display, ranked, frozenset(sources), annotated, total)
    return entries
