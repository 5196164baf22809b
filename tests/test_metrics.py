"""Metrics checked against examples worked out by hand."""

import pytest

from engine.core.codes import Edition, Level
from engine.core.model import Assignment, Candidate, Document, DocumentResult, Mention, Stage
from engine.evaluation.metrics import (
    ModelVersusFuzzy,
    document_scores,
    mention_scores_detect,
    mention_scores_gold,
)
from engine.text.annotations import GoldDocument, GoldMention


def test_gold_mode_precision_recall_by_level() -> None:
    # 4 gold mentions; 3 predicted; one left unlinked.
    pairs = [("N28.1", "N28.1"), ("N28.1", "N28.9"), ("I10", "E11.9"), ("R52", None)]
    full = mention_scores_gold(pairs, Level.FULL)
    assert (full.true_positives, full.predicted, full.gold) == (1, 3, 4)
    assert full.precision == pytest.approx(1 / 3)
    assert full.recall == pytest.approx(1 / 4)
    assert full.f1 == pytest.approx(2 * (1 / 3) * (1 / 4) / (1 / 3 + 1 / 4))  # 0.2857
    category = mention_scores_gold(pairs, Level.CATEGORY)
    assert (category.true_positives, category.predicted, category.gold) == (2, 3, 4)
    assert category.f1 == pytest.approx(4 / 7)


def test_detect_mode_needs_span_and_code() -> None:
    gold = [("d1", 0, 5, "R52"), ("d1", 10, 20, "N28.1"), ("d2", 3, 9, "I10")]
    predicted = [
        ("d1", 0, 5, "R52"),  # right
        ("d1", 10, 20, "N28.9"),  # right span, wrong subcategory
        ("d2", 3, 8, "I10"),  # wrong span
        ("d2", 30, 40, "E11.9"),  # spurious
    ]
    full = mention_scores_detect(gold, predicted, Level.FULL)
    assert (full.true_positives, full.predicted, full.gold) == (1, 4, 3)
    category = mention_scores_detect(gold, predicted, Level.CATEGORY)
    assert category.true_positives == 2
    assert category.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))


def test_document_level_code_sets() -> None:
    gold = {"d1": {"N28.1", "R52"}, "d2": {"I10"}}
    predicted = {"d1": {"N28.1", "N28.9", "R52"}, "d2": set(), "d3": {"J18.9"}}
    full = document_scores(gold, predicted, Level.FULL)
    assert (full.true_positives, full.predicted, full.gold) == (2, 4, 3)
    category = document_scores(gold, predicted, Level.CATEGORY)
    # d1 categories {N28, R52} vs predicted {N28, R52}: 2 of 2; d3 adds 1 predicted.
    assert (category.true_positives, category.predicted, category.gold) == (2, 3, 3)


def test_empty_inputs_score_zero_not_crash() -> None:
    scores = mention_scores_gold([], Level.FULL)
    assert (scores.precision, scores.recall, scores.f1) == (0.0, 0.0, 0.0)


def test_model_versus_fuzzy_counts_only_asked_mentions_at_category_level() -> None:
    text = "a b c d e"
    mentions = [Mention.from_spans(text, [(i, i + 1)]) for i in range(0, 9, 2)]
    gold = ["N28.1", "I10", "E11.9", "R52", "J18.9"]

    def assignment(i: int, code: str | None, stage: Stage | None, top: str, asked: bool = True) -> Assignment:
        candidates = (Candidate(top, Edition.CM, "", 0.8, "fuzzy:test"),)
        provenance = {"llm_answer": code or "none"} if asked else {}
        return Assignment(mentions[i], code, Edition.CM, "", stage, 1.0, candidates=candidates, provenance=provenance)

    result = DocumentResult(Document("d", text, "es"), (
        assignment(0, "N28.9", Stage.LLM, "N28.1"),  # both right at category level
        assignment(1, "I11.9", Stage.LLM, "I10"),  # fuzzy right only
        assignment(2, "E11.9", Stage.LLM, "E10.9"),  # model right only
        assignment(3, None, None, "R10.9"),  # answered "none", fuzzy wrong
        assignment(4, "J18.9", Stage.DICTIONARY, "J18.9", asked=False),  # not asked: not counted
    ))
    versus = ModelVersusFuzzy()
    versus.add(GoldDocument(result.document, tuple(map(GoldMention, mentions, gold)), frozenset(gold)), result)
    assert (versus.asked, versus.model, versus.fuzzy, versus.both, versus.either) == (4, 2, 2, 1, 3)
    assert "over 4 asked mentions" in versus.report()
