"""Only codes a coder may submit are proposed as final: the specificity rule.

ICD-10-CM, CIE-10-ES and ICD-10-GM report terminal codes only (codes without
children in the version in force).  Dictionary terms, catalog titles, the
site's lessons and a model's answer can all name a category ("Diabetes mellitus
tipo 2" → E11, from a WHO title), so every stage's result passes through here:

- a code the version lacks (R51.9 in CIE-10-ES 2018; ICD-10-CM split R51 later)
  becomes its nearest ancestor that the version has, with the reason recorded;
- a category or subcategory with children keeps its best terminal child (a
  candidate under it, else the unspecified one: E11 → E11.9) and the mention is
  marked "needs a more specific code", with the children as candidates.
"""

from __future__ import annotations

import re

from engine.core.model import Assignment, Candidate, ReviewStatus
from engine.terms.catalog import Catalog

__all__ = ["NEEDS_SPECIFIC_CODE", "REASON", "SpecificityRule"]

# Provenance keys: the code the stage named, and the sentence the window shows.
NEEDS_SPECIFIC_CODE = "needs_specific_code"
VERSION_MAPPED = "version_mapped"
REASON = "specificity"

_UNSPECIFIED_RE = re.compile(r"^unspecified\b|, unspecified\b", re.IGNORECASE)
_CHILD_CANDIDATES = 12  # more children than this: the picker's tree shows them all


class SpecificityRule:
    """Makes every proposed code terminal in one catalog version."""

    def __init__(self, catalog: Catalog, version: str | None, language: str) -> None:
        self.catalog = catalog
        self.version = catalog.version(version)
        self.language = language
        catalog.children(catalog.roots()[0])  # the hierarchy map: built now, not inside a cancellable run

    def apply(self, assignment: Assignment) -> Assignment:
        """``assignment`` with a code that is terminal in the version (or none, if nothing fits)."""
        code, version = assignment.code, self.version.id
        if code is None or self.catalog.is_terminal(code, version):
            return assignment
        known = code
        while known and not self.catalog.in_version(known, version):
            known = self.catalog.parent(known) or ""
        if not known or not self.catalog.is_valid(known):
            return self._not_in_version(assignment, code)
        if known != code:
            if self.catalog.is_terminal(known, version):
                reason = f"{self.version.name} has no {code}; its code is {known}"
                return self._retitled(assignment, known, {VERSION_MAPPED: code, REASON: reason})
            assignment = self._retitled(assignment, known, {VERSION_MAPPED: code})
        return self._more_specific(assignment, known)

    def _more_specific(self, assignment: Assignment, general: str) -> Assignment:
        children = self.catalog.terminal_descendants(general, self.version.id)
        under = set(children)
        candidate = next((c.code for c in assignment.candidates if c.code in under), None)
        chosen = candidate or self._unspecified(general)
        shown = [chosen, *(c for c in children if c != chosen)][:_CHILD_CANDIDATES]
        child_candidates = [
            Candidate(c, self.catalog.edition, self.catalog.title(c, self.language), assignment.score,
                      f"specific:{general}")
            for c in shown
        ]
        others = [c for c in assignment.candidates if c.code not in set(shown)]
        reason = (
            f"{general} is not a terminal code of {self.version.name}: kept {chosen}; "
            f"needs a more specific code ({len(children)} under {general})"
        )
        changed = self._retitled(assignment, chosen, {NEEDS_SPECIFIC_CODE: general, REASON: reason})
        return changed.with_changes(
            status=ReviewStatus.NEEDS_REVIEW, candidates=tuple(child_candidates + others)
        )

    def _unspecified(self, general: str) -> str:
        """Down the tree, the child titled "unspecified" (else the one ending in 9, else the first)."""
        code = general
        while not self.catalog.is_terminal(code, self.version.id):
            children = [c for c in self.catalog.children(code) if self.catalog.in_version(c, self.version.id)]
            code = min(children, key=self._generality)
        return code

    def _generality(self, code: str) -> tuple[bool, bool, str]:
        """Sort key: titled "unspecified" first, then ending in 9, then code order."""
        return not _UNSPECIFIED_RE.search(self._english(code)), not code.endswith("9"), code

    def _english(self, code: str) -> str:
        node = self.catalog.node(code)
        return node.titles.get("en", "") if node else ""

    def _retitled(self, assignment: Assignment, code: str, provenance: dict[str, str]) -> Assignment:
        title = self.catalog.title(code, self.language)
        return assignment.with_changes(code=code, title=title, provenance={**assignment.provenance, **provenance})

    def _not_in_version(self, assignment: Assignment, code: str) -> Assignment:
        """No ancestor in the version either (U07.1 in 2018): no code, the proposal kept as a candidate."""
        first = Candidate(code, self.catalog.edition, assignment.title, assignment.score, "not-in-version")
        others = tuple(c for c in assignment.candidates if c.code != code)
        return assignment.with_changes(
            code=None, title="", status=ReviewStatus.NEEDS_REVIEW, candidates=(first, *others),
            provenance={**assignment.provenance, VERSION_MAPPED: code,
                        REASON: f"{code} is not a code of {self.version.name}"},
        )
