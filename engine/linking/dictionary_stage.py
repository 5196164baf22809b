"""The dictionary stage: settle unambiguous mentions, rank candidates for the rest."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache

from engine.core.codes import Edition
from engine.core.model import Assignment, Candidate, Mention, ReviewStatus, Span, Stage
from engine.linking.candidates import CandidateIndex, FuzzyIndex
from engine.linking.mention_checks import MentionChecks
from engine.linking.morphology import Composed, MorphologyComposer
from engine.terms.catalog import Catalog
from engine.terms.dictionary import LinkingRule, TermDictionary, TermEntry
from engine.text.normalize import term_key

__all__ = ["ABBREVIATION", "DictionaryLinker", "LinkerSettings"]

# Provenance key: what a lexicon abbreviation the mention is stands for ("atrial fibrillation" for "AF").
ABBREVIATION = "abbreviation"


@dataclass(frozen=True, slots=True)
class LinkerSettings:
    rule: LinkingRule = field(default_factory=LinkingRule)
    # Best candidate score (0–1) needed for a fuzzy assignment; below it the
    # mention keeps its candidates but no code.  Chosen on CodiEsp train with a
    # dictionary built without train (category F1 peaks at 0.7).
    fuzzy_threshold: float = 0.7
    candidates: int = 10
    # Other languages' terms and titles (``engine.linking.cross_lingual``) are searched for a mention
    # that is not a dictionary term when its own language's best candidate scores below this; 0
    # never.  Chosen on CodiEsp train with a titles-only dictionary: category F1 0.425 without,
    # 0.601 at 0.95 (0.600 at 1.01, 0.532 at 0.7; README, "Cross-lingual candidates").
    cross_lingual: bool = True
    cross_lingual_below: float = 0.95


# Distinct mention texts whose decision is remembered: a long document (or a
# batch) repeats its terms, and a fuzzy retrieval costs about a millisecond.
_REMEMBERED = 8192


class DictionaryLinker:
    """Links mentions by exact dictionary lookup, with a fuzzy fallback.

    Every assignment carries the candidates it was chosen from, so the LLM
    stage and the coder see the same alternatives.
    """

    def __init__(
        self,
        dictionary: TermDictionary,
        catalog: Catalog,
        index: CandidateIndex,
        settings: LinkerSettings | None = None,
        cross_lingual: FuzzyIndex | None = None,
    ) -> None:
        self.dictionary = dictionary
        self.catalog = catalog
        self.index = index
        self.cross_lingual = cross_lingual  # ``engine.linking.cross_lingual``; None: own language only
        self.settings = settings or LinkerSettings()
        self.checks = MentionChecks(dictionary, catalog)
        # ICD-O-3 codes are built from parts, so a mention the dictionary lacks whole is composed from them.
        self.composer = (
            MorphologyComposer(dictionary, catalog, self.settings.rule) if catalog.edition is Edition.ICDO3 else None
        )
        self._decide = lru_cache(maxsize=_REMEMBERED)(self._decide_text)

    def link(self, mention: Mention) -> Assignment:
        """The decision for the mention's text (the same for every mention with that text)."""
        return replace(self._decide(mention.text), mention=mention)

    def _decide_text(self, text: str) -> Assignment:
        self.checks.vocabulary.checkpoint = self.index.checkpoint  # a cancel also stops its first measuring
        assignment = self._lookup_or_rank(Mention((Span(0, len(text)),), text))
        if abbreviation := self.dictionary.abbreviations.get(term_key(text)):
            expansion = {ABBREVIATION: abbreviation.expansion(assignment.code)}
            assignment = replace(assignment, provenance={**assignment.provenance, **expansion})
        return self.checks.review(assignment)

    def _lookup_or_rank(self, mention: Mention) -> Assignment:
        entry = self.dictionary.lookup(mention.text)
        exact = self._exact_candidates(entry) if entry else []
        if entry and exact:
            decided = self.settings.rule.decide(entry)
            if decided and self.catalog.is_valid(decided[0]):
                code, share = decided
                return self._assign(mention, code, Stage.DICTIONARY, share, entry.display, exact)
        candidates = _merge(exact, self.index.retrieve(mention.text, self.settings.candidates))
        if not exact and self.cross_lingual is not None and self.settings.cross_lingual_below > (
                candidates[0].score if candidates else 0.0):
            candidates = _by_score(candidates, self.cross_lingual.retrieve(mention.text, self.settings.candidates))
        candidates = candidates[: self.settings.candidates]
        composed = self.composer.compose(mention.text) if self.composer is not None and not exact else None
        if composed is not None and composed.modified:  # a known histology, its behaviour or grade changed
            return self._composed(mention, composed, candidates)
        best = candidates[0] if candidates else None
        if best is None or (not exact and best.score < self.settings.fuzzy_threshold):
            if composed is not None:
                return self._composed(mention, composed, candidates)
            return Assignment(
                mention, None, self.catalog.edition, "", None, 0.0,
                status=ReviewStatus.NEEDS_REVIEW, candidates=tuple(candidates),
            )
        evidence = entry.display if entry and best.source.startswith("dictionary") else best.source
        return self._assign(mention, best.code, Stage.FUZZY, best.score, evidence, candidates)

    def _composed(self, mention: Mention, composed: Composed, candidates: list[Candidate]) -> Assignment:
        """A morphology built from a known histology and the mention's modifiers, first among the candidates."""
        title = self.catalog.title(composed.code, self.dictionary.language)
        first = Candidate(composed.code, self.catalog.edition, title, composed.share, "composed")
        candidates = _merge([first], candidates)[: self.settings.candidates]
        return self._assign(mention, composed.code, Stage.FUZZY, composed.share, composed.evidence, candidates)

    def _assign(
        self, mention: Mention, code: str, stage: Stage, score: float, evidence: str, candidates: list[Candidate]
    ) -> Assignment:
        status = ReviewStatus.PENDING if stage is Stage.DICTIONARY else ReviewStatus.NEEDS_REVIEW
        title = self.catalog.title(code, self.dictionary.language)
        return Assignment(
            mention, code, self.catalog.edition, title, stage, score, evidence, status, tuple(candidates)
        )

    def exact_candidates(self, text: str) -> list[Candidate]:
        """The bundled dictionary's own codes for these words, without any fuzzy ranking."""
        entry = self.dictionary.lookup(text)
        return self._exact_candidates(entry) if entry else []

    def _exact_candidates(self, entry: TermEntry) -> list[Candidate]:
        """The term's own codes, scored by their share of its counts."""
        total = entry.total
        return [
            Candidate(
                code, self.catalog.edition, self.catalog.title(code, self.dictionary.language),
                count / total, "dictionary:" + ",".join(sorted(entry.sources)),
            )
            for code, count in entry.codes
            if self.catalog.is_valid(code)
        ]


def _by_score(own: list[Candidate], other: list[Candidate]) -> list[Candidate]:
    """Both lists as one, best score first; a code in both keeps its better one (``own``'s on a tie)."""
    best: dict[str, Candidate] = {}
    for candidate in (*own, *other):
        if candidate.code not in best or candidate.score > best[candidate.code].score:
            best[candidate.code] = candidate
    return sorted(best.values(), key=lambda c: -c.score)  # stable: own before other on equal scores


def _merge(first: list[Candidate], then: list[Candidate]) -> list[Candidate]:
    """``first`` in order, then codes of ``then`` not already there."""
    seen = {c.code for c in first}
    return first + [c for c in then if c.code not in seen]
