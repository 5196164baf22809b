"""When to search the other languages: the cross-lingual threshold, tuned on gold mentions.

    ICDLINKER_DICTIONARIES=/tmp/xling-titles python benchmarks/cross_lingual.py SPLIT
        [--below 0 0.6 0.7 ...] [--languages en de ...] [--limit N]

Links every gold mention of SPLIT (a CodiEsp folder) with the dictionary stage, once per
threshold (``LinkerSettings.cross_lingual_below``; 0 = own language only, the peer), and prints
candidate recall@10 over all gold mentions, and mention-level category and full-code F1.  The
indexes are built once and shared by every threshold.  Run it on train with a dictionary built
without train and dev (titles only) to choose the threshold; report dev with ``eval``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.core.codes import Level, at_level
from engine.evaluation.metrics import mention_scores_gold
from engine.linking.cross_lingual import CrossLingualIndex
from engine.linking.dictionary_stage import DictionaryLinker
from engine.linking.pipeline import Pipeline
from engine.records.settings import AppSettings
from engine.terms.dictionary import LANGUAGES
from engine.text.annotations import load_gold


def _rss_mb() -> float:
    """This process's resident memory now (Linux; 0 elsewhere)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("split", type=Path)
    parser.add_argument("--below", type=float, nargs="+", default=[0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01])
    parser.add_argument("--languages", nargs="+", choices=LANGUAGES,
                        help="only these other languages' terms and titles (default: all)")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    corpus = load_gold(args.split, "es")[: args.limit]
    settings = AppSettings()
    pipeline = Pipeline.bundled("es", settings=settings.linker_settings(), version=settings.cm_version)
    base = pipeline.linker
    if args.languages:
        base.cross_lingual = CrossLingualIndex(base.catalog, "es", base.dictionary.excluded, tuple(args.languages))
    costs = []
    for name, index in (("own-language", base.index), ("cross-lingual", base.cross_lingual)):
        before, started, cpu = _rss_mb(), time.perf_counter(), time.process_time()
        size = len(index)  # built before timing the thresholds
        costs.append(f"{name} index {size} choices, {time.perf_counter() - started:.1f} s "
                     f"({time.process_time() - cpu:.1f} s CPU), +{_rss_mb() - before:.0f} MB resident")
    print(f"{len(corpus)} documents, {sum(len(g.mentions) for g in corpus)} gold mentions; " + "; ".join(costs))
    for below in args.below:
        settings = replace(base.settings, cross_lingual_below=below)
        linker = DictionaryLinker(base.dictionary, base.catalog, base.index, settings, base.cross_lingual)
        pairs, hits, crossed = [], 0, 0
        started = time.perf_counter()
        for gold_document in corpus:
            for gold in gold_document.mentions:
                assignment = pipeline.specificity.apply(linker.link(gold.mention))
                pairs.append((gold.code, assignment.code))
                top = {at_level(c.code, Level.FULL) for c in assignment.candidates[:10]}
                hits += at_level(gold.code, Level.FULL) in top
                crossed += any(c.source.startswith("cross-lingual") for c in assignment.candidates)
        category = mention_scores_gold(pairs, Level.CATEGORY)
        full = mention_scores_gold(pairs, Level.FULL)
        print(f"below {below:4.2f}: recall@10 (full code) {hits / len(pairs):.3f}  category F1 {category.f1:.3f} "
              f"(P {category.precision:.3f} R {category.recall:.3f})  full F1 {full.f1:.3f}  "
              f"mentions with cross-lingual candidates {crossed}  ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
