"""ICD-O-3 morphology from a mention's parts: histology head word, behaviour and grade modifiers.

A tumour mention the dictionary does not hold whole is mostly a known histology with
modifiers around it: "adenocarcinoma ductal moderadamente diferenciado" is
"adenocarcinoma ductal" (8500/3) with grade II (8500/32); "implantes de tumor
neuroectodérmico primitivo" is the tumour (9473/3) spread (behaviour /6);
"implantes en la superficie del bazo" is spread of an unnamed neoplasm (8000/6).
ICD-O-3 builds its codes the same way (histology, then behaviour, then grade), so the
code is composed and checked against the catalog; fuzzy string similarity instead
picks whichever title shares the most letters ("neuroblastoma anaplásico" → 8246/34).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from engine.core.codes import Edition, is_morphology
from engine.core.errors import MorphologyWarning
from engine.core.model import Document
from engine.terms.catalog import Catalog
from engine.terms.dictionary import EDITION_DICTIONARIES, LinkingRule, TermDictionary
from engine.text.normalize import fold, term_key

__all__ = [
    "CLAUSE_END", "STAGE_REACH", "Composed", "MorphologyComposer", "graded_end", "is_spread_stage", "no_morphology_note",
    "spread_joins", "staging_spans",
]


def no_morphology_note(document: Document) -> str | None:
    """The ICD-W103 line for a document whose language has no ICD-O-3 dictionary (None if it has one):
    the tumour passes of the CLI and the window code its ICD-10 and say so instead of failing."""
    languages = EDITION_DICTIONARIES[Edition.ICDO3]
    if document.language in languages:
        return None
    name = document.source or document.id
    return str(MorphologyWarning(
        f"{name}: no ICD-O-3 morphology dictionary for language {document.language!r} "
        f"(only {', '.join(languages)}): coded with ICD-10 only"))

# Folded words that make a neoplasm metastatic (behaviour /6) in clinical Spanish and English.
_METASTATIC = frozenset(
    "metastasis metastasico metastasica metastasicos metastasicas metastatizado metastatizada implante implantes "
    "recidiva recidivas recaida recaidas infiltracion extension diseminacion progresion siembra secundaria "
    "secundarias secundario secundarios metastatic metastases metastasis secondary".split()
)
_GENERIC_METASTATIC = "8000/6"
# Grade (ICD-O-3 sixth digit) written in the mention; Fuhrman's nuclear grade is the grade as written.
# CANTEMIST train codes "alto grado" 4 (77 of 84) and "bajo grado" 1 (20 of 27).
_GRADES = tuple(
    (re.compile(rf"\b({words}|(grado|grade|f(uhr|urh|hur)mann?) ({roman}|{digit})|g{digit})\b"), str(digit))
    for digit, roman, words in (
        (1, "i", "bien diferenciad[oa]s?|well differentiated|bajo grado|low grade"),
        (2, "ii", "moderadamente diferenciad[oa]s?|moderately differentiated|grado intermedio|intermediate grade"),
        (3, "iii", "(poco|pobremente|mal) diferenciad[oa]s?|poorly differentiated"),
        (4, "iv", "indiferenciad[oa]s?|anaplasic[oa]s?|undifferentiated|anaplastic|alto grado|high grade"),
    )
)


# A TNM stage ("pT2N1M0", "cT3 cN0 M0"): CANTEMIST codes it as a spread of an unnamed neoplasm (8000/6),
# the whole stage where it is written without spaces, its M part alone where it is spaced out (on train,
# every stage this finds is annotated: 188 with exactly this span, 54 inside a longer tumour mention).
_STAGE = re.compile(
    r"(?<!\w)(?:[cpyrua]{0,3}T(?:is|[0-4x])[a-d]?\d?(?:\([^)\n]{0,12}\))?(?P<gap1>\s?)[cpy]{0,2}N[0-3x][a-c]?"
    r"(?:mic?|\([^)\n]{0,12}\))?(?P<gap2>\s?)(?P<m>[cpy]{0,2}M[01x][a-d]?))(?!\w)",
    re.IGNORECASE,
)
# A mention whose first word heads this many dictionary terms, at least ``min_share`` of them with one
# code, takes that code when nothing else codes it ("lesión a nivel del seno esfenoidal" → 8000/6, as
# "lesión hepática", "lesión ósea", ... are).
_MIN_HEADED = 8


# A stage that says the tumour has spread: CANTEMIST train codes every mention holding an M1 stage /6
# (111 of 111), and every one holding "estadio IV" (77 of 77).
_STAGE_IV = re.compile(r"\b(?:estadio|e|stage) (?:iv|4)[a-c]?\b")
_M1 = re.compile(r"[cpy]{0,2}M1[a-d]?", re.IGNORECASE)


def _distant(text: str, key: str) -> bool:
    """Whether a mention (as written, and in ``term_key`` form) gives a distant-metastasis stage."""
    return bool(_STAGE_IV.search(key)) or any(_M1.fullmatch(match.group("m")) for match in _STAGE.finditer(text))


def is_spread_stage(text: str) -> bool:
    """Whether a mention is a TNM stage with distant metastasis (M1), which CANTEMIST marks as part of the
    tumour mention before it ("Carcinoma renal de células claras pT1bN1M1": 52 of 67 such stages in
    train), where an M0 or Mx stage stands alone (112 of 115)."""
    stage = _STAGE.fullmatch(text)
    return bool(_M1.fullmatch(stage.group("m")) if stage else _M1.fullmatch(text))


STAGE_REACH = 80  # characters back to the tumour mention a spread stage belongs to
CLAUSE_END = re.compile(r"[.;\n]")


def staging_spans(text: str) -> list[tuple[int, int]]:
    """Where ``text`` writes a TNM stage, as CANTEMIST marks it: whole, or its M part if spaced out."""
    return [
        match.span() if not (match.group("gap1") or match.group("gap2")) else match.span("m")
        for match in _STAGE.finditer(text)
    ]


# A Gleason score ("Gleason 7", "Gleason 4+5", "Gleason 7 (3+4)") as CANTEMIST train grades it: up to 6
# well (1), 7 moderately (2), 8 poorly (3), 9 and 10 undifferentiated (4).
_GLEASON = re.compile(r"\bgleason (\d{1,2})(?: (\d))?\b")


def _grade(key: str) -> str | None:
    """The grade digit a mention's words (``term_key`` form) give, if any."""
    if gleason := _GLEASON.search(key):
        first, second = int(gleason.group(1)), gleason.group(2)
        score = first + int(second) if second and first <= 5 else first
        return {7: "2", 8: "3"}.get(score, "1" if score <= 6 else "4")
    return next((digit for pattern, digit in _GRADES if pattern.search(key)), None)


