"""The site stage: what this workstation's coders decided for a term comes before the bundled dictionaries.

A term the coders settled is assigned at once (stage ``site``); a term they disagree on keeps
its most frequent code for review with every code they gave as candidates, and the LLM stage
may decide it; a term they rejected is no longer detected (``detection``).  Everything else goes
to the dictionary stage, and where that stage has no exact answer, the learned terms most like the
mention compete with its fuzzy candidates (a fuzzy assignment, for review): learning a site's
"cáncer de lengua izquierda" helps with its "cáncer de lengua" too.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from engine.core.model import Assignment, Candidate, Mention, ReviewStatus, Stage
from engine.linking.cross_lingual import CROSS_LINGUAL
from engine.linking.dictionary_stage import DictionaryLinker
from engine.terms.catalog import Catalog
from engine.terms.site_dictionary import SiteDecision, SiteDictionary, SiteEntry, Verdict

__all__ = ["SiteLinker", "site_evidence"]


class SiteLinker:
    """Links a mention from the site dictionary where the coders decided its term, else as ``fallback`` does."""

    def __init__(self, site: SiteDictionary, catalog: Catalog, fallback: DictionaryLinker) -> None:
        self.site = site
        self.catalog = catalog
        self.fallback = fallback

    def link(self, mention: Mention) -> Assignment:
        decided = self.site.decide(mention.text)
        if decided is None:
            return self._like(mention, self.fallback.link(mention))
        entry, decision = decided
        ours = [Candidate(code, self.catalog.edition, self.catalog.title(code, self.site.language),
                          count / entry.total, "site") for code, count in entry.codes if self.catalog.is_valid(code)]
        if decision.verdict is Verdict.REJECTED or not ours:
            return self.fallback.link(mention)  # a rejected term given from outside (gold mentions) is linked as usual
        settled = decision.verdict is Verdict.SETTLED
        # A settled term needs no fuzzy ranking (most of the dictionary stage's time): the bundled
        # dictionary's own codes for it are alternatives enough; a conflict gets every candidate.
        others = self.fallback.exact_candidates(mention.text) if settled else list(self.fallback.link(mention).candidates)
        seen = {c.code for c in ours}
        candidates = (ours + [c for c in others if c.code not in seen])[: max(len(ours), self.fallback.settings.candidates)]
        code = decision.code if decision.code in seen else ours[0].code
        provenance = {} if settled else {"site_conflict": dict(entry.codes)}
        return Assignment(
            mention, code, self.catalog.edition, self.catalog.title(code, self.site.language), Stage.SITE,
            decision.share, site_evidence(entry, decision), ReviewStatus.PENDING if settled else ReviewStatus.NEEDS_REVIEW,
            tuple(candidates), provenance,
        )

    def _like(self, mention: Mention, base: Assignment) -> Assignment:
        """An unlearned term: codes of the learned terms like it join the fuzzy candidates, by score."""
        exact = base.candidates[0].source.startswith("dictionary") if base.candidates else False
        if base.stage is Stage.DICTIONARY or exact:
            return base  # the bundled dictionary knows the term itself
        ours: dict[str, tuple[Candidate, SiteEntry]] = {}
        for entry, score in self.site.similar(mention.text, self.fallback.settings.candidates):
            top = entry.codes[0][1]
            for code, count in entry.codes:
                if code not in ours and self.catalog.is_valid(code):
                    title = self.catalog.title(code, self.site.language)
                    ours[code] = (Candidate(code, self.catalog.edition, title, round(score * count / top, 4),
                                            f"site-like:{entry.display}"), entry)
        if not ours:
            return base
        # What this site's coders decided for a term like it comes before another language's guess.
        ranked = sorted([c for c, _ in ours.values()] + [c for c in base.candidates if c.code not in ours],
                        key=lambda c: (c.source.startswith(f"{CROSS_LINGUAL}:"), -c.score))
        ranked = ranked[: self.fallback.settings.candidates]
        best = ranked[0]
        if best.code not in ours or best.score < self.fallback.settings.fuzzy_threshold:
            return replace(base, candidates=tuple(ranked))
        entry = ours[best.code][1]
        times = _times(dict(entry.codes)[best.code])
        return Assignment(
            mention, best.code, self.catalog.edition, best.title, Stage.FUZZY, best.score,
            f"like “{entry.display}”, coded {best.code} by this site's coders {times}",
            ReviewStatus.NEEDS_REVIEW, tuple(ranked),
        )


def site_evidence(entry: SiteEntry, decision: SiteDecision) -> str:
    """In words: "coded I48.9 by this site's coders 14 times, last on 1 Dec 2026"."""
    counts = ", ".join(f"{code} {_times(n)}" for code, n in entry.codes[:4])
    rejected = f"; rejected {_times(entry.rejected)}" if entry.rejected else ""
    last = _day(entry.last)
    if decision.verdict is Verdict.SETTLED:
        return f"coded {counts} by this site's coders{rejected}, last on {last}"
    return f"this site's coders disagree: coded {counts}{rejected}, last on {last}"


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _day(at: str) -> str:
    try:
        return datetime.fromisoformat(at).strftime("%-d %b %Y")
    except ValueError:
        return at[:10]
