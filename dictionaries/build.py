"""Build the compiled catalogs and term dictionaries from the vendored sources.

    python3 -m dictionaries.build [--exclude codiesp-dev ...] [--only LANG|icdo3 ...] [--out DIR]
                                  [--update-sources-md]

Reads only ``dictionaries/sources/`` (checksums verified) and writes gzipped
JSON whose bytes depend on the sources alone: sorted keys and lists, gzip
without a timestamp.  ``--exclude codiesp-dev`` leaves the dev split out of
every output, for honest evaluation on it (``--exclude cantemist-dev2`` likewise).
``--only`` names languages, editions (``icdo3``) or both: languages alone build their ICD-10
outputs; with an edition, that edition's outputs (of the languages named, else of all).  The ICD-O-3
catalogs (morphology ``icdo3``, topography ``icdo3t``) come with the ``icdo3`` dictionaries.
The counts it prints are the Markdown block that ``--update-sources-md`` puts into SOURCES.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import codiesp, icdo
from .catalog_tree import Catalog
from .catalog_tree import Version
from .catalogs import CmVersions, add_under_prefix, build_cm, build_gm, build_who, cm_versions, unsupported_cm_codes
from .notes import build_cm_notes
from .terms import EDITION_PLANS, LANGUAGES, SOURCE_INFO, LanguagePlan, SourceReport, TermBuilder
from .vendored import SourceError, verify_all

PACKAGE_DIR = Path(__file__).resolve().parent
COMPILED_DIR = PACKAGE_DIR / "compiled"
SOURCES_MD = PACKAGE_DIR / "SOURCES.md"
COUNTS_BLOCK_RE = re.compile(r"(<!-- counts:start -->\n).*?(<!-- counts:end -->)", re.DOTALL)
KINDS = ("chapter", "block", "category", "subcategory", "code")


@dataclass
class Report:
    """What the build wrote, for the printed summary and SOURCES.md."""

    catalogs: dict[str, tuple[Catalog, int]] = field(default_factory=dict)
    dictionaries: dict[str, tuple[dict[str, Any], dict[str, SourceReport], int]] = field(default_factory=dict)
    resolved: list[str] = field(default_factory=list)
    cm_versions: CmVersions | None = None

    def markdown(self) -> str:
        """Counts as Markdown: catalogs, dictionaries per source, gold-code fixes."""
        skipped = unsupported_cm_codes()
        lines = [
            *self._catalog_table(),
            "",
            *self._dictionary_table(),
            "",
            "CodiEsp gold diagnosis codes missing from ICD-10-CM 2026:",
            "",
            *([f"- {line}" for line in self.resolved] or ["- none"]),
            "",
            *self._version_lines(),
            "",
            f"ICD-10-CM codes left out because `engine.core.codes.normalize_code` rejects them: "
            f"{len(skipped)} ({', '.join(skipped)}).",
        ]
        return "\n".join(lines) + "\n"

    def _version_lines(self) -> list[str]:
        """Terminal codes per catalog version, and where CIE-10-ES 2018's come from."""
        lines = ["Terminal codes (codes a coder may submit) per catalog version:", ""]
        for edition, (catalog, _) in self.catalogs.items():
            for version_id, version in catalog.versions.items():
                lines.append(f"- {edition} {version_id} ({version.name}): {len(version.terminal)}")
        if (cm := self.cm_versions) is not None:
            lines += [
                "",
                f"CIE-10-ES 2018: {cm.billable_2018} FY2018 billable codes, {cm.billable_2018_missing} of them "
                f"deleted since (not in the 2026 tree); {cm.cut_2018} forms without the 7th character; "
                f"{len(cm.evidence_2018)} CodiEsp gold codes that FY2018 had split ({', '.join(cm.evidence_2018)}).",
            ]
        return lines

    def _catalog_table(self) -> list[str]:
        """One row per catalog: nodes per kind and titles per language."""
        rows = [f"| catalog | nodes | {' | '.join(KINDS)} | titles per language | bytes |", "|---" * 9 + "|"]
        for edition, (catalog, size) in self.catalogs.items():
            kinds = catalog.kind_counts()
            counts = " | ".join(str(kinds.get(kind, 0)) for kind in KINDS)
            titled = ", ".join(
                f"{lang} {sum(lang in node.titles for node in catalog.nodes.values())}"
                for lang in catalog.languages
            )
            rows.append(f"| {edition} | {len(catalog.nodes)} | {counts} | {titled} | {size} |")
        return rows

    def _dictionary_table(self) -> list[str]:
        """One row per dictionary source: entries kept and dropped by the edition check."""
        rows = [
            "| dictionary | terms | keys with occurrences | bytes | source | entries kept "
            "| entries dropped (distinct codes) |",
            "|---" * 7 + "|",
        ]
        for lang, (document, reports, size) in self.dictionaries.items():
            lead = f"| {lang} ({document['edition']}) | {len(document['terms'])} "
            lead += f"| {len(document['occurrences'])} | {size}"
            for source, report in reports.items():
                dropped = f"{report.dropped} ({len(report.dropped_codes)})"
                rows.append(f"{lead} | {source} | {report.kept} | {dropped} |")
                lead = "| | | |"
        return rows


def write_json_gz(path: Path, document: object) -> int:
    """Write compact, key-sorted, ASCII-only JSON, gzipped with mtime 0; return the file size.

    ASCII text is decoded at copying speed when loaded (``engine.core.resources.load_compiled``).
    """
    text = json.dumps(document, separators=(",", ":"), sort_keys=True)
    data = gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)
    path.write_bytes(data)
    return len(data)


