"""CodiEsp's official metrics (CodiEsp-X with span slack, CodiEsp-D MAP) against cases worked out by hand."""

from pathlib import Path

import pytest

from engine.core.codes import Edition
from engine.core.model import Assignment, Document, DocumentResult, Mention, ReviewStatus, Span, Stage
from engine.evaluation.codiesp import explainability_counts, mean_average_precision, ranked_codes
from engine.evaluation.metrics import ScoreTally
from engine.text.annotations import GoldDocument, GoldMention, load_codiesp


def test_x_prediction_must_contain_the_gold_span_with_at_most_ten_characters_each_side() -> None:
    gold = [("d1", 100, 120, "N28.1")]
    # Each case: the predicted span and whether it counts (start slack = 100 - start, end slack = end - 120).
    cases = {
        (100, 120): True,  # exact
        (90, 130): True,  # exactly 10 at each end
        (89, 120): False,  # 11 before
        (100, 131): False,  # 11 after
        (101, 120): False,  # starts inside the gold span: does not contain it
        (100, 119): False,  # ends inside it
        (95, 125): True,  # 5 and 5
    }
    for (start, end), counts in cases.items():
        tp, predicted, n_gold = explainability_counts(gold, [("d1", start, end, "N28.1")])
        assert (tp, predicted, n_gold) == (int(counts), 1, 1), (start, end)


def test_x_needs_the_same_document_and_full_code() -> None:
    gold = [("d1", 0, 10, "N28.1")]
    assert explainability_counts(gold, [("d1", 0, 10, "N28.9")]) == (0, 1, 1)  # same category, other code
    assert explainability_counts(gold, [("d2", 0, 10, "N28.1")]) == (0, 1, 1)  # other document


def test_x_counts_a_code_once_per_document_however_often_annotated_or_predicted() -> None:
    # Gold: I10 annotated twice in d1 (spans 0-10 and 50-60), R52 once; predictions: I10 three times,
    # only the third near a gold span (48-60 contains 50-60 with 2 and 0 to spare), R52 nowhere near.
    gold = [("d1", 0, 10, "I10"), ("d1", 50, 60, "I10"), ("d1", 200, 210, "R52")]
    predicted = [("d1", 20, 30, "I10"), ("d1", 25, 35, "I10"), ("d1", 48, 60, "I10"), ("d1", 0, 5, "R52")]
    # Distinct pairs: gold {(d1, I10), (d1, R52)} = 2, predicted the same 2; I10 is found once: TP 1.
    assert explainability_counts(gold, predicted) == (1, 2, 2)


def test_x_discontinuous_gold_span_runs_from_first_start_to_last_end() -> None:
    # devX.tsv's "12 20;25 30" is one reference from 12 to 30 (load_codiesp keeps both pieces;
    # Mention.start/end give the first start and the last end, which is what the tally keys by).
    mention = Mention((Span(12, 20), Span(25, 30)), "dolor ... lumbar")
    gold = [("d1", mention.start, mention.end, "M54.5")]
    assert (mention.start, mention.end) == (12, 30)
    assert explainability_counts(gold, [("d1", 12, 30, "M54.5")]) == (1, 1, 1)
    assert explainability_counts(gold, [("d1", 12, 20, "M54.5")]) == (0, 1, 1)  # only the first piece
    assert explainability_counts(gold, [("d1", 2, 40, "M54.5")]) == (1, 1, 1)  # 10 and 10 to spare


def test_x_empty_predictions_or_gold_score_zero() -> None:
    assert explainability_counts([("d1", 0, 4, "I10")], []) == (0, 0, 1)
    assert explainability_counts([], [("d1", 0, 4, "I10")]) == (0, 1, 0)
    assert explainability_counts([], []) == (0, 0, 0)


def test_map_is_trectools_average_precision_over_gold_documents() -> None:
    gold = {"d1": {"A00", "B00", "C00"}, "d2": {"D00"}, "d3": {"E00", "F00"}}
    ranked = {
        # d1: relevant at ranks 1 and 3 (X00 at 2 is wrong), C00 never: (1/1 + 2/3) / 3 = 5/9
        "d1": ["A00", "X00", "B00"],
        # d2: the one gold code at rank 2: (1/2) / 1 = 1/2
        "d2": ["Y00", "D00"],
        # d3: no predictions at all: 0
        # d4: not a gold document: ignored
        "d4": ["A00"],
    }
    expected = (5 / 9 + 1 / 2 + 0) / 3  # 0.3518...
    assert mean_average_precision(gold, ranked) == pytest.approx(expected)