_GLEASON_WRITTEN = re.compile(r"\bgleason(?: +\d{1,2}){1,3}")  # folded: "Gleason (4+5)" is "gleason  4 5 "
_WRITTEN_GRADES = (*(pattern for pattern, _ in _GRADES), _GLEASON_WRITTEN)
_GRADE_REACH = 60  # characters after a mention in which its grade may follow


def graded_end(text: str, end: int, stop: int) -> int:
    """Where a mention ending at ``end`` ends with the grade written after it in the same clause (before
    ``stop``), as CANTEMIST marks it ("carcinoma renal de células claras grado 3"); else ``end``."""
    window = text[end : min(stop, end + _GRADE_REACH)]
    window = window[: m.start()] if (m := CLAUSE_END.search(window)) else window
    folded = fold(window)
    if len(folded) != len(window):
        return end
    found = [match.end() for pattern in _WRITTEN_GRADES if (match := pattern.search(folded))]
    return end + min(found) if found else end


_JOINERS = frozenset({"de", "por", "de un", "de una", "de la", "del"})
_BENIGN = frozenset({"benigno", "benigna", "benignos", "benignas", "benign"})
_MALIGNANT = frozenset({"maligno", "maligna", "malignos", "malignas", "malignant"})
_IN_SITU = "in situ"
_SPREAD_WORDS = _MALIGNANT | {"metastasico", "metastasica", "metastasicos", "metastasicas", "metastatic"}
_SPREAD_NOUNS = frozenset({"metastasis"})
_SPREAD_GAP_WORDS = 4


def spread_joins(left: str, gap: str, right: str, named: Callable[[str], bool]) -> bool:
    """Whether two neighbouring mentions are one, as CANTEMIST marks a spread of a named tumour
    ("metástasis de feocromocitoma", 8700/6) and a named tumour with the word that says it spread or
    is malignant ("tumor germinal metastásico", "feocromocitoma con metástasis", "tumor Phyllodes
    maligno": in train 206 such mentions are one, 26 two, most of those two a lesion of no named
    histology: "lesiones óseas" "metastásicas").  ``named``: whether words name a histology."""
    joiner, after = term_key(gap), term_key(right)
    if (not joiner and after in _SPREAD_WORDS) or (joiner == "con" and after in _SPREAD_NOUNS):
        return named(left)
    words = joiner.split(" ")
    spread = joiner in _JOINERS or (
        len(words) <= _SPREAD_GAP_WORDS and words[-1] in _JOINERS and not CLAUSE_END.search(gap) and "," not in gap)
    return spread and any(word in _METASTATIC for word in term_key(left).split(" "))


