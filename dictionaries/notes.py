"""ICD-10-CM tabular notes (includes, excludes, code first, ...) for the code picker.

Kept in their own file (``cm.notes.json.gz``) beside the catalog, whose format stays as it is:
``{"format": 1, "edition": "cm", "source", "kinds": [...], "notes": {code: {kind: [text, ...]}}}``.
Codes are the catalog's (chapters and blocks by their range); a note applies to the code and
everything under it, as in the printed tabular list, so the engine collects it from the ancestors.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from engine.core.codes import is_code_like, normalize_code

from .catalogs import _section_code, _split_range_title, cm_tabular

# The tabular list's note elements, in the order a coder reads them.
KINDS = ("inclusionTerm", "includes", "excludes1", "excludes2", "codeFirst", "useAdditionalCode", "codeAlso", "notes")
SOURCE = "ICD-10-CM April 1, 2026 tabular list (simple-icd-10-cm 1.5.0)"


def build_cm_notes() -> dict[str, Any]:
    """Every note of every chapter, block and code of the CM tabular list."""
    notes: dict[str, dict[str, list[str]]] = {}
    for chapter in cm_tabular().findall("chapter"):
        _add(notes, _split_range_title(chapter.findtext("desc", ""))[0], chapter)
        for section in chapter.findall("section"):
            _add(notes, _section_code(section), section)
            for diag in section.iter("diag"):
                name = diag.findtext("name", "")
                if is_code_like(name):
                    _add(notes, normalize_code(name), diag)
    return {"format": 1, "edition": "cm", "source": SOURCE, "kinds": list(KINDS), "notes": notes}


def _add(notes: dict[str, dict[str, list[str]]], code: str, element: Element) -> None:
    """The element's own notes (not its children's), kept only when it has some."""
    found = {
        kind: texts
        for kind in KINDS
        if (texts := [(note.text or "").strip().lstrip(", ") for child in element.findall(kind) for note in child.findall("note")])
    }
    if found:
        notes[code] = found
