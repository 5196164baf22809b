"""CANTEMIST-NORM given the spans: a plain exact lookup against the engine, in the same run.

    python benchmarks/cantemist_baseline.py [SPLIT_DIR] [--limit N]

The baseline looks each gold mention of the split up, folded (accents, case), among the
train and dev1 mentions and answers their most frequent code (ties: the smallest code);
a mention never seen gets no code.  The engine links the same mentions with the
dictionary built without the split (``--dictionary-exclude cantemist-dev2``).  Both are
scored on the whole code (``8140/33/H``), as the official evaluation does.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dictionaries import cantemist
from engine.core.codes import Edition, Level
from engine.evaluation.metrics import evaluate, mention_scores_gold
from engine.linking.pipeline import Pipeline
from engine.records.settings import AppSettings
from engine.text.annotations import load_gold
from engine.text.normalize import term_key

DEFAULT_SPLIT = Path(__file__).resolve().parents[2] / "shared/data/cantemist/dev2"


def exact_lookup(splits: tuple[str, ...]) -> dict[str, str]:
    """Folded mention text → its most frequent code in ``splits``."""
    counts: dict[str, Counter[str]] = {}
    for split in splits:
        for mention in cantemist.mentions(split):
            counts.setdefault(term_key(mention.text), Counter())[mention.code] += 1
    return {key: min(c, key=lambda code: (-c[code], code)) for key, c in counts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("split", nargs="?", type=Path, default=DEFAULT_SPLIT)
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    held_out = args.split.name
    corpus = load_gold(args.split, "es", Edition.ICDO3)[: args.limit]
    table = exact_lookup(tuple(s for s in cantemist.SPLITS if s != held_out))
    pairs = [(g.code, table.get(term_key(g.mention.text))) for document in corpus for g in document.mentions]
    settings = AppSettings()
    pipeline = Pipeline.bundled(
        "es", Edition.ICDO3, exclude=frozenset({cantemist.source_id(held_out)}),
        policy=settings.detection_policy(), settings=settings.linker_settings(),
    )
    engine = evaluate(pipeline, corpus, "gold")["mentions"]
    print(f"{len(corpus)} documents, {len(pairs)} gold mentions of {args.split}")
    for level in (Level.CATEGORY, Level.SUBCATEGORY, Level.FULL):
        base = mention_scores_gold(pairs, level).as_dict()
        ours = engine[level.value]
        print(f"{level.value:<11}  exact lookup  P {base['p']:.3f}  R {base['r']:.3f}  F1 {base['f1']:.3f}   "
              f"engine  P {ours['p']:.3f}  R {ours['r']:.3f}  F1 {ours['f1']:.3f}   "
              f"F1 ratio {ours['f1'] / base['f1']:.3f}")


if __name__ == "__main__":
    main()