def write_notes(out: Path) -> int:
    """The CM tabular notes, beside the CM catalog (its format unchanged); returns the file size."""
    return write_json_gz(out / "cm.notes.json.gz", build_cm_notes())


def build_catalogs(splits: tuple[str, ...], report: Report) -> dict[str, Catalog]:
    """All three catalogs; CM also gets the included splits' gold codes it lacks."""
    who = build_who()
    cm = build_cm(who)
    gold = set().union(*(codiesp.gold_codes(split) for split in splits))
    added = gold - set(cm.nodes)
    for code in sorted(added):
        node = add_under_prefix(cm, code)
        report.resolved.append(
            f"{code}: not in CM 2026; added as kind {node.kind} under {node.parent}, "
            f"with {node.parent}'s titles"
        )
    report.cm_versions = cm_versions(cm, gold, added)
    cm.versions = report.cm_versions.versions
    gm = build_gm()
    who.versions = {"2019": Version("WHO ICD-10 2019", who.leaves())}
    gm.versions = {"2017": Version("ICD-10-GM 2017", gm.leaves())}
    return {"who": who, "cm": cm, "gm": gm}


def planned(only: frozenset[str]) -> dict[str, tuple[str, LanguagePlan]]:
    """Dictionaries to build, by output name ("es", "es.icdo3"): (language, plan), as ``--only`` asks."""
    languages = only & set(LANGUAGES)
    editions = only - languages
    plans = {lang: (lang, plan) for lang, plan in LANGUAGES.items()}
    if not languages or editions:
        plans |= {f"{lang}.{edition}": (lang, plan) for (lang, edition), plan in EDITION_PLANS.items()}
    return {
        name: (lang, plan) for name, (lang, plan) in plans.items()
        if (not languages or lang in languages) and (not editions or plan.edition in editions)
    }


def build(out: Path, only: frozenset[str], excluded: frozenset[str]) -> Report:
    """Write the catalogs of the chosen dictionaries' editions, then the dictionaries."""
    verify_all()
    out.mkdir(parents=True, exist_ok=True)
    report = Report()
    plans = planned(only)
    editions = sorted({plan.edition for _, plan in plans.values()})
    catalogs: dict[str, Catalog] = {}
    if set(editions) - {"icdo3"}:
        splits = tuple(split for split in codiesp.SPLITS if codiesp.source_id(split) not in excluded)
        catalogs = build_catalogs(splits, report)
    if "icdo3" in editions:
        catalogs |= {"icdo3": icdo.build_morphology(), "icdo3t": icdo.build_topography()}
        editions.append("icdo3t")
    for edition in editions:
        size = write_json_gz(out / f"{edition}.catalog.json.gz", catalogs[edition].to_json())
        report.catalogs[edition] = (catalogs[edition], size)
    if "cm" in report.catalogs:
        write_notes(out)
    for name, (lang, plan) in plans.items():
        builder = TermBuilder(lang, plan, catalogs, excluded)
        document = builder.build()
        size = write_json_gz(out / f"{name}.terms.json.gz", document)
        report.dictionaries[name] = (document, builder.reports, size)
    return report


def print_dropped(report: Report) -> None:
    """Which codes each source lost to the edition check (the table has only counts)."""
    for lang, (document, reports, _) in report.dictionaries.items():
        for source, source_report in reports.items():
            if codes := sorted(source_report.dropped_codes):
                shown = ", ".join(codes[:10]) + (", ..." if len(codes) > 10 else "")
                print(f"{lang} {source}: dropped codes not in {document['edition']}: {shown}")


def update_sources_md(markdown: str) -> None:
    """Replace the generated counts block of SOURCES.md."""
    text = SOURCES_MD.read_text(encoding="utf-8")
    if not COUNTS_BLOCK_RE.search(text):
        raise SystemExit(f"{SOURCES_MD} lacks the <!-- counts:start --> / <!-- counts:end --> markers")
    SOURCES_MD.write_text(
        COUNTS_BLOCK_RE.sub(lambda m: m.group(1) + markdown + m.group(2), text), encoding="utf-8"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python3 -m dictionaries.build", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--exclude",
        nargs="+",
        action="extend",
        default=[],
        choices=sorted(SOURCE_INFO),
        metavar="SOURCE",
        help="leave a source out of every output, e.g. codiesp-dev",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        action="extend",
        default=[],
        choices=sorted({*LANGUAGES, *(edition for _, edition in EDITION_PLANS)}),
        metavar="LANG|EDITION",
        help="build only these languages and/or editions (icdo3) and their catalogs",
    )
    parser.add_argument("--out", type=Path, default=COMPILED_DIR, help="output folder (default: compiled/)")
    parser.add_argument(
        "--update-sources-md",
        action="store_true",
        help="write the counts into SOURCES.md (default full build only)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Build, print the counts, optionally record them in SOURCES.md."""
    args = parse_args(argv)
    if args.update_sources_md and (args.only or args.exclude):
        raise SystemExit("--update-sources-md records the full default build only")
    started = time.perf_counter()
    try:
        report = build(args.out, frozenset(args.only), frozenset(args.exclude))
    except SourceError as error:
        raise SystemExit(f"dictionary build failed: {error}") from error
    markdown = report.markdown()
    print(markdown)
    print_dropped(report)
    if args.update_sources_md:
        update_sources_md(markdown)
    print(
        f"\nwrote {len(report.catalogs)} catalogs and {len(report.dictionaries)} dictionaries "
        f"to {args.out} in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
