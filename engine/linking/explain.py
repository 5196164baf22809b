"""Why a code was chosen, and its candidates ranked by the score that chose, in a coder's words.

The stages score candidates on different scales: a dictionary term's codes by their share of the
term's codings (0.40 for the most frequent of several), similar titles and terms by similarity
(0.84), the site's codes by their share of its coders' decisions.  Shown as one column of numbers
they read as unsorted, and a 0.40 choice beside a 0.84 alternative looks wrong.  So every candidate
says which score it has, and they are listed in the order the stages choose: what this site's
coders decided, then the dictionary term's own codes, then the similar ones; each by its score.
The window shows this; the linking logic stays here, out of the widgets.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.core.model import Assignment, Candidate, Stage
from engine.linking.cross_lingual import CROSS_LINGUAL
from engine.linking.dictionary_stage import ABBREVIATION
from engine.linking.specificity import NEEDS_SPECIFIC_CODE

__all__ = ["Explanation", "RankedCandidate", "explain", "source_names"]

# What each dictionary source is, for a coder (ids: see dictionaries/SOURCES.md).
_SOURCE_NAMES = {
    "codiesp-train": "CodiEsp train", "codiesp-dev": "CodiEsp dev", "cie-es": "cie titles",
    "gm-alpha": "GM alphabetical index", "gm-title": "GM titles", "cm-title": "CM titles",
    "cm-inclusion": "CM inclusion terms",
}
_PREFIX_NAMES = {"who": "WHO titles", "curated": "project lexicon"}
_SIMILAR = {"title": "similar title", "term": "similar dictionary term"}


@dataclass(frozen=True, slots=True)
class RankedCandidate:
    candidate: Candidate
    reason: str  # which score it has, in words: "dictionary term (CodiEsp train), 40 % of its codings"
    chosen: bool  # the assignment's code


@dataclass(frozen=True, slots=True)
class Explanation:
    why: str  # one line: "exact dictionary term “neumonía” (CodiEsp train), its only code"
    candidates: tuple[RankedCandidate, ...]  # in the order the stages rank them


def explain(assignment: Assignment) -> Explanation:
    """Why ``assignment`` has its code, and its candidates as the stages rank them."""
    ranked = sorted(assignment.candidates, key=lambda c: (_group(c.source), -c.score))
    return Explanation(
        _why(assignment),
        tuple(RankedCandidate(c, _reason(c), c.code == assignment.code) for c in ranked),
    )


def source_names(sources: str) -> str:
    """"codiesp-train,who-es" → "CodiEsp train, WHO titles"."""
    names = []
    for source in sources.split(","):
        name = _SOURCE_NAMES.get(source) or _PREFIX_NAMES.get(source.partition("-")[0], source)
        if name not in names:
            names.append(name)
    return ", ".join(names)


def _group(source: str) -> int:
    """The stages' order: the site's decisions, the terminal codes under a proposed category
    (``engine.linking.specificity``), the term's own codes, then similar entries."""
    if source == "site":
        return 0
    if source.startswith("specific:"):
        return 1
    if source.startswith("dictionary:"):
        return 2
    return 3


def _reason(candidate: Candidate) -> str:
    kind, _, detail = candidate.source.partition(":")
    if kind == "site":
        return f"learned at this site, {candidate.score:.0%} of its coders' decisions"
    if kind == "dictionary":
        return f"dictionary term ({source_names(detail)}), {_share(candidate.score)}"
    if kind == "specific":
        return f"a code under {detail}, which cannot be submitted itself"
    if kind == "not-in-version":
        return "proposed, but not a code of this version"
    if kind == "site-like":
        return f"like “{detail}” learned at this site, similarity {candidate.score:.2f}"
    if kind == CROSS_LINGUAL:  # "en dyspnoea": the other language's term whose code this is
        return f"cross-lingual: {detail}, similarity {candidate.score:.2f}"
    if kind == "fuzzy":
        return f"{_SIMILAR.get(detail.partition('-')[0], 'similar entry')}, similarity {candidate.score:.2f}"
    return f"{candidate.source}, {candidate.score:.2f}"


def _share(score: float) -> str:
    return "its only code" if score >= 1.0 else f"{score:.0%} of its codings"


def _why(a: Assignment) -> str:
    provenance = a.provenance
    if a.stage is Stage.USER:
        proposed = provenance.get("proposed") or {}
        before = f" (proposed: {proposed.get('code')})" if proposed.get("code") else ""
        return f"chosen by the coder{before}"
    if a.stage is Stage.LLM:
        shown = provenance.get("candidates_shown") or []
        return f"the model {provenance.get('model', '')} chose among {len(shown)} candidates".replace("  ", " ")
    if a.stage is Stage.SITE:
        return f"learned at this site: {a.evidence}" if a.evidence else "learned at this site"
    proposed = provenance.get(NEEDS_SPECIFIC_CODE) or a.code  # the category a stage named
    chosen = next((c for c in a.candidates if c.code == proposed), None)
    if a.code is None:
        why = "nothing was close enough to propose: choose among the candidates"
    elif a.stage is Stage.DICTIONARY:
        sources = f" ({source_names(chosen.source.partition(':')[2])})" if chosen else ""
        why = f"exact dictionary term “{a.evidence}”{sources}, {_share(a.score)}"
    elif chosen is not None and chosen.source.startswith("dictionary:"):
        why = (f"the dictionary term “{a.evidence}” has several codes; this is its most frequent "
               f"({source_names(chosen.source.partition(':')[2])}, {_share(chosen.score)})")
    elif chosen is not None:
        why = f"closest match: {_reason(chosen)}"
    else:
        why = f"{a.evidence}, {a.score:.2f}" if a.evidence else f"score {a.score:.2f}"
    if expansion := provenance.get(ABBREVIATION):
        why += f"; “{a.mention.text}” is read as “{expansion}”"
    if "llm_answer" in provenance:
        why += f"; the model gave no usable answer ({provenance['llm_answer']!s}), so the best candidate stays"
    return why
