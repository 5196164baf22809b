"""What detecting each document's language costs a batch: ``icdlinker code`` with and without --lang.

    python benchmarks/language_detection.py [TEXT_DIR] [--lang es] [--rounds 1]

Codes every file of TEXT_DIR (default: the 2,751 CodiEsp background documents)
through the command line's batch path (``LanguagePipelines.run``: read, detect,
code), once with the language forced and once detected, rounds interleaved so
both see the same machine; prints each time (best of the rounds, wall and CPU: on a
shared machine CPU time is the steadier), their ratio,
the detection alone, and which languages detection chose.  Dictionaries are
loaded before timing (their load is the same either way, and is printed).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.linking.languages import LanguagePipelines
from engine.linking.pipeline import Pipeline
from engine.records.settings import AppSettings
from engine.text.language import detected_language

DEFAULT_TEXTS = Path(__file__).resolve().parents[2] / "shared/data/codiesp/background/text_files"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("texts", nargs="?", type=Path, default=DEFAULT_TEXTS)
    parser.add_argument("--lang", default="es", help="the language forced in the peer run")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()

    files = sorted(args.texts.glob("*.txt"))
    megabytes = sum(path.stat().st_size for path in files) / 1e6
    settings = AppSettings()  # the shipped defaults, as eval uses

    def build(language: str) -> Pipeline:
        started = time.perf_counter()
        pipeline = Pipeline.bundled(language, policy=settings.detection_policy(),
                                    settings=settings.linker_settings(), version=settings.cm_version)
        print(f"  built the {language} pipeline in {time.perf_counter() - started:.2f} s")
        return pipeline

    forced = LanguagePipelines(build, settings.default_language, args.lang)
    detected = LanguagePipelines(build, settings.default_language)
    texts = [path.read_text(encoding="utf-8", errors="replace") for path in files]
    started = time.process_time()
    chosen = Counter(detected_language(text) or "(default)" for text in texts)
    detection = time.process_time() - started
    print(f"corpus: {len(files)} documents, {megabytes:.2f} MB; detection chose {dict(chosen.most_common())}")
    for language in chosen:  # every dictionary either run needs is loaded before the clock starts
        detected.get(settings.default_language if language == "(default)" else language)
    forced.get(args.lang)

    wall = {"forced": float("inf"), "detected": float("inf")}
    cpu = dict(wall)
    for _ in range(args.rounds):
        for name, pipelines in (("forced", forced), ("detected", detected)):
            started, started_cpu = time.perf_counter(), time.process_time()
            results = list(pipelines.run(files))
            took, took_cpu = time.perf_counter() - started, time.process_time() - started_cpu
            wall[name], cpu[name] = min(wall[name], took), min(cpu[name], took_cpu)
            failed = sum(1 for r in results if r.error)
            mentions = sum(len(r.assignments) for r in results)
            print(f"  {name:<8} {took:7.2f} s wall  {took_cpu:7.2f} s cpu  {mentions} mentions, {failed} failed")
    print(f"\ndetection alone: {detection:.2f} s cpu for {len(files)} documents "
          f"({1000 * detection / len(files):.2f} ms a document)")
    for label, best in (("wall", wall), ("cpu", cpu)):
        print(f"{label}: coding with --lang {args.lang} {best['forced']:.2f} s, without (detected) "
              f"{best['detected']:.2f} s: ratio detected/forced {best['detected'] / best['forced']:.3f}")


if __name__ == "__main__":
    main()