def test_map_counts_a_repeated_code_at_its_first_rank_and_reads_only_the_depth() -> None:
    gold = {"d1": {"A00", "B00"}}
    # The repeat of A00 is dropped, so B00 is at rank 2, not 3: (1/1 + 2/2) / 2 = 1.
    assert mean_average_precision(gold, {"d1": ["A00", "A00", "B00"]}) == pytest.approx(1.0)
    # X00 twice, then A00 at rank 2: (1/2) / 2 = 0.25.
    assert mean_average_precision(gold, {"d1": ["X00", "X00", "A00"]}) == pytest.approx(0.25)
    # Depth 1: only the first code is read; A00 at rank 1 gives (1/1) / 2.
    assert mean_average_precision(gold, {"d1": ["A00", "B00"]}, depth=1) == pytest.approx(0.5)
    assert mean_average_precision({}, {"d1": ["A00"]}) == 0.0  # no gold document: nothing to average
    assert mean_average_precision(gold, {}) == 0.0  # no predictions at all


def _assignment(code: str | None, stage: Stage | None, score: float, start: int = 0, end: int | None = None,
                status: ReviewStatus = ReviewStatus.PENDING) -> Assignment:
    end = start + 3 if end is None else end
    mention = Mention((Span(start, end),), "x" * (end - start))
    return Assignment(mention, code, Edition.CM, "", stage, score, status=status)


def test_ranking_puts_settled_codes_first_then_the_model_then_fuzzy_and_breaks_ties_by_code() -> None:
    assignments = [
        _assignment("R52", Stage.FUZZY, 0.95),
        _assignment("J18.9", Stage.LLM, 1.0),
        _assignment("N28.1", Stage.FUZZY, 0.80),
        _assignment("N28.1", Stage.DICTIONARY, 1.0, start=10),  # its best mention is settled
        _assignment("I10", Stage.DICTIONARY, 1.0),
        _assignment("K35.80", Stage.FUZZY, 0.80),  # ties N28.1's fuzzy score; N28.1 is settled anyway
        _assignment("E11.9", Stage.FUZZY, 0.80),
        _assignment("E11.9", Stage.FUZZY, 0.70, start=20),  # a second mention beats K35.80 at 0.80
        _assignment("Z99.9", Stage.DICTIONARY, 1.0, status=ReviewStatus.REJECTED),  # rejected: out
        _assignment(None, Stage.FUZZY, 0.0),  # no code: out
    ]
    # Best mention per code: N28.1 and I10 settled at 1.0, N28.1 with 2 mentions before I10 with 1; J18.9 the
    # model's; then fuzzy by score: R52 0.95, then E11.9 and K35.80 at 0.80, E11.9 first with 2 mentions.
    assert ranked_codes(assignments) == ["N28.1", "I10", "J18.9", "R52", "E11.9", "K35.80"]
    assert ranked_codes(reversed(assignments)) == ranked_codes(assignments)  # mention order does not matter


def _document(doc_id: str, text: str) -> Document:
    return Document(doc_id, text, "es")


def test_tally_reports_both_official_figures_beside_todays_keys() -> None:
    text = "hipertension arterial y neumonia con dolor"
    gold = GoldDocument(
        _document("d1", text),
        (GoldMention(Mention((Span(0, 21),), "hipertension arterial"), "I10"),
         GoldMention(Mention((Span(24, 32),), "neumonia"), "J18.9")),
        frozenset({"I10", "J18.9", "R52"}),
    )
    predicted = DocumentResult(gold.document, (
        _assignment("I10", Stage.DICTIONARY, 1.0, 0, 23),  # contains the gold 0-21 with 0 and 2 to spare
        _assignment("J18.9", Stage.FUZZY, 0.9, 24, 27),  # inside the gold 24-32: does not contain it
    ))
    tally = ScoreTally("detect")
    tally.add(gold, predicted)
    scores = tally.scores()
    # X: gold pairs {I10, J18.9}, predicted {I10, J18.9}; I10's 0-23 contains 0-21 (0 and 2 to spare): TP 1.
    assert scores["codiesp_x"] == {"p": 0.5, "r": 0.5, "f1": 0.5}
    # D: ranking I10 (settled), J18.9 (fuzzy); both gold, R52 missed: (1/1 + 2/2) / 3 = 0.6667.
    assert scores["codiesp_d_map"] == pytest.approx(0.6667)
    assert {"mentions", "documents", "n_documents", "n_mentions"} <= set(scores)


def test_tally_scores_diagnoses_only_as_load_codiesp_reads_them(tmp_path: Path) -> None:
    split = tmp_path / "split"
    (split / "text_files").mkdir(parents=True)
    (split / "text_files" / "d1.txt").write_text("Rx de torax: neumonia.", encoding="utf-8")
    (split / "splitX.tsv").write_text(
        "d1\tPROCEDIMIENTO\tbw03zzz\tRx de torax\t0 11\n"
        "d1\tDIAGNOSTICO\tj18.9\tneumonia\t13 21\n", encoding="utf-8")
    (gold,) = load_codiesp(split)
    tally = ScoreTally("detect")
    tally.add(gold, DocumentResult(gold.document, (_assignment("J18.9", Stage.DICTIONARY, 1.0, 13, 21),)))
    # 1 of 1 gold pair found: recall 1.0 (were the procedure scored, it would be 1 of 2).
    assert tally.scores()["codiesp_x"] == {"p": 1.0, "r": 1.0, "f1": 1.0}
    assert tally.scores()["n_mentions"] == 1
