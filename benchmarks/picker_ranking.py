"""Code picker ranking on CodiEsp dev: where the gold code lands when a coder types the mention.

    python benchmarks/picker_ranking.py [--limit N] [--before FILE]

For every DIAGNOSTICO mention of CodiEsp dev (vendored in dictionaries/sources), search the
ICD-10-CM picker index in Spanish for the mention's text and report recall@1 and @10 of the gold
code, and the mean search time, for: the picker as shipped (titles and dictionary terms, ranked by
coverage and use) with the CodiEsp dev annotations left out of its dictionary (an honest figure),
the same ranking over titles only, and with ``--before FILE`` an older ``code_search.py`` (e.g.
``git show REV:engine/terms/code_search.py > old.py``) measured in the same run.  Then the time a
keystroke costs: every prefix of the first two words of 200 mentions, typed a letter at a time
(median and 95th percentile per search, and their ratio to the first search's).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.core.codes import Edition
from dictionaries.codiesp import mentions as codiesp_mentions
from engine.evaluation.picker import PickerCheck
from engine.terms.catalog import Catalog
from engine.terms.code_search import CodeSearch
from engine.terms.dictionary import TermDictionary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="only the first N mentions")
    parser.add_argument("--before", type=Path, help="an older engine/terms/code_search.py to compare")
    args = parser.parse_args()
    mentions = [(m.text, m.code) for m in codiesp_mentions("dev")][: args.limit]
    catalog = Catalog.bundled(Edition.CM)
    honest = TermDictionary.bundled("es", exclude=frozenset({"codiesp-dev"}))
    searches: dict[str, Any] = {
        "picker (titles + terms, dev left out)": CodeSearch(catalog, "es", honest),
        "same ranking, titles only": CodeSearch(catalog, "es"),
    }
    if args.before:
        spec = importlib.util.spec_from_file_location("before_code_search", args.before)
        assert spec is not None and spec.loader is not None
        module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        searches[f"before ({args.before.name})"] = module.CodeSearch(catalog, "es")
    print(f"{len(mentions)} CodiEsp dev DIAGNOSTICO mentions, ICD-10-CM, Spanish titles")
    print(f"{'search':44} {'recall@1':>9} {'recall@10':>10} {'found':>7} {'ms/query':>9}")
    for name, search in searches.items():
        started = time.perf_counter()
        check = PickerCheck.of(search, mentions)
        elapsed = (time.perf_counter() - started) * 1000 / max(1, len(mentions))
        print(f"{name:44} {check.recall(1):9.3f} {check.recall(10):10.3f} {check.recall(100):7.3f} {elapsed:9.1f}")
    typed = [" ".join(text.split()[:2]) for text, _ in mentions[:: max(1, len(mentions) // 200)]]
    prefixes = [word[:n] for word in typed for n in range(1, len(word) + 1)]
    print(f"\n{len(prefixes)} keystrokes (prefixes of the first two words of {len(typed)} mentions)")
    print(f"{'search':44} {'median ms':>10} {'p95 ms':>8} {'ratio':>6}")
    first = None
    for name, search in searches.items():
        times = []
        for prefix in prefixes:
            started = time.perf_counter()
            search.search(prefix, 100)
            times.append((time.perf_counter() - started) * 1000)
        median, p95 = statistics.median(times), statistics.quantiles(times, n=20)[-1]
        first = first or median
        print(f"{name:44} {median:10.1f} {p95:8.1f} {median / first:6.2f}")


if __name__ == "__main__":
    main()
