"""Folding that makes Greco-Latin medical words of different languages meet.

Medical vocabulary is mostly the same Greek and Latin words spelled each language's way:
disnea, dyspnoea, Dyspnoe, dyspnée, δύσπνοια.  After the ordinary folding
(``engine.text.normalize``), a word here is transliterated from Greek the way Latin
borrowed it (φ → ph, οι → oe, υ → y), then the spellings that differ between languages
are made one (ph → f, th → t, y → i, ae/oe → e, k → c, doubled letters single), and the
endings that carry no meaning across languages are cut (-osis/-ose, -ía/-ie/-y, a final
vowel).  Every one of those five words becomes ``disn``.  The result is only a retrieval
key, never shown: two different words may share it, and the fuzzy ranking sorts them out.
"""

from __future__ import annotations

import re
from functools import lru_cache

from engine.text.normalize import term_key

__all__ = ["cognate_key", "cognate_word", "transliterate_greek"]

# Greek as Latin borrowed it (classical, not modern, pronunciation: the cognates are classical).
# Pairs first; input is already folded (no accents, lower case, final sigma medial).
_GREEK_PAIRS = {
    "ου": "u", "αι": "ae", "οι": "oe", "ει": "i", "αυ": "au", "ευ": "eu",
    "γγ": "ng", "γκ": "nc", "γχ": "nch", "γξ": "nx",
}
_GREEK = {
    "α": "a", "β": "b", "γ": "g", "δ": "d", "ε": "e", "ζ": "z", "η": "e", "θ": "th", "ι": "i",
    "κ": "c", "λ": "l", "μ": "m", "ν": "n", "ξ": "x", "ο": "o", "π": "p", "ρ": "r", "σ": "s",
    "τ": "t", "υ": "y", "φ": "ph", "χ": "ch", "ψ": "ps", "ω": "o",
}
_GREEK_RE = re.compile("|".join([*_GREEK_PAIRS, *_GREEK]))
# Initial letters that had a rough breathing, which monotonic spelling no longer writes (ύδωρ, αίμα).
_GREEK_ROUGH = (("υ", "hy"), ("αιμ", "haem"))
# German umlauts stand for the Latin diphthongs (Ödem, Ischämie), before accents are folded away.
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})
# Spellings that differ between the languages for one sound, in this order ("tion" before "t";
# "ch" before "c" stays "c"; "pn" is Spanish dropping the p of pneumo-, dyspnoea).
_SPELLINGS = (
    ("tion", "cion"), ("ph", "f"), ("th", "t"), ("rh", "r"), ("ch", "c"), ("kh", "c"), ("qu", "c"),
    ("k", "c"), ("z", "c"), ("y", "i"), ("ae", "e"), ("oe", "e"), ("pn", "n"),
)
_DOUBLED = re.compile(r"([a-z])\1+")
_SPANISH_E = re.compile(r"^es(?=[bcdfgmnpqrtv])")  # estenosis, espasmo: stenosis, spasm
# Endings that only mark the language ("-osis"/"-ose", "-itis"/"-ite", German "-isch").
_ENDINGS = (("osis", "os"), ("itis", "it"), ("ismus", "ism"), ("ismo", "ism"))
_FINAL_VOWELS = re.compile(r"(?<=[a-z]{4})[aeiou]+$")
# After the final vowel: German "-isch(e)" and Greek "-ίτιδα" (the modern form of -itis).
_STEM_ENDINGS = (("isc", "ic"), ("itid", "it"))


def transliterate_greek(word: str) -> str:
    """A folded word with its Greek letters written in Latin ones (other letters unchanged)."""
    for start, latin in _GREEK_ROUGH:
        if word.startswith(start):
            word = latin + word[len(start):]
            break
    return _GREEK_RE.sub(lambda match: _GREEK_PAIRS.get(match[0]) or _GREEK[match[0]], word)


@lru_cache(maxsize=1 << 16)
def cognate_word(word: str) -> str:
    """The cross-language form of one folded word (``engine.text.normalize.term_key``'s tokens)."""
    word = transliterate_greek(word)
    for spelling, common in _SPELLINGS:
        word = word.replace(spelling, common)
    word = _SPANISH_E.sub("s", _DOUBLED.sub(r"\1", word))
    for ending, common in _ENDINGS:
        if word.endswith(ending) and len(word) > len(ending) + 2:
            word = word[: -len(ending)] + common
            break
    word = _FINAL_VOWELS.sub("", word)
    for ending, common in _STEM_ENDINGS:
        if word.endswith(ending) and len(word) > len(ending) + 2:
            return word[: -len(ending)] + common
    return word


def cognate_key(text: str, leave_out: frozenset[str] = frozenset()) -> str:
    """The cross-language key of a term or mention: its folded words, those in ``leave_out``
    (function words, folded) dropped, each in its cross-language form."""
    words = term_key(text.translate(_UMLAUTS)).split(" ")
    return " ".join(cognate_word(word) for word in words if word and word not in leave_out)
