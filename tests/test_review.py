"""Review operations on real dictionary results: accept, reject, correct, add, delete."""

import pytest

from engine.core.codes import Edition
from engine.core.errors import ReviewError
from engine.core.model import Document, DocumentResult, ReviewStatus, Stage
from engine.linking.pipeline import Pipeline
from engine.records.review import (
    accept,
    accept_stage,
    add_mention,
    change_code,
    code_everywhere,
    confirm_no_mentions,
    delete,
    is_reviewed,
    needs_confirmation,
    occurrences,
    reject,
    review_counts,
)
from engine.terms.catalog import Catalog

TEXT = "Paciente con hipertensión arterial y diabetes mellitus tipo 2. Refiere dolor torácico atípico."


@pytest.fixture(scope="module")
def spanish() -> Pipeline:
    """One pipeline for the module: each new one loads its dictionary and builds its fuzzy index again."""
    return Pipeline.bundled("es")


@pytest.fixture(scope="module")
def coded(spanish: Pipeline) -> DocumentResult:
    return spanish.code(Document("d1", TEXT, "es"))


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.bundled(Edition.CM)


def test_a_coded_document_is_not_reviewed_until_every_mention_has_a_status(coded: DocumentResult) -> None:
    assert len(coded.assignments) >= 2
    assert not is_reviewed(coded)
    result = coded
    for index, assignment in enumerate(coded.assignments):
        result = accept(result, index) if assignment.code else reject(result, index)
        assert is_reviewed(result) == (index == len(coded.assignments) - 1)
    assert review_counts(result)[ReviewStatus.PENDING] == 0
    assert coded.assignments[0].status is not ReviewStatus.ACCEPTED  # the original is untouched


def test_accept_stage_accepts_only_open_dictionary_results(coded: DocumentResult) -> None:
    result = accept_stage(coded, Stage.DICTIONARY)
    for before, after in zip(coded.assignments, result.assignments):
        if before.stage is Stage.DICTIONARY and before.status is ReviewStatus.PENDING:
            assert after.status is ReviewStatus.ACCEPTED
        else:
            assert after == before


def test_a_correction_keeps_what_the_machine_proposed(coded: DocumentResult, catalog: Catalog) -> None:
    result = change_code(coded, 0, "i10", catalog)
    changed = result.assignments[0]
    assert (changed.code, changed.stage, changed.status) == ("I10", Stage.USER, ReviewStatus.CORRECTED)
    assert changed.title == catalog.title("I10", "es")
    assert changed.provenance["proposed"]["code"] == coded.assignments[0].code


@pytest.mark.parametrize("bad", ["X99.99", "I00-I99", "", "hello"])
def test_invalid_codes_and_chapters_cannot_be_assigned(coded: DocumentResult, catalog: Catalog, bad: str) -> None:
    with pytest.raises(ReviewError) as error:
        change_code(coded, 0, bad, catalog)
    assert error.value.code == "ICD-E401"


def test_a_mention_the_coder_adds_lands_in_text_order(coded: DocumentResult, catalog: Catalog) -> None:
    start = TEXT.index("dolor")
    end = start + len("dolor torácico atípico")
    result = add_mention(coded, [(start, end)], "R07.89", catalog)
    added = [a for a in result.assignments if a.stage is Stage.USER]
    assert len(added) == 1 and added[0].mention.text == "dolor torácico atípico"
    assert added[0].status is ReviewStatus.ACCEPTED
    starts = [a.mention.start for a in result.assignments]
    assert starts == sorted(starts)
    with pytest.raises(ReviewError):
        add_mention(result, [(start, end)], "R07.89", catalog)  # the same code on the same text twice
    with pytest.raises(ReviewError):
        add_mention(result, [(len(TEXT) - 2, len(TEXT) + 5)], "R07.89", catalog)


def test_discontinuous_mentions_can_be_added(coded: DocumentResult, catalog: Catalog) -> None:
    first = TEXT.index("dolor")
    second = TEXT.index("atípico")
    result = add_mention(coded, [(second, second + 7), (first, first + 5)], "R07.9", catalog)
    added = next(a for a in result.assignments if a.stage is Stage.USER)
    assert added.mention.span_text == f"{first} {first + 5};{second} {second + 7}"
    assert added.mention.text == "dolor atípico"


def test_delete_and_bad_indexes(coded: DocumentResult) -> None:
    result = delete(coded, 0)
    assert result.assignments == coded.assignments[1:]
    with pytest.raises(ReviewError):
        accept(coded, len(coded.assignments))


def test_a_document_without_mentions_is_reviewed_only_once_the_coder_confirms_it(
    coded: DocumentResult, spanish: Pipeline
) -> None:
    text = "Varón de 71 años. PSA 22 ng/ml. Control en seis meses."
    nothing = spanish.code(Document("d2", text, "es"))
    assert nothing.assignments == () and needs_confirmation(nothing) and not is_reviewed(nothing)
    confirmed = confirm_no_mentions(nothing)
    assert is_reviewed(confirmed) and not needs_confirmation(confirmed)
    assert DocumentResult.from_dict(confirmed.to_dict()).confirmed_empty
    assert "confirmed_empty" not in nothing.to_dict()  # exports and the CLI's JSON unchanged until confirmed
    with pytest.raises(ReviewError, match="has mentions"):
        confirm_no_mentions(coded)


def test_a_code_for_every_occurrence_corrects_same_mentions_and_adds_missed_places(
    catalog: Catalog, spanish: Pipeline
) -> None:
    text = "Neumonía en la base derecha. Antecedente de neumonia hace un año. Sin neumonías previas."
    result = spanish.code(Document("d3", text, "es"))
    same, free = occurrences(result, "neumonía")
    places = [(0, 8), (text.index("neumonia"), text.index("neumonia") + 8)]
    spans = [(result.assignments[i].mention.start, result.assignments[i].mention.end) for i in same]
    assert sorted(spans + free) == places
    everywhere = code_everywhere(result, "neumonía", "J15.9", catalog)
    coded = sorted((a.mention.start, a.mention.end) for a in everywhere.assignments if a.code == "J15.9")
    assert coded == places  # case and accents aside; "neumonías" is another term
    assert all(a.stage is Stage.USER for a in everywhere.assignments if a.code == "J15.9")
    assert occurrences(everywhere, "neumonía")[1] == []  # nothing left outside a mention
