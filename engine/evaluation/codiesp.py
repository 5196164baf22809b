"""CodiEsp's official metrics, counted as the task's own scripts count them.

The shared task (CLEF eHealth 2020) scored explainability (CodiEsp-X) with
``codiespX_evaluation.py`` and document coding (CodiEsp-D) with trectools'
MAP; figures comparable with the task's papers need the same rules, which
differ from our stricter span-exact mention scores:

- X: a (document, code) pair counts once however often it is annotated or
  predicted; it is a true positive when one prediction's span contains one of
  the pair's gold spans with at most ``TOLERANCE`` characters to spare at each
  end (a discontinuous gold span runs from its first start to its last end).
- D: MAP over the gold documents as trectools' ``get_map(trec_eval=False)``
  computes it: in each document's ranked codes (first ``DEPTH``), each gold
  code found at rank k adds (gold codes found up to k) / k; the sum is divided
  by the document's number of gold codes; the mean is over the gold documents,
  so one with no predictions adds 0 and predictions for other documents none.

Codes are compared in canonical form (the scripts lower-case them both).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from engine.core.model import Assignment, ReviewStatus, Stage

__all__ = [
    "DEPTH", "TOLERANCE", "Reference", "explainability_counts", "mean_average_precision", "ranked_codes",
]

TOLERANCE = 10  # characters of slack at each end of a gold span
DEPTH = 1000  # trectools' default cut-off: codes ranked below it are not read

Reference = tuple[str, int, int, str]  # (document, start, end, code), as the mention scores key them


def explainability_counts(
    gold: Iterable[Reference], predicted: Iterable[Reference], tolerance: int = TOLERANCE
) -> tuple[int, int, int]:
    """CodiEsp-X (true positives, predicted pairs, gold pairs) over distinct (document, code) pairs."""
    gold_spans: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for doc, start, end, code in gold:
        gold_spans[doc, code].append((start, end))
    predicted_spans: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for doc, start, end, code in predicted:
        predicted_spans[doc, code].append((start, end))
    true_positives = sum(
        any(
            0 <= g_start - p_start <= tolerance and 0 <= p_end - g_end <= tolerance
            for g_start, g_end in spans
            for p_start, p_end in predicted_spans.get(pair, ())
        )
        for pair, spans in gold_spans.items()
    )
    return true_positives, len(predicted_spans), len(gold_spans)


def mean_average_precision(
    gold: Mapping[str, Iterable[str]], ranked: Mapping[str, Sequence[str]], depth: int = DEPTH
) -> float:
    """trectools' MAP of ``ranked`` codes per document against ``gold`` code sets (0.0 without gold)."""
    total, documents = 0.0, 0
    for doc, codes in gold.items():
        relevant = set(codes)
        if not relevant:  # trectools reads relevant codes only: a document without any is no query
            continue
        documents += 1
        found, precision_sum = 0, 0.0
        distinct = list(dict.fromkeys(ranked.get(doc, ())))  # a code ranked twice counts at its first rank
        for rank, code in enumerate(distinct[:depth], start=1):
            if code in relevant:
                found += 1
                precision_sum += found / rank
        total += precision_sum / len(relevant)
    return total / documents if documents else 0.0


def ranked_codes(assignments: Iterable[Assignment]) -> list[str]:
    """A document's codes, most confident first: what its MAP ranks.

    A code's confidence is that of its best mention: settled by a dictionary
    or the coder first, then the model's answers, then fuzzy guesses; within
    a stage the higher score, then the code with more mentions; ties go by
    code, so the ranking never depends on mention order.  Rejected ones are out.
    """
    best: dict[str, tuple[int, int, float]] = {}
    mentions: dict[str, int] = defaultdict(int)
    for a in assignments:
        if a.code is None or a.status is ReviewStatus.REJECTED:
            continue
        confidence = (int(a.settled), int(a.stage is Stage.LLM), a.score)
        best[a.code] = max(best.get(a.code, confidence), confidence)
        mentions[a.code] += 1

    def order(code: str) -> tuple[int, int, float, int, str]:
        settled, llm, score = best[code]
        return -settled, -llm, -score, -mentions[code], code

    return sorted(best, key=order)
