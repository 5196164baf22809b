"""The tumour registry preset: one row per tumour, ICD-10, ICD-O-3 topography and morphology.

A document coded with ICD-10 and ICD-O-3 at once holds assignments of both
editions.  A tumour row pairs an ICD-10 neoplasm code (chapter II, C00–D49) with an
ICD-O-3 morphology only where their mentions overlap in the text ("adenocarcinoma de
pulmón": C34.90 and 8140/3): that is evidence they are one tumour; where several overlap, the closest
pairs first (the same words before a part of them), and an unpaired site inside another site's
words, or around a paired one, is that tumour again, not a row.  Anything else is
its own row with the missing half marked in ``gap``, never paired by guess.  The
topography is the ICD-10 code's site where ICD-O-3 topography has that code (C00–C80,
four characters: C34.90 → C34.9); lymphomas, leukaemias and ill-defined codes give none,
and the gap says so.  Laterality is not coded by the engine and is left empty.

The README maps the columns to oBDS 3.0 elements and NAACCR items.  ``morphology`` keeps the
grade digit and CANTEMIST's ``/H`` (8140/32), which oBDS ``Morphologie_ICD_O/Code`` (four
digits, a slash, one digit) and NAACCR's histology and behaviour items do not take: a
registry reads ``histology``, ``behaviour`` and ``grade``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from collections.abc import Callable

from engine.core.codes import Edition, is_morphology
from engine.core.model import Assignment, ReviewStatus
from engine.terms.catalog import Catalog

__all__ = ["TUMOUR_COLUMNS", "tumour_rows"]

TUMOUR_COLUMNS = (
    "document", "tumour", "icd10_code", "icd10_edition", "language", "topography", "morphology", "histology", "behaviour",
    "grade", "laterality", "gap", "evidence", "icd10_status", "morphology_status", "path",
)
NO_MORPHOLOGY = "no morphology for this site"
NO_SITE = "no site for this morphology"
NO_TOPOGRAPHY = "ICD-O-3 topography has no code for {code}"


def is_neoplasm(code: str) -> bool:
    """ICD-10 chapter II: C00–D49 (WHO and GM end at D48, CM adds D49)."""
    return code[:1] == "C" or (code[:1] == "D" and code[1:3].isdigit() and int(code[1:3]) <= 49)


def topography_of(code: str, topography: Catalog) -> str:
    """The ICD-O-3 topography of an ICD-10 neoplasm code's site, "" where it has none."""
    site = code[:5]
    return site if code[:1] == "C" and topography.is_valid(site) else ""


def tumour_rows(
    ids: tuple[str, str, str], assignments: list[Assignment], topography: Catalog, describe: Callable[[Assignment], str],
) -> list[list[str]]:
    """The document's tumour rows in text order; ``ids`` are (document, path, language), ``describe`` gives
    a mention's evidence text."""
    coded = [a for a in assignments if a.code is not None and a.status is not ReviewStatus.REJECTED]
    sites = [a for a in coded if a.edition is not Edition.ICDO3 and is_neoplasm(a.code or "")]
    morphologies = [a for a in coded if a.edition is Edition.ICDO3 and is_morphology(a.code or "")]
    partners = _pairs(sites, morphologies)
    paired = set(partners.values())
    again = _same_tumour(sites, set(partners))
    rows = [(site, morphologies[partners[n]] if n in partners else None)
            for n, site in enumerate(sites) if n not in again]
    rows += [(None, m) for n, m in enumerate(morphologies) if n not in paired]
    rows.sort(key=lambda pair: min(a.mention.start for a in pair if a is not None))
    return [
        _row(ids, number, site, morphology, topography, describe)
        for number, (site, morphology) in enumerate(rows, start=1)
    ]


def _pairs(sites: list[Assignment], morphologies: list[Assignment]) -> dict[int, int]:
    """Site → morphology (indices), closest overlap first: the ICD-10 pipeline also codes the words inside a
    longer mention ("linfoma" C85.90 inside "linfoma difuso de células grandes B" C83.30), and the morphology
    of those same words (9680/3) belongs to the mention it matches, not to the first one in the text."""
    order = sorted(range(len(morphologies)), key=lambda m: morphologies[m].mention.start)
    starts = [morphologies[m].mention.start for m in order]
    reach = max((a.mention.end - a.mention.start for a in morphologies), default=0)
    overlaps = []  # only the morphologies that start near a site are looked at: a document may hold 100,000
    for s, site in enumerate(sites):
        near = order[bisect_left(starts, site.mention.start - reach):bisect_left(starts, site.mention.end)]
        overlaps += [(-_closeness(site, morphologies[m]), s, m) for m in near if _shared(site, morphologies[m])]
    overlaps.sort()
    partners: dict[int, int] = {}
    taken: set[int] = set()
    for _, s, m in overlaps:
        if s not in partners and m not in taken:
            partners[s] = m
            taken.add(m)
    return partners


def _same_tumour(sites: list[Assignment], paired: set[int]) -> set[int]:
    """The unpaired sites that are another site's tumour again: within its words ("linfoma", C85.90, inside
    "linfoma difuso de células grandes B", C83.30: less specific), or around a site that has its morphology.
    The ICD-10 pipeline codes nested mentions; a registry counts tumours.  One sweep in text order."""
    order = sorted(range(len(sites)), key=lambda n: (sites[n].mention.start, -sites[n].mention.end))
    again: set[int] = set()
    outer: deque[int] = deque()  # unpaired sites inside no other, in text order: their ends rise along it
    furthest = -1
    for n in order:
        start, end = sites[n].mention.start, sites[n].mention.end
        while outer and sites[outer[0]].mention.end < start:  # ended before this one: holds no more sites
            outer.popleft()
        if n in paired:
            for o in reversed(outer):
                if sites[o].mention.end < end:
                    break
                again.add(o)
        elif end <= furthest:
            again.add(n)
        else:
            outer.append(n)
        furthest = max(furthest, end)
    return again


def _shared(a: Assignment, b: Assignment) -> int:
    """How many characters the two mentions share (span by span: a discontinuous mention's gap is not its)."""
    return sum(max(0, min(x.end, y.end) - max(x.start, y.start)) for x in a.mention.spans for y in b.mention.spans)


def _closeness(a: Assignment, b: Assignment) -> float:
    """Shared characters over all the characters of the two: 1 for the same words."""
    shared = _shared(a, b)
    return shared / (_length(a) + _length(b) - shared)


def _length(a: Assignment) -> int:
    return sum(span.end - span.start for span in a.mention.spans)


def _row(
    ids: tuple[str, str, str], number: int, site: Assignment | None, morphology: Assignment | None,
    topography: Catalog, describe: Callable[[Assignment], str],
) -> list[str]:
    gaps = []
    topo = topography_of(site.code or "", topography) if site else ""
    if site is None:
        gaps.append(NO_SITE)
    elif not topo:
        gaps.append(NO_TOPOGRAPHY.format(code=site.code))
    if morphology is None:
        gaps.append(NO_MORPHOLOGY)
    code = (morphology.code or "") if morphology else ""
    histology, _, rest = code.partition("/")
    behaviour, grade = rest[:1], rest[1:2].strip("/")
    evidence = " | ".join(describe(a) for a in (site, morphology) if a is not None)
    return [
        ids[0], str(number), (site.code or "") if site else "", site.edition.value if site else "", ids[2], topo, code,
        histology, behaviour, grade, "", "; ".join(gaps), evidence,
        site.status.value if site else "", morphology.status.value if morphology else "", ids[1],
    ]
