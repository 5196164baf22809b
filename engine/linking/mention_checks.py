"""Second looks at a linked mention: is it a diagnosis at all, and does the code's side match the text's?

Each check is a mechanism, not a list of cases (see ``engine.terms.vocabulary``):

* **Body sites** ("arteria mesentérica superior"): a mention of site words only is not a
  diagnosis; it gets no code and is not reported as detected.
* **Generic words** ("enfermedad", "Krankheit"): alone they name no disease.  Where the
  annotated corpus shows coders code the word anyway (CodiEsp's 129 train annotations of a bare
  "enfermedad" are all R69, and so are its 70 on dev), it keeps that code for review; where no
  corpus says so it gets no code and is not reported as detected.
* **Laterality** ("dolor en ambos miembros inferiores" → "Pain in right leg"): a code whose
  title names a side the text does not is replaced by its sibling for the side the text names
  (or the sibling for an unspecified side when it names none); without such a sibling the
  code stays, at half its score, for review.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from engine.core.model import Assignment, Candidate, ReviewStatus
from engine.terms.catalog import Catalog
from engine.terms.dictionary import TermDictionary
from engine.terms.vocabulary import Side, Vocabulary, side_of_words
from engine.text.normalize import term_key

__all__ = ["NOT_A_DIAGNOSIS", "MentionChecks"]

# Provenance key of a mention that names no diagnosis; detection does not report it.
NOT_A_DIAGNOSIS = "not_a_diagnosis"

# Title words dropped to compare siblings that differ only by side ("Pain in right leg",
# "Pain in leg, unspecified"), folded.
_SIDE_NOISE = frozenset({"unspecified", "side", "sides"})
# A code's side is read from its English title: CIE-10-ES codes below the category have no
# other, and codes with a side are ICD-10-CM's (ICD-10-GM and WHO codes name none).
_TITLE_LANGUAGE = "en"


class MentionChecks:
    """The checks of one dictionary and catalog; the vocabulary is measured on first use."""

    def __init__(self, dictionary: TermDictionary, catalog: Catalog) -> None:
        self.dictionary = dictionary
        self.catalog = catalog
        self.vocabulary = Vocabulary(dictionary, catalog)
        self._sides = lru_cache(maxsize=4096)(self._sides_of_siblings)

    def review(self, assignment: Assignment) -> Assignment:
        """``assignment`` as the checks leave it (the same object when none applies)."""
        key = term_key(assignment.mention.text)
        if self.vocabulary.is_generic(key):
            entry = self.dictionary.entry(key)
            if entry is None or not entry.annotated or assignment.code is None:
                return _no_code(assignment, "a generic word names no particular disease")
            assignment = _for_review(
                assignment, "generic", "a generic word: coded as the annotated corpus codes it alone"
            )
        elif self.vocabulary.is_site_only(key):
            return _no_code(assignment, "a body site without a disorder is not a diagnosis")
        return self._lateral(assignment) if assignment.code else assignment

    def _lateral(self, assignment: Assignment) -> Assignment:
        code = assignment.code
        assert code is not None
        siblings = self._sides(code)
        if code not in siblings:
            return assignment  # the code names no side
        stated = set(side_of_words(term_key(assignment.mention.text).split(), self.dictionary.language))
        wanted = Side.BILATERAL if len(stated) > 1 else next(iter(stated), Side.UNSPECIFIED)
        if siblings[code] is wanted:
            return assignment
        better = [c for c, side in siblings.items() if side is wanted]
        if not better:
            reason = f"the code names the {siblings[code].value} side; the text says {wanted.value}"
            return replace(_for_review(assignment, "laterality", reason), score=assignment.score / 2)
        chosen = better[0]
        title = self.catalog.title(chosen, self.dictionary.language)
        first = Candidate(chosen, self.catalog.edition, title, assignment.score, f"laterality:{code}")
        candidates = (first, *(c for c in assignment.candidates if c.code != chosen))
        reason = f"the text says {wanted.value}: {code} ({siblings[code].value}) became {chosen}"
        changed = replace(assignment, code=chosen, title=title, candidates=candidates)
        return _for_review(changed, "laterality", reason)

    def _sides_of_siblings(self, code: str) -> dict[str, Side]:
        """The side of ``code`` and of its siblings that differ from it only by side; empty if none."""
        parent = self.catalog.parent(code)
        if parent is None:
            return {}
        mine = self._title_words(code)
        group = {}
        for sibling in self.catalog.children(parent):
            words = self._title_words(sibling)
            if [w for w in words if not _is_side(w)] == [w for w in mine if not _is_side(w)]:
                group[sibling] = side_of_words(words, _TITLE_LANGUAGE)
        if len(group) < 2 or not group[code]:
            return {}
        # Each sibling's own side is the first place where the sides their titles name differ
        # ("Unqualified visual loss, right eye, normal vision left eye" is the right eye's code).
        sequences = list(group.values())
        differing = [i for i in range(max(map(len, sequences))) if len({tuple(s[i:i + 1]) for s in sequences}) > 1]
        if not differing:
            return {}
        at = differing[0]
        return {sibling: sides[at] if len(sides) > at else Side.UNSPECIFIED for sibling, sides in group.items()}

    def _title_words(self, code: str) -> list[str]:
        node = self.catalog.node(code)
        title = node.titles.get(_TITLE_LANGUAGE, "") if node else ""
        return [w for w in term_key(title).split() if w not in _SIDE_NOISE]


def _is_side(word: str) -> bool:
    return bool(side_of_words([word], _TITLE_LANGUAGE))


def _for_review(assignment: Assignment, check: str, reason: str) -> Assignment:
    return replace(
        assignment, status=ReviewStatus.NEEDS_REVIEW, provenance={**assignment.provenance, check: reason}
    )


def _no_code(assignment: Assignment, reason: str) -> Assignment:
    return replace(
        assignment, code=None, title="", stage=None, score=0.0, evidence="", status=ReviewStatus.NEEDS_REVIEW,
        provenance={**assignment.provenance, NOT_A_DIAGNOSIS: reason},
    )
