"""What each choice of the site dictionary's key adds, and what 50,000 learned terms cost.

    python benchmarks/site_learning.py [CODIESP_DIR]

1. The learning curve on CodiEsp dev (gold mentions, cold start: the Spanish dictionary without
   CodiEsp train and dev, documents 125-249 scored) with three key rules: exact folded words,
   Snowball stems in the written order, and stems in any order (the app's).
2. Coding the same dev documents with no site dictionary and with one of 50,000 learned terms
   (CodiEsp train's mentions, then catalog titles in Spanish and English): seconds per document
   and the ratio, in both mention modes.  Each configuration gets a pipeline of its own, warmed
   up on other documents (the fuzzy index builds on the first one that needs it), so neither
   finds the timed documents' terms in its caches.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.evaluation.learning import learning_curve
from engine.evaluation.metrics import gold_tasks
from engine.linking.pipeline import Pipeline
from engine.terms.site_dictionary import KeyRule, Lesson, SiteDictionary
from engine.text.annotations import GoldDocument, load_gold

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/codiesp"
COLD = frozenset({"codiesp-train", "codiesp-dev"})
RULES = [("exact folded words", KeyRule(stem=False, any_order=False)),
         ("Snowball stems, written order", KeyRule(stem=True, any_order=False)),
         ("Snowball stems, any order (default)", KeyRule())]
LEARNED = 50_000
TIMED = 100  # dev documents coded per configuration
WARM = 20  # other dev documents coded first


def key_rules(pipeline: Pipeline, dev: list[GoldDocument]) -> None:
    print(f"key rule — CodiEsp dev, gold mentions, cold start, {len(dev) - 125} documents scored (125-249)")
    print(f"{'rule':<38} {'category F1':>11} {'full F1':>8} {'site share 201-250':>19} {'terms':>6}")
    for name, rule in RULES:
        scores = learning_curve(pipeline, dev, "gold", score_from=125, key_rule=rule)
        learning = scores["learning"]
        print(f"{name:<38} {scores['mentions']['category']['f1']:11.3f} {scores['mentions']['full']['f1']:8.3f} "
              f"{learning['curve'][-1]['site_share']:19.0%} {learning['terms_learned']:6d}")


def many_terms(pipeline: Pipeline, train: list[GoldDocument]) -> SiteDictionary:
    """A site dictionary of ``LEARNED`` terms, taught directly: train's mentions first, then titles."""
    at = datetime.now(UTC).isoformat(timespec="milliseconds")
    terms = {m.mention.text: m.code for gold in train for m in gold.mentions}
    site = SiteDictionary("es", pipeline.catalog.edition)
    titles = ((title, node.code) for node in pipeline.catalog.codes() for title in
              (node.titles.get("es"), node.titles.get("en")) if title)
    while len(site) < LEARNED:
        site.learn(Lesson("es", pipeline.catalog.edition, term, code, 1, at) for term, code in terms.items())
        terms = dict(next(titles) for _ in range(LEARNED - len(site)))
    return site


def seconds_per_document(pipeline: Pipeline, corpus: list[GoldDocument], mode: str) -> tuple[float, float]:
    """Seconds and mentions coded per document."""
    tasks = gold_tasks(corpus, mode)
    started = time.perf_counter()
    mentions = sum(len(result.assignments) for result in pipeline.run(tasks))
    return (time.perf_counter() - started) / len(tasks), mentions / len(tasks)


def coding_cost(pipeline: Pipeline, dev: list[GoldDocument], train: list[GoldDocument]) -> None:
    started = time.perf_counter()
    site = many_terms(pipeline, train)
    print(f"\ncoding cost — {len(site):,} learned terms taught in {time.perf_counter() - started:.1f} s; "
          f"{TIMED} dev documents per run")
    print(f"{'mentions':<9} {'no site s/doc':>14} {'50k terms s/doc':>16} {'ratio':>6} {'mentions/doc':>13}")
    documents, warm = dev[:TIMED], dev[-WARM:]
    for mode in ("gold", "detect"):
        figures = []
        for learned in (None, site):
            fresh = Pipeline(pipeline.dictionary, pipeline.catalog, site=learned)
            seconds_per_document(fresh, warm, mode)
            figures.append(seconds_per_document(fresh, documents, mode))
        (plain, found), (learned_s, learned_found) = figures
        print(f"{mode:<9} {plain:14.4f} {learned_s:16.4f} {learned_s / plain:6.2f} {found:6.1f} →{learned_found:5.1f}")


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DATA
    dev, train = load_gold(data / "dev", "es"), load_gold(data / "train", "es")
    pipeline = Pipeline.bundled("es", exclude=COLD)
    key_rules(pipeline, dev)
    coding_cost(pipeline, dev, train)


if __name__ == "__main__":
    main()
