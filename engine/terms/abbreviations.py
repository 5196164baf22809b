"""Abbreviations of the curated lexicons: detected only where the text around them says what they mean.

"AF" is atrial fibrillation in a cardiology letter and nothing in "af" or a list of allergies;
"FA" is fibrilación auricular beside "anticoagulado" and fosfatasa alcalina among lab values.
So a lexicon abbreviation finds a mention only when one of its cue words (a prefix, compared
folded: "anticoag" matches "anticoagulada") occurs within ``CUE_WINDOW`` words either side of
it, and, when the lexicon writes it with capitals, only as written ("AF", not "af").  The
window is words, not sentences: letters are telegraphic ("AF. On apixaban."), and a sentence
splitter would cut there.  Site learning is not gated: what the site's coders taught is found
anywhere (``engine.terms.site_dictionary``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.text.normalize import Scan, term_key

__all__ = ["CUE_WINDOW", "Abbreviation"]

CUE_WINDOW = 25  # words either side of the abbreviation


@dataclass(frozen=True, slots=True)
class Abbreviation:
    """One folded abbreviation key: how it may be written, what it stands for, which cues admit it."""

    key: str
    surfaces: frozenset[str]  # as the lexicon writes it, spaces collapsed
    expansions: dict[str, str]  # code → the wording shown to the coder
    cues: tuple[tuple[str, ...], ...]  # folded cue words, each a token sequence

    @classmethod
    def from_rows(cls, key: str, rows: list[list[Any]]) -> Abbreviation:
        """From the compiled rows ``[code, surface, expansion, [cue, ...]]``."""
        cues = {tuple(term_key(cue).split()) for *_, row_cues in rows for cue in row_cues}
        return cls(
            key,
            frozenset(surface for _, surface, _, _ in rows),
            {code: expansion for code, _, expansion, _ in reversed(rows)},
            tuple(sorted(cue for cue in cues if cue)),
        )

    @property
    def case_sensitive(self) -> bool:
        """Written with a capital in the lexicon: lower-case text is another word ("AF", "af")."""
        return any(not surface.islower() for surface in self.surfaces)

    def expansion(self, code: str | None) -> str:
        """The wording of ``code``, or of the first code when it is not one of the lexicon's."""
        return self.expansions.get(code or "", next(iter(self.expansions.values()), ""))

    def detects(self, scanned: Scan, text: str, first: int, last: int) -> bool:
        """Whether the match of parts ``first``–``last`` is written as the lexicon writes it and
        has a cue word within ``CUE_WINDOW`` words either side."""
        start, end = scanned.span(first, last)
        if self.case_sensitive and " ".join(text[start:end].split()) not in self.surfaces:
            return False
        parts = scanned.parts
        before = [p for p in parts[max(0, first - 3 * CUE_WINDOW) : first] if p][-CUE_WINDOW:]
        after = [p for p in parts[last + 1 : last + 1 + 3 * CUE_WINDOW] if p][:CUE_WINDOW]
        return _has_cue(before, self.cues) or _has_cue(after, self.cues)


def _has_cue(words: list[str], cues: tuple[tuple[str, ...], ...]) -> bool:
    """Whether a cue's words occur in order at consecutive ``words``, each as a prefix."""
    for index in range(len(words)):
        for cue in cues:
            if all(
                index + k < len(words) and words[index + k].startswith(part) for k, part in enumerate(cue)
            ):
                return True
    return False