@dataclass(frozen=True, slots=True)
class Composed:
    code: str
    evidence: str  # the dictionary term and the modifiers it was composed from
    share: float  # the histology term's share of its dictionary counts
    modified: bool  # a known histology with behaviour or grade changed by the mention's words


class MorphologyComposer:
    """Composes a morphology code from the longest known histology in a mention and its modifiers."""

    def __init__(self, dictionary: TermDictionary, catalog: Catalog, rule: LinkingRule) -> None:
        self.dictionary = dictionary
        self.catalog = catalog
        self.rule = rule

    def compose(self, text: str) -> Composed | None:
        """The composed code, or None where no part of the mention is a known tumour term."""
        key = term_key(text)
        words = key.split(" ")
        head = self._histology(words)
        metastatic = any(word in _METASTATIC for word in words) or _distant(text, key)
        if head is None:
            if metastatic or _STAGE.fullmatch(text.strip()):
                return Composed(_GENERIC_METASTATIC, "metastatic words" if metastatic else "TNM stage", 0.5, False)
            # A head word's code is a guess from its neighbours' terms: not where the text says benign.
            headed = self._headed.get(words[0]) if len(words) > 1 and _BENIGN.isdisjoint(words) else None
            return Composed(headed[0], f"{words[0]} ...", headed[1], False) if headed else None
        term, code, share, (first, last) = head
        histology, behaviour = code[:4], code[5]
        # A grade word of the histology's own name is not a grade: "carcinoma indiferenciado" is 8020/3.
        grade = _grade(" ".join(words[:first] + words[last:])) or code[6:7].strip("/")
        modifiers = []
        if metastatic and behaviour != "6":
            behaviour = "6"
            modifiers.append("metastatic")
        elif behaviour != "2" and f" {_IN_SITU} " in f" {key} " and not metastatic:
            behaviour = "2"  # CANTEMIST train: every mention saying "in situ" (10 of 10)
            modifiers.append("in situ")
        elif behaviour in "01" and not _MALIGNANT.isdisjoint(words):
            behaviour = "3"  # "tumor Phyllodes maligno" 9020/3; CANTEMIST train: 150 of 166 such mentions /3
            modifiers.append("malignant")
        elif grade in ("3", "4") and grade != code[6:7] and behaviour in "01":
            # A high grade is a malignant neoplasm's: "tumor indiferenciado" is 8000/34; a low one stays
            # as it is ("tumor Phyllodes de bajo grado" 9020/11, "melanocitoma de grado intermedio" 8726/02).
            behaviour = "3"
        if grade and grade != code[6:7]:
            modifiers.append(f"grade {grade}")
        if not modifiers:
            # More words than a known histology, none of them behaviour or grade: on CANTEMIST train →
            # dev1 neither the histology's code (7 right, 88 wrong) nor it with CANTEMIST's "more specific"
            # mark /H (11 right, 84 wrong) was right often enough to assign.
            return None
        for candidate in (f"{histology}/{behaviour}{grade}", f"{histology}/{behaviour}", code):
            if self.catalog.is_valid(candidate):
                return Composed(candidate, " + ".join([term, *modifiers]), share, True)
        return None

    @cached_property
    def _headed(self) -> dict[str, tuple[str, float]]:
        """First word → the code most multi-word terms it heads have, where they mostly agree."""
        heads: defaultdict[str, Counter[str]] = defaultdict(Counter)
        for key, _, codes, _ in self.dictionary.term_codes():
            first, _, rest = key.partition(" ")
            if rest and is_morphology(codes[0][0]):
                heads[first][max(codes, key=lambda c: (c[1], c[0]))[0]] += 1
        settled = {}
        for first, votes in heads.items():
            code, top = max(votes.items(), key=lambda item: (item[1], item[0]))
            share = top / sum(votes.values())
            if top >= _MIN_HEADED and share >= self.rule.min_share and self.catalog.is_valid(code):
                settled[first] = (code, share)
        return settled

    def _histology(self, words: list[str]) -> tuple[str, str, float, tuple[int, int]] | None:
        """The longest run of words that is a settled tumour term (not a bare metastatic word)."""
        for length in range(len(words) - 1, 0, -1):
            for start in range(len(words) - length + 1):
                part = words[start : start + length]
                if length == 1 and part[0] in _METASTATIC:
                    continue
                entry = self.dictionary.entry(" ".join(part))
                decided = self.rule.decide(entry) if entry else None
                if decided and is_morphology(decided[0]) and decided[0] != _GENERIC_METASTATIC:
                    return entry.display, decided[0], decided[1], (start, start + length)
        return None
