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
from dataclasses import dataclass

from engine.core.codes import is_morphology
from engine.terms.catalog import Catalog
from engine.terms.dictionary import LinkingRule, TermDictionary
from engine.text.normalize import term_key

__all__ = ["Composed", "MorphologyComposer"]

# Folded words that make a neoplasm metastatic (behaviour /6) in clinical Spanish and English.
_METASTATIC = frozenset(
    "metastasis metastasico metastasica metastasicos metastasicas metastatizado metastatizada implante implantes "
    "recidiva recidivas recaida recaidas infiltracion extension diseminacion progresion siembra secundaria "
    "secundarias secundario secundarios metastatic metastases metastasis secondary".split()
)
_GENERIC_METASTATIC = "8000/6"
# Grade (ICD-O-3 sixth digit) written in the mention.
_GRADES = tuple(
    (re.compile(rf"\b({words}|grado ({roman}|{digit})|g{digit}|grade ({roman}|{digit}))\b"), str(digit))
    for digit, roman, words in (
        (1, "i", "bien diferenciad[oa]s?|well differentiated"),
        (2, "ii", "moderadamente diferenciad[oa]s?|moderately differentiated"),
        (3, "iii", "(poco|pobremente|mal) diferenciad[oa]s?|poorly differentiated"),
        (4, "iv", "indiferenciad[oa]s?|anaplasic[oa]s?|undifferentiated|anaplastic"),
    )
)


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
        metastatic = any(word in _METASTATIC for word in words)
        if head is None:
            return Composed(_GENERIC_METASTATIC, "metastatic words", 0.5, False) if metastatic else None
        term, code, share = head
        histology, behaviour = code[:4], code[5]
        grade = next((digit for pattern, digit in _GRADES if pattern.search(key)), code[6:7].strip("/"))
        modifiers = []
        if metastatic and behaviour != "6":
            behaviour = "6"
            modifiers.append("metastatic")
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

    def _histology(self, words: list[str]) -> tuple[str, str, float] | None:
        """The longest run of words that is a settled tumour term (not a bare metastatic word)."""
        for length in range(len(words) - 1, 0, -1):
            for start in range(len(words) - length + 1):
                part = words[start : start + length]
                if length == 1 and part[0] in _METASTATIC:
                    continue
                entry = self.dictionary.entry(" ".join(part))
                decided = self.rule.decide(entry) if entry else None
                if decided and is_morphology(decided[0]) and decided[0] != _GENERIC_METASTATIC:
                    return entry.display, decided[0], decided[1]
        return None
