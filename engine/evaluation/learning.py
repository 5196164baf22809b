"""The learning curve: how coding improves as coders review, measured on an annotated corpus.

Documents are coded in file order by the real pipeline with a site dictionary.  After each one,
its gold annotations are applied through the window's own review path (``engine.records.review``
functions, each a ``ReviewStep`` in a ``ReviewSession``, written by the session database's writer,
which teaches the site dictionary), so the next document is coded with what was learned.  The
session database is a fresh one in a temporary folder, never the coder's.  Each document is
scored on what the pipeline proposed *before* its review: what a coder would have been shown.

The review a coder would do, mention by mention:

- a proposed code that is the gold code is accepted; a wrong one is changed to the gold code;
- a gold mention the pipeline did not find is added (detect mode);
- a detection that overlaps no gold mention is rejected ("not a diagnosis here");
- a detection that overlaps a gold mention with other boundaries is deleted (it teaches nothing:
  its words may well be a diagnosis, e.g. "diabetes" inside "diabetes mellitus tipo 2"), and
  the gold mention is added.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.core.errors import ReviewError
from engine.core.model import DocumentResult, Stage
from engine.core.progress import Progress
from engine.evaluation.metrics import DOCUMENT_LEVELS, MENTION_LEVELS, ScoreTally, gold_tasks
from engine.linking.pipeline import Pipeline
from engine.records.audit import Action, ReviewStep, Step
from engine.records.review import accept, add_mention, change_code, delete, reject
from engine.records.session import SessionDocument
from engine.records.session_db import open_session
from engine.records.site_store import SiteDictionaries
from engine.terms.catalog import Catalog
from engine.terms.site_dictionary import KeyRule
from engine.text.annotations import GoldDocument

__all__ = ["BLOCK", "GoldReviewer", "format_curve", "learning_curve"]

BLOCK = 50  # documents per point of the curve
CODER = "learning-curve"

Change = Callable[[DocumentResult], DocumentResult]


class GoldReviewer:
    """Reviews coded documents to their gold annotations as a coder in the window would, in its own database."""

    def __init__(self, path: Path, catalog: Catalog, key_rule: KeyRule = KeyRule()) -> None:
        opened = open_session(path)
        if opened.problem is not None:
            opened.database.close()
            raise opened.problem
        self.session, self.database, self.catalog = opened.session, opened.database, catalog
        self.database.site = SiteDictionaries(key_rule=key_rule)  # empty: the session is new
        self.actions: Counter[str] = Counter()  # what the reviews did, "skipped" for codes the catalog lacks

    def teach(self, pipeline: Pipeline) -> None:
        """Code with what this reviewer's decisions teach, from the next document on."""
        pipeline.site = self.database.site.get(pipeline.language, pipeline.catalog.edition)

    def review(self, gold: GoldDocument, result: DocumentResult, mode: str) -> None:
        """Review ``result`` to ``gold`` and wait until the site dictionary has learned from it."""
        key = f"{len(self.session)}:{gold.document.id}"
        self.session.documents.append(SessionDocument(key, gold.document.source, gold.document.language))
        self.session.touch()
        self.session.set_result(key, result)
        if result.error is None:
            for action, change in _review_plan(gold, result, mode, self.catalog):
                self._apply(key, action, change)
        self.database.submit(self.session.take_changes())
        self.database.flush()

    def close(self) -> None:
        self.database.close()

    def _apply(self, key: str, action: Action, change: Change) -> None:
        before = self.session.get(key).result
        assert before is not None
        try:
            after = change(before)
        except ReviewError:  # a gold code this catalog does not hold: the coder could not enter it either
            self.actions["skipped"] += 1
            return
        step = ReviewStep(key, action, Step.DO, before, after, CODER, datetime.now(UTC))
        self.session.set_result(key, after, step)
        self.actions[action.value] += 1


def _review_plan(gold: GoldDocument, result: DocumentResult, mode: str,
                 catalog: Catalog) -> list[tuple[Action, Change]]:
    """The review actions, in an order where each one's index still points at its mention."""
    if mode == "gold":  # given mentions come back in the order given, one assignment each
        return [(Action.ACCEPT, _at(accept, i)) if a.code == g.code else
                (Action.CHANGE_CODE, _recode(i, g.code, catalog))
                for i, (g, a) in enumerate(zip(gold.mentions, result.assignments))]
    open_gold = list(gold.mentions)
    in_place: list[tuple[Action, Change]] = []
    deleted: list[int] = []
    for i, assignment in enumerate(result.assignments):
        start, end = assignment.mention.start, assignment.mention.end
        same = [g for g in open_gold if (g.mention.start, g.mention.end) == (start, end)]
        right = next((g for g in same if g.code == assignment.code), None)
        if right is not None:
            open_gold.remove(right)
            in_place.append((Action.ACCEPT, _at(accept, i)))
        elif same:
            open_gold.remove(same[0])
            in_place.append((Action.CHANGE_CODE, _recode(i, same[0].code, catalog)))
        elif any(g.mention.start < end and start < g.mention.end for g in gold.mentions):
            deleted.append(i)
        else:
            in_place.append((Action.REJECT, _at(reject, i)))
    deletes = [(Action.DELETE, _at(delete, i)) for i in reversed(deleted)]
    adds = [(Action.ADD_MENTION, _add([(s.start, s.end) for s in g.mention.spans], g.code, catalog))
            for g in open_gold]
    return in_place + deletes + adds


