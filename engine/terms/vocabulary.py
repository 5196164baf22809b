"""Word classes a linker needs to tell a diagnosis from words around one, per language.

Three kinds, each derived from data where data exists:

* **Side words** ("derecho", "links", "bilateral"): a short list per language, because a code
  that names a side (ICD-10-CM's "Pain in right leg") is only right when the text names it too.
* **Generic words** ("enfermedad", "Krankheit"): single words whose longer terms in the
  dictionary spread over many unrelated categories ("enfermedad de Crohn", "enfermedad
  coronaria", ...).  Alone they name no particular disease.
* **Site words** ("arteria", "mesentérica", "superior"): the words of the body sites the
  catalog's injury titles and terms name ("Traumatismo de *la arteria ...*"), less words that
  mostly start titles and terms (disorders: "fractura", "quiste") and words that are terms for
  something else themselves ("hemorrhage").  A mention made only of site words (and side
  words) is a body part, not a diagnosis.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable
from enum import Enum
from functools import cached_property

from engine.core.progress import give_way
from engine.terms.catalog import Catalog
from engine.terms.dictionary import TermDictionary
from engine.text.normalize import term_key

__all__ = ["GENERIC_SPREAD_BITS", "Side", "Vocabulary", "side_of_words"]


class Side(Enum):
    RIGHT = "right"
    LEFT = "left"
    BILATERAL = "bilateral"
    UNSPECIFIED = "unspecified"


# Folded words (see engine.text.normalize) per language: exact forms, then prefixes (German and
# Greek inflect too much to list).  "od"/"oi" are the Spanish eye abbreviations (ojo derecho/izquierdo).
_SIDE_WORDS: dict[str, dict[Side, tuple[frozenset[str], tuple[str, ...]]]] = {
    "es": {
        Side.RIGHT: (frozenset({"dcho", "dcha", "od"}), ("derech",)),
        Side.LEFT: (frozenset({"izq", "izdo", "izda", "oi"}), ("izquierd",)),
        Side.BILATERAL: (frozenset({"ambos", "ambas"}), ("bilateral",)),
    },
    "en": {
        Side.RIGHT: (frozenset({"right"}), ()),
        Side.LEFT: (frozenset({"left"}), ()),
        Side.BILATERAL: (frozenset({"both", "bilateral", "bilaterally"}), ()),
    },
    "de": {
        Side.RIGHT: (frozenset({"re"}), ("recht",)),
        Side.LEFT: (frozenset({"li"}), ("link",)),
        Side.BILATERAL: (frozenset({"bds"}), ("beidseit", "bilateral")),
    },
    "fr": {
        Side.RIGHT: (frozenset({"droit", "droite", "droits", "droites"}), ()),
        Side.LEFT: (frozenset({"gauche", "gauches"}), ()),
        Side.BILATERAL: (frozenset(), ("bilateral",)),
    },
    "el": {
        Side.RIGHT: (frozenset(), ("δεξι",)),
        Side.LEFT: (frozenset(), ("αριστερ",)),
        Side.BILATERAL: (frozenset(), ("αμφοτεροπλευρ", "αμφιπλευρ")),
    },
}

# The words spread over at least this many bits of categories are generic: 6 bits is as spread
# as 64 equally likely categories.  On the bundled dictionaries this keeps "enfermedad",
# "accidente" (es), "Krankheit", "Infektion" (de), and leaves "dolor", "Pneumonie" or "Fieber" codable.
GENERIC_SPREAD_BITS = 6.0
_MIN_LONGER_TERMS = 20  # fewer longer terms than this say nothing about a word's spread

# Codes whose titles name body sites: injuries by site ("Injury of superior mesenteric artery").
# Neoplasm titles name sites too, but also morphologies ("sarcoma", "metastasis").
_INJURY_CODES = ("S",)
# A site word starts at most this share of the titles and terms it is in ("arteria" starts
# "arteria mesentérica superior" but sits later in "aneurisma de arteria ..."; "metástasis"
# starts most of its terms).
_SITE_FIRST_SHARE = 0.1
_CHECK_EVERY = 512  # terms or titles between two cancel checks while an index is built
# Words that join site words ("arteria de la pierna"), folded.
_STOPWORDS = frozenset({
    "a", "al", "con", "de", "del", "e", "el", "en", "la", "las", "los", "o", "y", "of", "the", "and", "or",
    "der", "die", "das", "des", "dem", "den", "und", "oder", "le", "les", "du", "et", "ou",
    "του", "της", "των", "και",
})


def side_of_words(words: list[str], language: str) -> list[Side]:
    """The sides folded ``words`` name, in order (a word may name none)."""
    table = _SIDE_WORDS.get(language, {})
    sides = []
    for word in words:
        for side, (exact, prefixes) in table.items():
            if word in exact or word.startswith(prefixes):
                sides.append(side)
                break
    return sides


class Vocabulary:
    """Generic words and site words of one dictionary and catalog, measured per word on first use.

    A dictionary has up to 90,000 terms: only the terms that contain a word asked about are read.
    ``checkpoint`` is called while the word indexes are first built (a cancel raises there).
    """

    def __init__(self, dictionary: TermDictionary, catalog: Catalog) -> None:
        self.dictionary = dictionary
        self.catalog = catalog
        self.checkpoint: Callable[[], None] | None = None
        self._generic: dict[str, bool] = {}
        self._site: dict[str, bool] = {}

    def is_generic(self, key: str) -> bool:
        """A single word whose longer terms spread over ``GENERIC_SPREAD_BITS`` or more of categories."""
        if " " in key:
            return False
        if key not in self._generic:
            keys = self._terms_with.get(key, [])
            self._generic[key] = len(keys) >= _MIN_LONGER_TERMS and _bits(Counter(
                code[:3] for code in map(self._top_code, keys) if code
            )) >= GENERIC_SPREAD_BITS
        return self._generic[key]

    def is_site_only(self, key: str) -> bool:
        """Every informative word names a body site (or a side): a body part, not a diagnosis."""
        words = [w for w in key.split() if w not in _STOPWORDS]
        informative = [w for w in words if not side_of_words([w], self.dictionary.language)]
        return bool(informative) and all(map(self._is_site, informative))

    def _is_site(self, word: str) -> bool:
        """Rarely a title's or term's first word, later in an injury title or term, and
        not itself a term for anything but an injury ("hemorrhage", "metastasis" sit late in
        English titles but are disorders).

        Terms count too because a catalog's titles in the language may stop at the category
        (CIE-10-ES has Spanish titles for 12 % of its codes).
        """
        if word not in self._site:
            title_first, title_later, site_titles = self._titles
            keys = self._terms_with.get(word, [])
            later = [key for key in keys if not key.startswith(word + " ")]
            first = len(keys) - len(later) + (self.dictionary.entry(word) is not None) + title_first[word]
            in_site = word in site_titles or any(
                (self._top_code(key) or "").startswith(_INJURY_CODES) for key in later
            )
            alone = self._top_code(word)  # a word that is itself a term for something else names a disorder
            self._site[word] = (
                in_site and (alone is None or alone.startswith(_INJURY_CODES))
                and first <= _SITE_FIRST_SHARE * (first + len(later) + title_later[word])
            )
        return self._site[word]

    def _top_code(self, key: str) -> str | None:
        entry = self.dictionary.entry(key)
        return entry.codes[0][0] if entry else None

    @cached_property
    def _terms_with(self) -> dict[str, list[str]]:
        """Word → the dictionary's terms of two or more words that contain it."""
        index: dict[str, list[str]] = defaultdict(list)
        for done, key in enumerate(self.dictionary.keys()):
            self._check(done)
            words = key.split()
            if len(words) > 1:
                for word in set(words):
                    index[word].append(key)
        return dict(index)

    @cached_property
    def _titles(self) -> tuple[Counter[str], Counter[str], frozenset[str]]:
        """Titles in the language: how often each word comes first, how often later, and the
        later words of injury titles."""
        first: Counter[str] = Counter()
        later: Counter[str] = Counter()
        site_words: set[str] = set()
        for done, node in enumerate(self.catalog.codes()):
            self._check(done)
            title = node.titles.get(self.dictionary.language)
            words = term_key(title).split() if title else []
            if words:
                first[words[0]] += 1
                later.update(words[1:])
                if node.code.startswith(_INJURY_CODES):
                    site_words.update(words[1:])
        return first, later, frozenset(site_words)

    def _check(self, done: int) -> None:
        if not done % _CHECK_EVERY:
            (self.checkpoint or give_way)()


def _bits(counts: Counter[str]) -> float:
    total = sum(counts.values())
    return -sum(n / total * math.log2(n / total) for n in counts.values()) if total else 0.0
