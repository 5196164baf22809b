"""The curated core lexicons: their codes exist, and abbreviations detect only beside a context cue.

Every test runs on the compiled dictionaries the build wrote from ``dictionaries/lexicons/``
(``python -m dictionaries.build``) and the real pipeline.
"""

from __future__ import annotations

import pytest

from dictionaries.lexicon_source import read_lexicon
from engine.core.codes import Edition
from engine.core.model import Document
from engine.linking.detection import detect_mentions
from engine.linking.dictionary_stage import ABBREVIATION
from engine.linking.explain import explain
from engine.linking.pipeline import Pipeline
from engine.terms.catalog import Catalog
from engine.terms.dictionary import DEFAULT_EDITIONS, TermDictionary
from engine.terms.site_dictionary import Lesson, SiteDictionary

CURATED = ("en", "es")
NOW = "2026-12-01T09:00:00.000+00:00"


@pytest.fixture(scope="module")
def english() -> Pipeline:
    return Pipeline.bundled("en")


def _found(pipeline: Pipeline, text: str, site: SiteDictionary | None = None) -> list[str]:
    document = Document("letter", text, pipeline.language)
    return [m.text for m in detect_mentions(document, pipeline.dictionary, site=site)]


@pytest.mark.parametrize("language", CURATED)
def test_every_entry_codes_to_a_code_a_coder_may_submit_with_a_title_in_the_language(language: str) -> None:
    """The check behind "each entry checked against its catalog title": the code exists, is terminal
    in a version of the edition, and has a title in the lexicon's language to review the entry by."""
    catalog = Catalog.bundled(DEFAULT_EDITIONS[language])
    entries = read_lexicon(language)
    assert len(entries) > 500 and len({e.code for e in entries}) > 300
    for entry in entries:
        assert catalog.is_valid(entry.code), entry
        assert any(catalog.is_terminal(entry.code, v) for v in ("2018", "2026")), entry
        assert catalog.title(entry.code, language), entry
        assert not entry.is_abbreviation or (entry.expansion and entry.context), entry


def test_the_compiled_dictionary_carries_the_lexicon_and_its_abbreviations(english: Pipeline) -> None:
    dictionary = english.dictionary
    assert "curated-en" in dictionary.sources
    assert dictionary.lookup("kidney stones").codes[0][0] == dictionary.lookup("kidney stone").codes[0][0] == "N20.0"
    assert dictionary.abbreviations["af"].expansion("I48.91") == "atrial fibrillation"
    assert "af" in dictionary.cued  # no title gives "AF": the cue decides
    without = TermDictionary.bundled("en", exclude=frozenset({"curated-en"}))
    assert without.lookup("AF") is None and not without.cued


def test_an_abbreviation_is_found_beside_its_cue_only_and_as_written(english: Pipeline) -> None:
    assert "AF" in _found(english, "ECG today: AF with rapid ventricular response. Started apixaban.")
    assert "AF" not in _found(english, "Seen by AF in clinic today. Plan as discussed.")  # no cue near
    assert "af" not in _found(english, "ecg shows af, started on apixaban")  # lower case is another word
    far = "AF. " + "the plan was discussed with the family at length today " * 4 + "apixaban"
    assert "AF" not in _found(english, far)  # the cue is more than 25 words away


def test_the_coder_sees_what_the_abbreviation_stands_for(english: Pipeline) -> None:
    result = english.code(Document("letter", "Known HTN, on amlodipine. Today AF on the ECG.", "en"))
    by_text = {a.mention.text: a for a in result.assignments}
    assert by_text["AF"].code == "I48.91" and by_text["HTN"].code == "I10"
    assert by_text["AF"].provenance[ABBREVIATION] == "atrial fibrillation"
    assert "atrial fibrillation" in explain(by_text["AF"]).why


def test_inflected_and_plural_forms_are_their_own_entries() -> None:
    spanish = Pipeline.bundled("es")
    result = spanish.code(Document("carta", "Presenta infecciones urinarias de repetición y litiasis renal.", "es"))
    assert {a.mention.text: a.code for a in result.assignments}["infecciones urinarias"] == "N39.0"
    english_result = Pipeline.bundled("en").code(Document("l", "CT: bilateral kidney stones.", "en"))
    assert "N20.0" in {a.code for a in english_result.assignments}


def test_site_learning_of_an_abbreviation_needs_no_cue(english: Pipeline) -> None:
    site = SiteDictionary("en", Edition.CM)
    site.learn([Lesson("en", Edition.CM, "AF", "I48.91", 1, NOW)] * 2)
    text = "Seen by AF in clinic today. Plan as discussed."
    assert "AF" not in _found(english, text)
    assert "AF" in _found(english, text, site)
