import json

import pytest

from engine.core.codes import Edition, Level, at_level, is_code_like, normalize_code
from engine.core.model import (
    Assignment,
    Candidate,
    Document,
    DocumentResult,
    Mention,
    ReviewStatus,
    Span,
    Stage,
)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("n28.1", "N28.1"),
        ("N281", "N28.1"),
        ("s31.40x", "S31.40X"),  # CodiEsp: cut before the 7th character
        ("S31.40XA", "S31.40XA"),
        ("A00.-", "A00"),  # GM / WHO three-character rows
        ("E10.30†", "E10.30"),
        (" r52 ", "R52"),
    ],
)
def test_codes_normalise(raw: str, canonical: str) -> None:
    assert normalize_code(raw) == canonical


@pytest.mark.parametrize("bad", ["", "hello", "123", "N2", "N28.12345", "8000/6"])
def test_non_codes_are_rejected(bad: str) -> None:
    assert not is_code_like(bad)
    with pytest.raises(ValueError):
        normalize_code(bad)


def test_levels() -> None:
    assert at_level("s31.40xa", Level.CATEGORY) == "S31"
    assert at_level("s31.40xa", Level.SUBCATEGORY) == "S31.4"
    assert at_level("s31.40xa", Level.FULL) == "S31.40XA"
    assert at_level("r52", Level.SUBCATEGORY) == "R52"


def test_discontinuous_mention_from_spans() -> None:
    text = "Estreptomicina por vía intramuscular"
    mention = Mention.from_spans(text, [(19, 36), (0, 14)])
    assert mention.spans == (Span(0, 14), Span(19, 36))
    assert mention.text == "Estreptomicina vía intramuscular"
    assert mention.span_text == "0 14;19 36"
    assert (mention.start, mention.end) == (0, 36)


def test_spans_beyond_the_text_are_refused() -> None:
    with pytest.raises(ValueError):
        Mention.from_spans("abc", [(0, 10)])
    with pytest.raises(ValueError):
        Span(5, 2)


def test_results_round_trip_through_json_without_loss() -> None:
    document = Document("doc-1", "Dolor torácico y fiebre", "es", "/tmp/doc-1.txt")
    mention = Mention.from_spans(document.text, [(0, 5), (6, 14)])
    candidate = Candidate("R07.9", Edition.CM, "Dolor torácico", 0.93, "fuzzy:term")
    assignment = Assignment(
        mention, "R07.9", Edition.CM, "Dolor torácico", Stage.FUZZY, 0.93, "dolor toracico",
        ReviewStatus.NEEDS_REVIEW, (candidate,), {"note": ["kept", 1]},
    )
    unlinked = Assignment(mention, None, Edition.CM, "", None, 0.0)
    result = DocumentResult(document, (assignment, unlinked))
    restored = DocumentResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert restored == result
    failed = DocumentResult(document, error="[ICD-E101] unreadable")
    assert DocumentResult.from_dict(json.loads(json.dumps(failed.to_dict()))) == failed
