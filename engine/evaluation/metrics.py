"""Evaluation against annotated corpora: the paper's metrics and CodiEsp's.

Mention level, gold mode: every gold mention is linked and scored at three code
levels (precision over mentions given a code, recall over all gold mentions).
Mention level, detect mode: CodiEsp-X style, a prediction counts when its
document, span (start of first piece, end of last) and code all match.
Document level: CodiEsp-D style code sets per document, micro-averaged; and
CANTEMIST-CODING's mean average precision of each document's ranked codes.
Beside them, in every mode, CodiEsp's official figures (``codiesp``): CodiEsp-X
over diagnoses with the task's span slack, and CodiEsp-D MAP.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from engine.core.codes import Level, at_level
from engine.core.model import DocumentResult, ReviewStatus, Stage
from engine.core.progress import Progress
from engine.evaluation.codiesp import explainability_counts, mean_average_precision, ranked_codes
from engine.linking.pipeline import LinkTask, Pipeline
from engine.terms.catalog import Catalog
from engine.text.annotations import GoldDocument

__all__ = [
    "CandidateRecall",
    "ModelVersusFuzzy",
    "ScoreTally",
    "Scores",
    "TerminalCheck",
    "document_scores",
    "evaluate",
    "gold_tasks",
    "mention_scores_detect",
    "mention_scores_gold",
    "CodingMAP",
    "mean_average_precision",
]

MENTION_LEVELS = (Level.CATEGORY, Level.SUBCATEGORY, Level.FULL)
DOCUMENT_LEVELS = (Level.CATEGORY, Level.FULL)


@dataclass(frozen=True, slots=True)
class Scores:
    true_positives: int
    predicted: int
    gold: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float]:
        return {"p": round(self.precision, 4), "r": round(self.recall, 4), "f1": round(self.f1, 4)}


def mention_scores_gold(pairs: Iterable[tuple[str, str | None]], level: Level) -> Scores:
    """Scores over (gold code, predicted code or None) for every gold mention."""
    tp = predicted = gold = 0
    for gold_code, predicted_code in pairs:
        gold += 1
        if predicted_code is not None:
            predicted += 1
            tp += at_level(gold_code, level) == at_level(predicted_code, level)
    return Scores(tp, predicted, gold)


_Key = tuple[str, int, int, str]


def mention_scores_detect(gold: Iterable[_Key], predicted: Iterable[_Key], level: Level) -> Scores:
    """CodiEsp-X style: (document, start, end, code) multisets compared at ``level``."""

    def cut(keys: Iterable[_Key]) -> Counter[_Key]:
        return Counter((doc, start, end, at_level(code, level)) for doc, start, end, code in keys)

    gold_counts, predicted_counts = cut(gold), cut(predicted)
    tp = sum((gold_counts & predicted_counts).values())
    return Scores(tp, sum(predicted_counts.values()), sum(gold_counts.values()))


def document_scores(gold: dict[str, set[str]], predicted: dict[str, set[str]], level: Level) -> Scores:
    """CodiEsp-D style: per-document code sets, micro-averaged over documents."""
    tp = n_predicted = n_gold = 0
    for doc_id in gold.keys() | predicted.keys():
        gold_codes = {at_level(c, level) for c in gold.get(doc_id, ())}
        predicted_codes = {at_level(c, level) for c in predicted.get(doc_id, ())}
        tp += len(gold_codes & predicted_codes)
        n_predicted += len(predicted_codes)
        n_gold += len(gold_codes)
    return Scores(tp, n_predicted, n_gold)


class CodingMAP:
    """Document codes as a ranked list (CANTEMIST-CODING), most confident first (``ranked_codes``, as
    for CodiEsp-D): ``eval`` prints their mean average precision at each document level."""

    def __init__(self) -> None:
        self._gold: dict[str, set[str]] = {}
        self._ranked: dict[str, list[str]] = {}

    def add(self, gold_document: GoldDocument, result: DocumentResult) -> None:
        doc_id = gold_document.document.id
        self._gold[doc_id] = set(gold_document.codes)
        self._ranked[doc_id] = ranked_codes(result.assignments)

    def at(self, level: Level) -> float:
        gold = {doc: {at_level(c, level) for c in codes} for doc, codes in self._gold.items()}
        ranked = {doc: [at_level(c, level) for c in codes] for doc, codes in self._ranked.items()}
        return mean_average_precision(gold, ranked)

    def report(self) -> str:
        cells = [f"{lv.value} {self.at(lv):.3f}" for lv in DOCUMENT_LEVELS]
        return "documents MAP (CANTEMIST-CODING, codes ranked by confidence): " + "  ".join(cells)


class CandidateRecall:
    """How often the gold code is among a mention's candidates: over every gold mention, and over
    the mentions the dictionary left open (those a later stage picks for).

    Whatever later stage picks from the candidates, it cannot do better than this.  A gold
    mention is matched to the assignment with its span (in detect mode one may have none: a miss).
    """

    KS = (1, 3, 5, 10)

    def __init__(self) -> None:
        self._cases: list[tuple[str, tuple[str, ...], bool]] = []  # (gold code, candidates, left open)

    def add(self, gold_document: GoldDocument, result: DocumentResult) -> None:
        by_span = {(a.mention.start, a.mention.end): a for a in result.assignments}
        for gold in gold_document.mentions:
            assignment = by_span.get((gold.mention.start, gold.mention.end))
            if assignment is None:
                self._cases.append((gold.code, (), False))
            else:  # settled: a dictionary's, or the site's without a conflict
                codes = tuple(c.code for c in assignment.candidates)
                self._cases.append((gold.code, codes, not assignment.settled))

    def recall(self, k: int, level: Level, open_only: bool = True) -> float:
        cases = [(gold, codes) for gold, codes, left_open in self._cases if left_open or not open_only]
        if not cases:
            return 0.0
        hits = sum(at_level(gold, level) in {at_level(code, level) for code in codes[:k]} for gold, codes in cases)
        return hits / len(cases)

    def as_dict(self) -> dict[str, dict[str, dict[str, float]]]:
        """The JSON ``candidate_recall``: ``all`` gold mentions and ``open`` ones, @k per level."""
        return {
            group: {f"@{k}": {level.value: round(self.recall(k, level, group == "open"), 4)
                              for level in (Level.CATEGORY, Level.FULL)} for k in self.KS}
            for group in ("all", "open")
        }

    def report(self) -> str:
        lines = []
        for group, open_only in (("open", True), ("all", False)):
            count = sum(1 for case in self._cases if case[2] or not open_only)
            cells = [f"@{k} {self.recall(k, Level.CATEGORY, open_only):.3f}/{self.recall(k, Level.FULL, open_only):.3f}"
                     for k in self.KS]
            what = "open mentions" if open_only else "gold mentions"
            lines.append(f"candidate recall (category/full) over {count} {what}: " + "  ".join(cells))
        return "\n".join(lines)


class ModelVersusFuzzy:
    """On the mentions the model was asked about: is its answer, or the fuzzy top candidate, right?

    Category level.  "either" bounds every rule that picks one of the two per
    mention: if it is not well above the fuzzy count, no combination of this
    model with the fuzzy ranking can gain much.
    """

    def __init__(self) -> None:
        self.asked = self.model = self.fuzzy = self.both = self.either = 0

    def add(self, gold_document: GoldDocument, result: DocumentResult) -> None:
        for gold, assignment in zip(gold_document.mentions, result.assignments):
            if "llm_answer" not in assignment.provenance:
                continue
            category = at_level(gold.code, Level.CATEGORY)
            answer = assignment.code if assignment.stage is Stage.LLM else None
            top = assignment.candidates[0].code if assignment.candidates else None
            model_right = answer is not None and at_level(answer, Level.CATEGORY) == category
            fuzzy_right = top is not None and at_level(top, Level.CATEGORY) == category
            self.asked += 1
            self.model += model_right
            self.fuzzy += fuzzy_right
            self.both += model_right and fuzzy_right
            self.either += model_right or fuzzy_right

    def report(self) -> str:
        return (
            f"model vs fuzzy top candidate over {self.asked} asked mentions (category right): "
            f"model {self.model}, fuzzy {self.fuzzy}, both {self.both}, either {self.either}"
        )


class TerminalCheck:
    """Assigned codes that are not terminal in the chosen version: what a registry would refuse.

    The specificity rule keeps this at 0; ``eval`` prints it on every run.
    """

    def __init__(self, catalog: Catalog, version: str | None) -> None:
        self.catalog = catalog
        self.version = catalog.version(version)
        self.assigned = 0
        self.offending: Counter[str] = Counter()

    def add(self, result: DocumentResult) -> None:
        for assignment in result.assignments:
            if assignment.code is not None:
                self.assigned += 1
                if not self.catalog.is_terminal(assignment.code, self.version.id):
                    self.offending[assignment.code] += 1

    def report(self) -> str:
        shown = ", ".join(f"{code} ×{n}" for code, n in self.offending.most_common(10))
        return (
            f"non-terminal codes assigned: {sum(self.offending.values())} of {self.assigned} "
            f"({self.catalog.edition.value} {self.version.id}: {self.version.name})" + (f": {shown}" if shown else "")
        )


class ScoreTally:
    """Scores of coded gold documents, added a document at a time (the learning curve keeps one per block)."""

    def __init__(self, mode: str) -> None:
        if mode not in ("gold", "detect"):
            raise ValueError(f"mode must be 'gold' or 'detect', not {mode!r}")
        self.mode = mode
        self.documents = 0
        self._pairs: list[tuple[str, str | None]] = []
        self._gold_keys: list[_Key] = []
        self._predicted_keys: list[_Key] = []
        self._gold_docs: dict[str, set[str]] = {}
        self._predicted_docs: dict[str, set[str]] = {}
        self._ranked_docs: dict[str, list[str]] = {}

    def add(self, gold_document: GoldDocument, result: DocumentResult) -> None:
        doc_id = gold_document.document.id
        self.documents += 1
        if self.mode == "gold":
            # Given mentions come back in the order they were given.
            self._pairs += [(g.code, a.code) for g, a in zip(gold_document.mentions, result.assignments)]
        self._gold_keys += [(doc_id, g.mention.start, g.mention.end, g.code) for g in gold_document.mentions]
        coded = [a for a in result.assignments
                 if a.code is not None and a.status is not ReviewStatus.REJECTED]
        self._predicted_keys += [(doc_id, a.mention.start, a.mention.end, a.code) for a in coded]
        self._gold_docs[doc_id] = set(gold_document.codes)
        self._predicted_docs[doc_id] = {a.code for a in coded}
        self._ranked_docs[doc_id] = ranked_codes(coded)

    def scores(self) -> dict[str, Any]:
        """``mentions`` and ``documents`` scores per level, ``codiesp_x`` (diagnoses: P/R/F1),
        ``codiesp_d_map``, ``n_documents``, ``n_mentions``."""
        if self.mode == "gold":
            mentions = {lv.value: mention_scores_gold(self._pairs, lv).as_dict() for lv in MENTION_LEVELS}
        else:
            mentions = {
                lv.value: mention_scores_detect(self._gold_keys, self._predicted_keys, lv).as_dict()
                for lv in MENTION_LEVELS
            }
        return {
            "mentions": mentions,
            "documents": {
                lv.value: document_scores(self._gold_docs, self._predicted_docs, lv).as_dict()
                for lv in DOCUMENT_LEVELS
            },
            "codiesp_x": Scores(*explainability_counts(self._gold_keys, self._predicted_keys))
            .as_dict(),
            "codiesp_d_map": round(mean_average_precision(self._gold_docs, self._ranked_docs), 4),
            "n_documents": self.documents,
            "n_mentions": len(self._gold_keys),
        }


def gold_tasks(corpus: list[GoldDocument], mode: str) -> list[LinkTask]:
    """What the pipeline codes: each document, with its gold mentions given in gold mode."""
    return [LinkTask(g.document, tuple(m.mention for m in g.mentions) if mode == "gold" else None)
            for g in corpus]


def evaluate(
    pipeline: Pipeline,
    corpus: list[GoldDocument],
    mode: str,
    progress: Progress | None = None,
    on_result: Callable[[GoldDocument, DocumentResult], None] | None = None,
) -> dict[str, Any]:
    """Code ``corpus`` (gold mentions given, or detected) and score it.

    The returned dict has exactly the keys the README documents.
    """
    tally = ScoreTally(mode)
    started = time.perf_counter()
    for gold_document, result in zip(corpus, pipeline.run(gold_tasks(corpus, mode), progress)):
        if on_result is not None:
            on_result(gold_document, result)
        tally.add(gold_document, result)
    return {**tally.scores(), "seconds": round(time.perf_counter() - started, 2)}
