"""ICD-O-3.1 catalogs and title terms, from the vendored WHO/IARC lists and eCIE-O-3.1.

One edition, ``icdo3``, with two catalogs.  ``icdo3.catalog`` is the morphology axis: the
codes ``--edition icdo3`` assigns, CANTEMIST annotates and the dictionaries detect.
``icdo3t.catalog`` is the topography axis, a catalog of its own: its codes (``C50.9``) have
ICD-10's shape and mostly ICD-10's meaning, so mixing them into the morphology tree would let
one dictionary answer a tumour mention with a site.  The tumour export reads it.

Morphology tree: block (``8140-8149``, one per three-digit group) → histology
(``8140``, kind category) → histology/behaviour (``8140/3``, subcategory) → grade
(``8140/33``) and CANTEMIST's ``/H`` forms (``8140/3/H``), kind code.  Every code
with a behaviour may be submitted (ICD-O-3's grade digit is optional), so the
version's terminal codes are the subcategories and codes, not the tree's leaves.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator
from functools import cache

from engine.core.codes import normalize_code, normalize_morphology

from . import vendored as src
from .catalog_tree import BLOCK, CHAPTER, Catalog, Version, as_range

MORPH_EN = "icdo-Morphenglish.txt.gz"
TOPO_EN = "icdo-Topoenglish.txt.gz"
HISTOLOGIES = "icdo-icd_o_31_histologies.csv.gz"
SYNONYMS = "icdo-icd_o_31_histology_synonyms.csv.gz"
ECIEO_ES = "icdo-cantemist_valid-codes_es.tsv.gz"

ICDO_ATTRIBUTION = (
    "ICD-O-3.1 (c) World Health Organization / IARC; Spanish: eCIE-O-3.1, Ministerio de Sanidad "
    "(as listed by CANTEMIST)"
)
VERSION_ID = "3.1"

# ICD-O-3 sixth digit: grade or, for lymphomas and leukaemias, cell type.
GRADE_EN = {
    "1": "grade I, well differentiated",
    "2": "grade II, moderately differentiated",
    "3": "grade III, poorly differentiated",
    "4": "grade IV, undifferentiated",
    "5": "T-cell",
    "6": "B-cell",
    "7": "null cell",
    "8": "NK cell",
    "9": "grade or cell type not determined",
}
# Fifth digit; a code neither list titles (eCIE-O-3.1 lists every behaviour of every histology)
# is titled with its histology's title and this.
BEHAVIOUR = {
    "en": {
        "0": "benign", "1": "uncertain whether benign or malignant", "2": "in situ",
        "3": "malignant, primary site", "6": "malignant, metastatic site",
        "9": "malignant, uncertain whether primary or metastatic",
    },
    "es": {
        "0": "benigno", "1": "incierto si benigno o maligno", "2": "in situ", "3": "maligno, localización primaria",
        "6": "maligno, localización metastásica", "9": "maligno, incierto si primario o metastásico",
    },
}
# Clinical Spanish writes the grade after the histology ("adenocarcinoma pobremente diferenciado").
GRADE_PHRASES_ES = {
    "1": ("bien diferenciado",),
    "2": ("moderadamente diferenciado",),
    "3": ("pobremente diferenciado", "poco diferenciado"),
    "4": ("indiferenciado",),
}
_SAI_RE = re.compile(r",?\s+SAI$")
_NOS_RE = re.compile(r",?\s+NOS$")


def _morphology_parts(code: str) -> tuple[str, str, str, bool]:
    """(histology, behaviour, grade digit or "", /H) of a canonical morphology code."""
    histology, rest = code.split("/", 1)
    marked = rest.endswith("/H")
    rest = rest.removesuffix("/H")
    return histology, rest[0], rest[1:], marked


@cache
def spanish_rows() -> tuple[tuple[str, str, str], ...]:
    """eCIE-O-3.1 as CANTEMIST lists it: (code, description, short description); most codes have none."""
    rows = []
    for line in src.gunzip_text(ECIEO_ES).splitlines():
        fields = line.split("\t") + ["", ""]
        if fields[0].strip():
            rows.append((normalize_morphology(fields[0]), fields[1].strip(), fields[2].strip()))
    return tuple(rows)


def _unquote(text: str) -> str:
    return text.strip().strip('"').strip()


@cache
def english_terms() -> tuple[tuple[str, str, bool], ...]:
    """WHO/IARC morphology terms: (code, term, is the preferred title), from all three lists."""
    terms: list[tuple[str, str, bool]] = []
    for line in src.gunzip_text(MORPH_EN, "latin-1").splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) == 3 and fields[0].strip():
            terms.append((normalize_morphology(fields[0]), _unquote(fields[2]), fields[1] == "title"))
    for name, preferred in ((HISTOLOGIES, True), (SYNONYMS, False)):
        reader = csv.reader(io.StringIO(src.gunzip_text(name, "latin-1")))
        next(reader)
        terms += [(normalize_morphology(code), term.strip(), preferred) for code, term in reader if code]
    return tuple(terms)


def _grade_labels_es(rows: tuple[tuple[str, str, str], ...]) -> dict[str, str]:
    """The eCIE-O-3.1 wording of each sixth digit, as its own descriptions write it ("grado III, ...")."""
    seen: dict[str, Counter[str]] = {}
    for code, description, _ in rows:
        grade = _morphology_parts(code)[2]
        if grade and " - " in description:
            seen.setdefault(grade, Counter())[description.rsplit(" - ", 1)[1]] += 1
    return {grade: counts.most_common(1)[0][0] for grade, counts in seen.items()}


def build_morphology() -> Catalog:
    """The ``icdo3`` catalog: every eCIE-O-3.1 and WHO code, titled in Spanish and English."""
    catalog = Catalog("icdo3", "ICD-O-3.1 morphology", ("en", "es"), ICDO_ATTRIBUTION)
    rows = spanish_rows()
    es = {code: description for code, description, _ in rows if description}
    en = {code: term for code, term, preferred in english_terms() if preferred}
    codes = {code for code, _, _ in rows} | {code for code, _, _ in english_terms()}
    histologies = sorted({code[:4] for code in codes})
    chapter = as_range(histologies[0], histologies[-1])
    catalog.add(chapter, CHAPTER, None, {"en": "Morphology (ICD-O-3.1)", "es": "Morfología (CIE-O-3.1)"})
    groups: dict[str, list[str]] = {}
    for histology in histologies:
        groups.setdefault(histology[:3], []).append(histology)
    block_of = {}
    for members in groups.values():
        block = as_range(members[0], members[-1])
        for histology in members:
            block_of[histology] = block
        catalog.add(block, BLOCK, chapter, {
            "en": f"Histologies {members[0]}-{members[-1]}", "es": f"Histologías {members[0]}-{members[-1]}",
        })
    for histology in histologies:
        own = sorted(code for code in codes if code[:4] == histology)
        titled = next((code for code in own if code in en or code in es), own[0])
        main = f"{histology}/3" if f"{histology}/3" in codes else titled
        titles = {"en": en.get(main, en.get(titled, "")), "es": es.get(main, es.get(titled, ""))}
        catalog.add(histology, "category", block_of[histology], titles)
    grade_es = _grade_labels_es(rows)
    for code in sorted(codes, key=lambda c: (len(c), c)):  # parents before children
        histology, behaviour, grade, marked = _morphology_parts(code)
        base = f"{histology}/{behaviour}{grade}"
        if marked:
            parent = base if base in catalog.nodes else histology
            titles = {lang: f"{title} /H" for lang, title in catalog.nodes[parent].titles.items()}
            catalog.add(code, "code", parent, titles)
        elif grade:
            parent = f"{histology}/{behaviour}" if f"{histology}/{behaviour}" in codes else histology
            general = catalog.nodes[parent].titles
            titles = {
                "en": en.get(code) or (f"{general['en']} - {GRADE_EN[grade]}" if "en" in general else ""),
                "es": es.get(code) or (f"{general['es']} - {grade_es[grade]}" if "es" in general else ""),
            }
            catalog.add(code, "code", parent, titles)
        else:
            general = catalog.nodes[histology].titles
            titles = {
                lang: own.get(code) or (f"{general[lang]} - {BEHAVIOUR[lang][behaviour]}" if lang in general else "")
                for lang, own in (("en", en), ("es", es))
            }
            catalog.add(code, "subcategory", histology, titles)
    terminal = frozenset(code for code, node in catalog.nodes.items() if node.kind in ("subcategory", "code"))
    catalog.versions = {VERSION_ID: Version("ICD-O-3.1", terminal)}
    return catalog


def build_topography() -> Catalog:
    """The ``icdo3t`` catalog: C00–C80 sites (three and four characters) under one chapter, English titles."""
    catalog = Catalog("icdo3", "ICD-O-3.1 topography", ("en",), ICDO_ATTRIBUTION)  # icdo3's second catalog
    rows = list(_topography_rows())
    chapter = as_range(rows[0][0], rows[-1][0][:3])
    catalog.add(chapter, CHAPTER, None, {"en": "Topography (ICD-O-3.1)"})
    for code, level, title in rows:
        if level == "3":
            catalog.add(code, "category", chapter, {"en": title.capitalize()})
        elif level == "4":
            catalog.add(code, "subcategory", code[:3], {"en": title})
    catalog.versions = {VERSION_ID: Version("ICD-O-3.1", catalog.leaves())}
    return catalog


def _topography_rows() -> Iterator[tuple[str, str, str]]:
    for line in src.gunzip_text(TOPO_EN, "latin-1").splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) == 3 and fields[0].strip():
            yield normalize_code(fields[0]), fields[1], _unquote(fields[2])


# --- title terms for the dictionaries (the builder adds its usual variants) ------------------


def spanish_title_pairs() -> Iterator[tuple[str, str]]:
    """eCIE-O-3.1 descriptions, without "SAI", and each grade written after its histology."""
    rows = spanish_rows()
    plain = {code: _SAI_RE.sub("", description) for code, description, _ in rows if description}
    for code, description, short in rows:
        for title in (description, short):
            if title:
                yield title, code
                yield _SAI_RE.sub("", title), code
        histology, behaviour, grade, marked = _morphology_parts(code)
        general = plain.get(f"{histology}/{behaviour}")
        if general and not marked and grade in GRADE_PHRASES_ES:
            for phrase in GRADE_PHRASES_ES[grade]:
                yield f"{general} {phrase}", code


def english_title_pairs() -> Iterator[tuple[str, str]]:
    """WHO/IARC titles and synonyms, also without "NOS"."""
    for code, term, _ in english_terms():
        yield term, code
        yield _NOS_RE.sub("", term), code