def _at(operation: Callable[[DocumentResult, int], DocumentResult], index: int) -> Change:
    return lambda result: operation(result, index)


def _recode(index: int, code: str, catalog: Catalog) -> Change:
    return lambda result: change_code(result, index, code, catalog)


def _add(spans: list[tuple[int, int]], code: str, catalog: Catalog) -> Change:
    return lambda result: add_mention(result, spans, code, catalog)


@dataclass
class _Block:
    first: int  # 1-based, as the curve prints it
    tally: ScoreTally
    assignments: int = 0
    by_site: int = 0
    last: int = field(init=False, default=0)

    def add(self, index: int, gold: GoldDocument, result: DocumentResult) -> None:
        self.last = index + 1
        self.tally.add(gold, result)
        self.assignments += len(result.assignments)
        self.by_site += sum(a.stage is Stage.SITE for a in result.assignments)

    def point(self) -> dict[str, Any]:
        scores = self.tally.scores()
        return {
            "first": self.first, "last": self.last,
            "mentions": {level: s["f1"] for level, s in scores["mentions"].items()},
            "documents": {level: s["f1"] for level, s in scores["documents"].items()},
            "site_share": round(self.by_site / self.assignments, 4) if self.assignments else 0.0,
        }


class _Offset:
    """One progress bar over the teaching documents and then the scored ones."""

    def __init__(self, progress: Progress, before: int, total: int) -> None:
        self._progress, self._before, self._total = progress, before, total

    def update(self, done: int, total: int, message: str) -> None:
        self._progress.update(self._before + done, self._total, message)

    def cancelled(self) -> bool:
        return self._progress.cancelled()


def learning_curve(
    pipeline: Pipeline,
    corpus: list[GoldDocument],
    mode: str,
    *,
    score_from: int = 0,
    teach_first: list[GoldDocument] | None = None,
    key_rule: KeyRule = KeyRule(),
    progress: Progress | None = None,
    on_result: Callable[[GoldDocument, DocumentResult], None] | None = None,
) -> dict[str, Any]:
    """Code and review ``corpus`` in order, learning as it goes; score documents from index ``score_from``.

    ``teach_first`` are reviewed before (coded and learned from, not scored); learning goes on
    through ``corpus``, as it would at a site.  The result has ``evaluate``'s keys, its scores
    over the scored documents, and ``learning``: the curve (F1 per ``BLOCK`` documents, every
    document of ``corpus``, before its review) and what the reviews did.
    """
    teach_first = teach_first or []
    scored, blocks = ScoreTally(mode), []
    started = time.perf_counter()
    total = len(teach_first) + len(corpus)
    with tempfile.TemporaryDirectory(prefix="icdlinker-learning-") as folder:
        reviewer = GoldReviewer(Path(folder) / "session.sqlite3", pipeline.catalog, key_rule)
        site = pipeline.site
        try:
            reviewer.teach(pipeline)
            teaching = _Offset(progress, 0, total) if progress else None
            for gold, result in _coded(pipeline, teach_first, mode, teaching):
                reviewer.review(gold, result, mode)
            later = _Offset(progress, len(teach_first), total) if progress else None
            for index, (gold, result) in enumerate(_coded(pipeline, corpus, mode, later)):
                if index % BLOCK == 0:
                    blocks.append(_Block(index + 1, ScoreTally(mode)))
                blocks[-1].add(index, gold, result)
                if index >= score_from:
                    scored.add(gold, result)
                    if on_result is not None:
                        on_result(gold, result)
                reviewer.review(gold, result, mode)
            terms = len(reviewer.database.site)
        finally:
            reviewer.close()
            pipeline.site = site  # what was learned leaves with the temporary folder
    learning = {
        "curve": [block.point() for block in blocks], "block": BLOCK, "score_from": score_from,
        "taught_first": len(teach_first), "terms_learned": terms,
        "actions": dict(sorted(reviewer.actions.items())),
    }
    return {**scored.scores(), "seconds": round(time.perf_counter() - started, 2), "learning": learning}


def _coded(pipeline: Pipeline, corpus: list[GoldDocument], mode: str,
           progress: Progress | None) -> Iterator[tuple[GoldDocument, DocumentResult]]:
    """Each document with its result; ``Pipeline.run`` codes the next one when asked: after the review."""
    return zip(corpus, pipeline.run(gold_tasks(corpus, mode), progress))


def format_curve(learning: dict[str, Any]) -> str:
    """The curve as the CLI prints it, one line per block."""
    levels = "/".join(lv.value for lv in MENTION_LEVELS), "/".join(lv.value for lv in DOCUMENT_LEVELS)
    taught = f" after {learning['taught_first']} documents taught first" if learning["taught_first"] else ""
    lines = [f"learning curve{taught}: F1 per {learning['block']} documents, each coded before its review "
             f"(mentions {levels[0]} | documents {levels[1]} | share coded by the site stage)"]
    for point in learning["curve"]:
        mentions = " ".join(f"{f:.3f}" for f in point["mentions"].values())
        documents = " ".join(f"{f:.3f}" for f in point["documents"].values())
        scored = "" if point["last"] > learning["score_from"] else "  (not scored)"
        lines.append(f"  {point['first']:>5}–{point['last']:<5} {mentions} | {documents} | site "
                     f"{point['site_share']:.0%}{scored}")
    actions = ", ".join(f"{name} {n}" for name, n in learning["actions"].items())
    lines.append(f"  {learning['terms_learned']} terms learned; review actions: {actions or 'none'}")
    return "\n".join(lines)
