"""Share of Spanish rows whose shown title is not Spanish (issue 13: it must be ≤ 5 %).

    python benchmarks/title_language.py [--docs N] [FOLDER ...]

Codes the first N documents (default 300) of each folder (default: CodiEsp's 2,751 background
documents) with the window's default settings, and reads each coded mention's title as every
view and export shows it (``Assignment.title``, from ``Catalog.title``).  A title counts as
Spanish when it starts with the Spanish title of its code or of an ancestor.  The peer, measured
in the same run: the code's own title only, English where it has no Spanish one, which is what
the window showed before titles fell back to the nearest Spanish ancestor.  The browse tree's
chapters and blocks are counted the same way.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.linking.dictionary_stage import LinkerSettings
from engine.linking.pipeline import Pipeline
from engine.records.settings import AppSettings
from engine.terms.catalog import Catalog
from engine.terms.dictionary import DetectionPolicy
from engine.text.readers import read_document

BACKGROUND = Path(__file__).resolve().parents[2] / "shared/data/codiesp/background/text_files"


def spanish_titles(catalog: Catalog, code: str) -> list[str]:
    """Spanish titles of the code and its ancestors: what a Spanish shown title starts with."""
    titles, current = [], catalog.node(code)
    while current is not None:
        if "es" in current.titles:
            titles.append(current.titles["es"])
        current = catalog.node(current.parent) if current.parent else None
    return titles


def is_spanish(catalog: Catalog, code: str, shown: str) -> bool:
    return any(shown.startswith(title) for title in spanish_titles(catalog, code))


def own_title_before(catalog: Catalog, code: str) -> str:
    """The rule the window had: the code's own Spanish title, else its English one."""
    node = catalog.node(code)
    return (node.titles.get("es") or node.titles.get("en", "")) if node else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, default=[BACKGROUND])
    parser.add_argument("--docs", type=int, default=300)
    args = parser.parse_args()
    settings = AppSettings()
    pipeline = Pipeline.bundled(
        "es", policy=DetectionPolicy(nested=settings.nested_mentions),
        settings=LinkerSettings(fuzzy_threshold=settings.fuzzy_threshold), version=settings.cm_version,
    )
    catalog = pipeline.catalog
    for folder in args.folders:
        paths = sorted(folder.glob("*.txt"))[: args.docs]
        started = time.perf_counter()
        rows = after = before = 0
        for result in pipeline.run(paths):
            for a in result.assignments:
                if a.code is None:
                    continue
                rows += 1
                after += not is_spanish(catalog, a.code, a.title)
                before += not is_spanish(catalog, a.code, own_title_before(catalog, a.code))
        seconds = time.perf_counter() - started
        print(f"{folder}: {len(paths)} documents, {rows} coded mentions ({seconds:.1f} s)")
        print(f"  not Spanish, code's own title (before): {before:6d} = {before / rows:6.1%}")
        print(f"  not Spanish, shown title (now):         {after:6d} = {after / rows:6.1%}"
              f"   (target ≤ 5 %; ratio now/before {after / before if before else 0:.3f})")
    headings, stack = [], list(catalog.roots())
    while stack:  # chapters and blocks: the top of the browse tree
        node = catalog.node(stack.pop())
        if node is not None and node.kind in ("chapter", "block"):
            headings.append(node)
            stack.extend(catalog.children(node.code))
    tree_before = sum(not is_spanish(catalog, n.code, own_title_before(catalog, n.code)) for n in headings)
    tree_after = sum(not is_spanish(catalog, n.code, catalog.title(n.code, "es")) for n in headings)
    print(f"browse tree, {len(headings)} CM chapters and blocks: not Spanish before {tree_before / len(headings):.1%}, "
          f"now {tree_after / len(headings):.1%}")


if __name__ == "__main__":
    main()
