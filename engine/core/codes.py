"""ICD-10 code strings: editions, canonical form and hierarchy levels.

Every code that enters the engine passes through :func:`normalize_code`, so
``n28.1``, ``N281`` and ``N28.1`` are one code, and CodiEsp's lowercase codes
cut before the seventh character (``s31.40x``) keep their placeholder.
"""

from __future__ import annotations

import re
from enum import StrEnum

__all__ = ["Edition", "Level", "at_level", "is_code_like", "normalize_code"]


class Edition(StrEnum):
    """The ICD-10 editions whose catalogs we ship."""

    WHO = "who"  # WHO ICD-10 (2019), the base of most national editions
    CM = "cm"  # ICD-10-CM; CIE-10-ES, the Spanish edition, uses its codes
    GM = "gm"  # ICD-10-GM, German modification

    @property
    def label(self) -> str:
        return _EDITION_LABELS[self]

    def label_in(self, language: str) -> str:
        """The name a coder knows the edition by in ``language``: CM codes in Spanish are CIE-10-ES."""
        return _LOCAL_LABELS.get((self, language), self.label)


_EDITION_LABELS = {
    Edition.WHO: "WHO ICD-10",
    Edition.CM: "ICD-10-CM / CIE-10-ES",
    Edition.GM: "ICD-10-GM",
}


_LOCAL_LABELS = {(Edition.CM, "es"): "CIE-10-ES", (Edition.CM, "en"): "ICD-10-CM"}


class Level(StrEnum):
    """How much of a code an evaluation or an export keeps."""

    CATEGORY = "category"  # N28
    SUBCATEGORY = "subcategory"  # N28.1
    FULL = "full"  # the whole code, e.g. S31.40XA


_CODE_RE = re.compile(r"^([A-Z][0-9][0-9A-Z])\.?([0-9A-Z]{0,4})$")
# GM and the WHO files write three-character codes as "A00.-"; GM marks
# dagger/asterisk/exclamation codes with a trailing sign.
_DECORATION_RE = re.compile(r"(\.-|-|[†*!+])+$")


def normalize_code(code: str) -> str:
    """Canonical form: upper case, dot after the category, no decorations.

    Raises ValueError for strings that are not ICD-10-shaped codes.
    """
    cleaned = _DECORATION_RE.sub("", code.strip().upper())
    match = _CODE_RE.match(cleaned)
    if match is None:
        raise ValueError(f"not an ICD-10 code: {code!r}")
    category, rest = match.groups()
    return f"{category}.{rest}" if rest else category


def is_code_like(code: str) -> bool:
    """Whether ``code`` has the shape of an ICD-10 code (not whether it exists)."""
    try:
        normalize_code(code)
    except ValueError:
        return False
    return True


def at_level(code: str, level: Level) -> str:
    """The code cut to ``level``: category ``N28``, subcategory ``N28.1``."""
    code = normalize_code(code)
    if level is Level.CATEGORY:
        return code[:3]
    if level is Level.SUBCATEGORY:
        return code[:5]
    return code
