"""Negated mentions ("sin dolor", "no evidence of pneumonia", "kein Hinweis auf").

Negation is the most common complaint about clinical linkers, and coding a
finding the text rules out is worse than missing one.  This is a NegEx-style
look-back: a cue among the few words before a mention, with no clause break
(punctuation or a contrasting conjunction) in between.
"""

from __future__ import annotations

import re

from engine.text.normalize import term_key

__all__ = ["negation_cue"]

_WINDOW_WORDS = 5
_LOOK_BACK_CHARS = 80
_CLAUSE_BREAK = re.compile(r"[.;:!?\n\r]")

# Folded single-word cues (accents removed, lower case), per language.
_CUES = {
    "es": {"no", "sin", "niega", "nego", "negativo", "negativa", "negativos", "negativas", "descarta",
           "descarto", "descartado", "descartada", "descartandose", "ausencia", "ni", "libre", "libres"},
    "en": {"no", "not", "without", "denies", "denied", "negative", "absence", "absent", "nor", "free",
           "excluded", "ruled"},
    "de": {"kein", "keine", "keinen", "keiner", "keinem", "ohne", "nicht", "negativ", "ausgeschlossen"},
    "fr": {"pas", "sans", "aucun", "aucune", "absence", "ni", "negatif", "negative", "exclu", "exclue"},
    "el": {"δεν", "χωρισ", "οχι", "αρνητικο", "αρνητικη", "απουσια"},
}
# Words that end a negation's reach ("sin fiebre pero con dolor").
_TERMINATORS = {
    "es": {"pero", "aunque", "salvo", "excepto", "sino", "con"},
    "en": {"but", "although", "except", "with"},
    "de": {"aber", "jedoch", "ausser", "mit"},
    "fr": {"mais", "sauf", "avec"},
    "el": {"αλλα", "εκτοσ", "με"},
}


def negation_cue(text: str, start: int, language: str) -> str | None:
    """The cue that negates a mention starting at ``start``, or None."""
    cues = _CUES.get(language)
    if not cues:
        return None
    before = text[max(0, start - _LOOK_BACK_CHARS) : start]
    clause = _CLAUSE_BREAK.split(before)[-1]
    words = term_key(clause).split()[-_WINDOW_WORDS:]
    terminators = _TERMINATORS[language]
    for word in reversed(words):
        if word in terminators:
            return None
        if word in cues:
            return word
    return None
