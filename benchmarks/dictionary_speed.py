"""Dictionary-stage speed and memory, against flashtext in the same run.

    python benchmarks/dictionary_speed.py [TEXT_DIR] [--lang es] [--rounds 3]

Prints throughput (MB/s of UTF-8 text) for our detector (accent folding, exact
original offsets, longest match) and for flashtext's KeywordProcessor given the
same term list (it folds case only), their ratio, the load time of every
bundled dictionary, and peak RSS.  Machines here are noisy: read the ratio.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flashtext import KeywordProcessor

from engine.core.model import Document
from engine.linking.detection import detect_mentions
from engine.linking.pipeline import Pipeline
from engine.terms.catalog import Catalog
from engine.terms.dictionary import LANGUAGES, TermDictionary

DEFAULT_TEXTS = Path(__file__).resolve().parents[2] / "shared/data/codiesp/background/text_files"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _best_of(rounds: int, work) -> float:
    best = float("inf")
    for _ in range(rounds):
        gc.collect()
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("texts", nargs="?", type=Path, default=DEFAULT_TEXTS)
    parser.add_argument("--lang", default="es")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    print("load time per bundled dictionary (file → ready to match):")
    for language in LANGUAGES:
        started = time.perf_counter()
        loaded = TermDictionary.bundled(language)
        parsed = time.perf_counter() - started
        _ = loaded._index  # the detection index is built on first use; count it here
        ready = time.perf_counter() - started
        print(f"  {language}: {len(loaded):>7} terms  parse {parsed:.3f} s  ready {ready:.3f} s")
    del loaded
    gc.collect()

    dictionary = TermDictionary.bundled(args.lang)
    _ = dictionary._index
    terms = [dictionary.entry(key).display for key in dictionary._index[2]]
    files = sorted(args.texts.glob("*.txt"))
    texts = [path.read_text(encoding="utf-8") for path in files]
    megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    documents = [Document(str(i), text, args.lang) for i, text in enumerate(texts)]
    print(f"\ncorpus: {len(texts)} documents, {megabytes:.2f} MB; term list: {len(terms)} {args.lang} terms")

    keywords = KeywordProcessor(case_sensitive=False)
    # Let flashtext treat accented letters as word characters, as we do.
    keywords.non_word_boundaries |= {c for term in terms for c in term.lower() if c.isalnum()}
    for term in terms:
        keywords.add_keyword(term)

    found = {"ours": 0, "flashtext": 0}

    def ours() -> None:
        found["ours"] = sum(len(detect_mentions(d, dictionary)) for d in documents)

    def flash() -> None:
        found["flashtext"] = sum(len(keywords.extract_keywords(t, span_info=True)) for t in texts)

    pipeline = Pipeline(dictionary, Catalog.bundled(dictionary.edition))
    _ = pipeline.linker  # build the fuzzy index outside the timing

    def stage() -> None:
        for document in documents:
            pipeline.code(document)

    ours_s = _best_of(args.rounds, ours)
    flash_s = _best_of(args.rounds, flash)
    stage_s = _best_of(args.rounds, stage)
    print(f"ours      {megabytes / ours_s:7.2f} MB/s  ({ours_s:.2f} s, {found['ours']} mentions with offsets)")
    print(f"flashtext {megabytes / flash_s:7.2f} MB/s  ({flash_s:.2f} s, {found['flashtext']} keywords)")
    print(f"ratio ours/flashtext: {flash_s / ours_s:.2f}x")
    print(f"whole dictionary stage (detect + link + candidates): {megabytes / stage_s:.2f} MB/s ({stage_s:.2f} s)")
    print(f"peak RSS: {_peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
