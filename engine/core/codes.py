"""Code strings: editions, canonical form and hierarchy levels.

Every ICD-10 code that enters the engine passes through :func:`normalize_code`, so
``n28.1``, ``N281`` and ``N28.1`` are one code, and CodiEsp's lowercase codes
cut before the seventh character (``s31.40x``) keep their placeholder.

ICD-O-3 morphology codes (``8140/3``: histology, behaviour, optional grade digit,
CANTEMIST's optional ``/H``) have their own form, :func:`normalize_morphology`;
:func:`canonical_code` takes either, for places that hold codes of any edition
(catalog look-ups, gold mentions, levels).  ICD-O-3 topography codes (``C50.9``)
are ICD-10-shaped and go through :func:`normalize_code`.
"""

from __future__ import annotations

import re
from enum import StrEnum

__all__ = [
    "ICD10_EDITIONS",
    "Edition",
    "Level",
    "at_level",
    "canonical_code",
    "is_code_like",
    "is_morphology",
    "normalize_code",
    "normalize_for",
    "normalize_morphology",
]


class Edition(StrEnum):
    """The classifications whose catalogs we ship: three ICD-10 editions and ICD-O-3 morphology."""

    WHO = "who"  # WHO ICD-10 (2019), the base of most national editions
    CM = "cm"  # ICD-10-CM; CIE-10-ES, the Spanish edition, uses its codes
    GM = "gm"  # ICD-10-GM, German modification
    ICDO3 = "icdo3"  # ICD-O-3.1 morphology (eCIE-O-3.1 in Spanish); topography is a second catalog

    @property
    def label(self) -> str:
        return _EDITION_LABELS[self]

    def label_in(self, language: str) -> str:
        """The name a coder knows the edition by in ``language``: CM codes in Spanish are CIE-10-ES."""
        return _LOCAL_LABELS.get((self, language), self.label)


ICD10_EDITIONS = (Edition.WHO, Edition.CM, Edition.GM)

_EDITION_LABELS = {
    Edition.WHO: "WHO ICD-10",
    Edition.CM: "ICD-10-CM / CIE-10-ES",
    Edition.GM: "ICD-10-GM",
    Edition.ICDO3: "ICD-O-3 morphology",
}


_LOCAL_LABELS = {
    (Edition.CM, "es"): "CIE-10-ES", (Edition.CM, "en"): "ICD-10-CM", (Edition.ICDO3, "es"): "CIE-O-3 morfología",
}


class Level(StrEnum):
    """How much of a code an evaluation or an export keeps."""

    CATEGORY = "category"  # N28; ICD-O-3 morphology: the histology, 8140
    SUBCATEGORY = "subcategory"  # N28.1; morphology: histology and behaviour, 8140/3
    FULL = "full"  # the whole code, e.g. S31.40XA, 8140/33/H


_CODE_RE = re.compile(r"^([A-Z][0-9][0-9A-Z])\.?([0-9A-Z]{0,4})$")
# GM and the WHO files write three-character codes as "A00.-"; GM marks
# dagger/asterisk/exclamation codes with a trailing sign.
_DECORATION_RE = re.compile(r"(\.-|-|[†*!+])+$")
# Histology (4 digits) / behaviour (0 1 2 3 6 9) [grade or cell-type digit] [CANTEMIST's /H];
# registries write "M-8140/3" or "M8140/3" too.
_MORPHOLOGY_RE = re.compile(r"^(?:M-?)?([0-9]{4})/([012369][0-9]?)(/H)?$")


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


def normalize_morphology(code: str) -> str:
    """Canonical ICD-O-3 morphology: ``8140/3``, ``8140/33``, ``8140/3/H``; no prefix or spaces.

    Raises ValueError for strings that are not morphology-shaped (a behaviour outside
    /0 /1 /2 /3 /6 /9 included).
    """
    match = _MORPHOLOGY_RE.match("".join(code.split()).upper())
    if match is None:
        raise ValueError(f"not an ICD-O-3 morphology code: {code!r}")
    histology, behaviour, marker = match.groups()
    return f"{histology}/{behaviour}{marker or ''}"


def is_morphology(code: str) -> bool:
    """Whether ``code`` has the shape of an ICD-O-3 morphology code."""
    return _MORPHOLOGY_RE.match("".join(code.split()).upper()) is not None


def canonical_code(code: str) -> str:
    """A code of any edition in canonical form: ICD-10 (and topography) or ICD-O-3 morphology."""
    return normalize_morphology(code) if is_morphology(code) else normalize_code(code)


def normalize_for(code: str, edition: Edition | None) -> str:
    """The canonical form of a code of ``edition``; ValueError if it is not that edition's shape."""
    return normalize_morphology(code) if edition is Edition.ICDO3 else normalize_code(code)


def is_code_like(code: str) -> bool:
    """Whether ``code`` has the shape of an ICD-10 code (not whether it exists)."""
    try:
        normalize_code(code)
    except ValueError:
        return False
    return True


def at_level(code: str, level: Level) -> str:
    """The code cut to ``level``: category ``N28``, subcategory ``N28.1``.

    Morphology: histology ``8140``, histology and behaviour ``8140/3`` (grade and /H cut).
    """
    morphology = is_morphology(code)
    code = normalize_morphology(code) if morphology else normalize_code(code)
    return code[: _CUT[morphology].get(level, len(code))]


# Characters kept per level, for ICD-10 codes (False) and ICD-O-3 morphology codes (True).
_CUT = {False: {Level.CATEGORY: 3, Level.SUBCATEGORY: 5}, True: {Level.CATEGORY: 4, Level.SUBCATEGORY: 6}}
