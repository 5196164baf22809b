"""Candidates from the other languages' terms and titles, for mentions the own language misses.

The classification is the same in every language, and medical words are mostly Greco-Latin
cognates (disnea, dyspnoea, Dyspnoe, δύσπνοια): a Spanish mention that no Spanish title names
may be named by an English inclusion term, a German index entry or a French title.  So this
index holds every other language's bundled dictionary terms and WHO titles, keyed by
``engine.text.cognates.cognate_key``, with their codes carried onto the document's edition:
a code valid there is kept, else its nearest valid ancestor (its category at least), else
the entry is dropped (a WHO code CM moved elsewhere).

It is built on the first mention that needs it, which keeps the window's start as it was:
several seconds and some 70 MB (README, "Cross-lingual candidates"), paid only once a mention's
own-language retrieval comes up weak: a mention the coder selects or one given from outside
(detected mentions are the language's own dictionary terms, which never need it).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator

from engine.core.codes import Edition, normalize_code
from engine.core.resources import compiled_dir
from engine.linking.candidates import STOPWORDS, FuzzyIndex, BuiltIndex, Choice
from engine.terms.catalog import Catalog
from engine.terms.dictionary import LANGUAGES, TermDictionary
from engine.text.cognates import cognate_key

__all__ = ["CROSS_LINGUAL", "CrossLingualIndex", "in_edition"]

CROSS_LINGUAL = "cross-lingual"  # the candidates' source kind: "cross-lingual:en dyspnoea"
_KEEP = 2  # built indexes kept per process (each some 70 MB): an evaluation's and the window's
_BUILT: OrderedDict[tuple[object, ...], tuple[Catalog, BuiltIndex]] = OrderedDict()
_LOCK = threading.Lock()


def in_edition(code: str, catalog: Catalog) -> str | None:
    """``code`` as ``catalog``'s edition has it: itself, else its nearest valid ancestor, else None.

    GM's E11.90 is CM's E11.9, WHO's B20.0 is CM's B20; WHO's A16.0 (respiratory tuberculosis not
    confirmed, all under A15 in CM) is nothing in CM.
    """
    try:
        code = normalize_code(code)
    except ValueError:
        return None
    while not catalog.is_valid(code):
        if len(code) <= 3:
            return None
        code = code[:-1].rstrip(".")
    return code


class CrossLingualIndex(FuzzyIndex):
    """Every language but ``language``: its dictionary's terms and its WHO titles, as ``catalog`` codes them.

    ``exclude``: dictionary sources left out, as for the document's own dictionary (an honest
    evaluation leaves CodiEsp dev out of every language's).
    """

    def __init__(
        self,
        catalog: Catalog,
        language: str,
        exclude: frozenset[str] = frozenset(),
        languages: tuple[str, ...] | None = None,
        shortlist: int = 60,
    ) -> None:
        super().__init__(catalog, language, shortlist)
        self.exclude = exclude
        self.languages = tuple(lang for lang in (languages or LANGUAGES) if lang != language)

    def _key(self, text: str) -> str:
        return cognate_key(text, STOPWORDS)

    def _build(self) -> BuiltIndex:
        """Built once per process for a catalog, language and sources left out: every pipeline of
        the window (and every test) on them shares it, and only the last few are kept."""
        key = (id(self.catalog), self.language, self.exclude, self.languages, str(compiled_dir()))
        with _LOCK:
            found = _BUILT.get(key)
            if found is None:
                found = _BUILT[key] = (self.catalog, super()._build())  # the catalog kept: its id stays its own
                while len(_BUILT) > _KEEP:
                    _BUILT.popitem(last=False)
            _BUILT.move_to_end(key)
        return found[1]

    def _choices(self) -> Iterable[Choice]:
        codes: dict[str, dict[str, int]] = {}  # key → code → weight
        sources: dict[str, str] = {}  # key → the first term that gave it, shown as provenance
        edition_codes: dict[str, str | None] = {}  # each foreign code once: most recur in many terms
        for done, (lang, display, found) in enumerate(self._terms()):
            self._check(done)
            mapped = []
            for code, weight in found:
                if code not in edition_codes:
                    edition_codes[code] = in_edition(code, self.catalog)
                if target := edition_codes[code]:
                    mapped.append((target, weight))
            key = self._key(display) if mapped else ""
            if not key:
                continue
            sources.setdefault(key, f"{CROSS_LINGUAL}:{lang} {display}")
            held = codes.setdefault(key, {})
            for target, weight in mapped:
                held[target] = held.get(target, 0) + weight
        shared: dict[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]] = {}
        for key, held in codes.items():
            ranked = tuple(sorted(held.items(), key=lambda item: (-item[1], item[0])))
            # Most choices have one code of weight 1: one tuple each, shared, saves 15 MB.
            yield Choice(key, shared.setdefault(ranked, ranked), sources.pop(key))

    def _terms(self) -> Iterator[tuple[str, str, list[tuple[str, int]]]]:
        """(language, term, [(code, weight)]) from each other language's dictionary, then the WHO
        titles in those languages (their dictionaries drop the WHO codes of another edition)."""
        for lang in self.languages:
            dictionary = TermDictionary.bundled(lang, self.exclude)
            for _, display, found, _ in dictionary.term_codes():
                yield lang, display, found
            del dictionary  # freed before the next one loads: two at once would double the peak
        # Not the process's cached WHO catalog: read once here, it is 10 MB that nothing else keeps.
        who = self.catalog if self.catalog.edition is Edition.WHO else Catalog.from_file(
            compiled_dir() / f"{Edition.WHO.value}.catalog.json.gz")
        for node in who.codes():
            for lang in self.languages:
                if title := node.titles.get(lang):
                    yield lang, title, [(node.code, 1)]
