"""Cross-lingual candidates: cognates meet, a mention its own language misses gets other languages'
codes with where they came from, carried onto the document's edition, and the setting switches it off.

On the bundled compiled dictionaries and catalogs (each index is built once, some seconds).
"""

from __future__ import annotations

import pytest

from engine.core.codes import Edition, Level
from engine.core.model import Assignment, Candidate, Document, DocumentResult, Mention, Span
from engine.evaluation.metrics import CandidateRecall
from engine.linking.cross_lingual import CROSS_LINGUAL, in_edition
from engine.linking.dictionary_stage import LinkerSettings
from engine.linking.explain import explain
from engine.linking.pipeline import Pipeline
from engine.records.settings import AppSettings
from engine.terms.catalog import Catalog
from engine.text.annotations import GoldDocument, GoldMention
from engine.text.cognates import cognate_key, transliterate_greek

COGNATES = [
    ["disnea", "dyspnoea", "dyspnea", "Dyspnoe", "dyspnée", "δύσπνοια"],
    ["neumonía", "pneumonia", "Pneumonie", "πνευμονία"],
    ["isquemia", "ischaemia", "Ischämie", "ισχαιμία"],
    ["hidronefrosis", "hydronephrosis", "Hydronephrose", "υδρονέφρωση"],
    ["colecistitis", "cholecystitis", "Cholezystitis", "cholécystite"],
    ["hemorragia", "haemorrhage", "hémorragie", "αιμορραγία"],
    ["neuropatía", "neuropathy", "Neuropathie", "νευροπάθεια"],
]


def mention(text: str) -> Mention:
    return Mention((Span(0, len(text)),), text)


@pytest.fixture(scope="module")
def spanish() -> Pipeline:
    return Pipeline.bundled("es")


def test_cognates_of_every_language_meet_and_different_words_do_not() -> None:
    keys = [{cognate_key(word) for word in words} for words in COGNATES]
    assert all(len(key) == 1 for key in keys), keys
    assert len(set().union(*keys)) == len(COGNATES)
    assert transliterate_greek("φλεβιτιδα") == "phlebitida"
    assert cognate_key("βρογχίτιδα") == cognate_key("bronquitis") == cognate_key("Bronchitis")
    assert cognate_key("insuficiencia de la válvula", frozenset({"de", "la"})) == cognate_key("insuficiencia válvula")


def test_a_mention_its_own_language_misses_gets_other_languages_codes_with_their_source(spanish: Pipeline) -> None:
    assert spanish.linker.index.retrieve("δύσπνοια") == []  # no Spanish term or title has Greek letters
    linked = spanish.linker.link(mention("δύσπνοια"))
    assert linked.candidates and all(c.source.startswith(f"{CROSS_LINGUAL}:") for c in linked.candidates)
    assignment = spanish.specificity.apply(linked)  # R06.0 is not terminal in CIE-10-ES 2018
    assert assignment.code is not None and assignment.code.startswith("R06.0")  # dyspnoea
    assert all(spanish.catalog.is_valid(c.code) for c in assignment.candidates)
    top = linked.candidates[0]
    language, _, term = top.source.partition(":")[2].partition(" ")
    assert language in ("en", "de", "fr", "el") and cognate_key(term) == cognate_key("δύσπνοια")
    assert top.title == spanish.catalog.title(top.code, "es")  # shown in the document's language
    reason = next(r.reason for r in explain(assignment).candidates if r.candidate == top)
    assert reason.startswith(f"cross-lingual: {language} {term}, similarity")
    assert explain(assignment).why.startswith("closest match: cross-lingual:")


def test_greek_words_get_the_codes_their_cognates_have_in_other_languages() -> None:
    """Neither the Greek WHO titles nor the curated Greek lexicon has these words; Spanish and German do."""
    greek = Pipeline.bundled("el")
    alone = Pipeline(greek.dictionary, greek.catalog, LinkerSettings(cross_lingual=False))
    for word, category in [("σκολίωση", "M41"), ("κερατόκωνος", "H18"), ("αχαλασία", "K22"), ("ακρομεγαλία", "E22")]:
        assert alone.linker.link(mention(word)).code is None, word
        linked = greek.linker.link(mention(word))
        assert linked.code is not None and linked.code.startswith(category), (word, linked.candidates[:3])
        assert linked.candidates[0].source.startswith(f"{CROSS_LINGUAL}:")
        assert all(greek.catalog.is_valid(c.code) for c in linked.candidates)


def test_codes_are_carried_onto_the_documents_edition() -> None:
    cm, gm, who = (Catalog.bundled(edition) for edition in (Edition.CM, Edition.GM, Edition.WHO))
    assert gm.is_valid("E11.90") and not cm.is_valid("E11.90")
    assert in_edition("E11.90", cm) == "E11.9" and cm.is_valid("E11.9")  # GM's fifth character dropped
    assert in_edition("J18.9", cm) == "J18.9"
    assert who.is_valid("B20.0") and in_edition("B20.0", cm) == "B20"  # CM's B20 has no subcategories
    assert who.is_valid("A16.0") and in_edition("A16.0", cm) is None  # CM codes respiratory TB under A15 only
    assert in_edition("not a code", cm) is None


def test_the_setting_switches_it_off(spanish: Pipeline) -> None:
    assert AppSettings().linker_settings().cross_lingual is True
    settings = AppSettings.from_dict({"cross_lingual": False})
    assert settings.linker_settings().cross_lingual is False
    off = Pipeline(spanish.dictionary, spanish.catalog, settings.linker_settings())
    assert off.linker.cross_lingual is None
    assert off.linker.link(mention("δύσπνοια")).candidates == ()
    never = Pipeline(spanish.dictionary, spanish.catalog, LinkerSettings(cross_lingual_below=0.0))
    assert never.linker.link(mention("δύσπνοια")).candidates == ()


def test_candidate_recall_counts_every_gold_mention_and_a_missed_one_as_a_miss() -> None:
    text = "disnea y tos"
    document = Document("d1", text, "es")
    disnea, tos = Mention((Span(0, 6),), "disnea"), Mention((Span(9, 12),), "tos")
    gold = GoldDocument(document, (GoldMention(disnea, "R06.00"), GoldMention(tos, "R05.9")), frozenset())
    found = Assignment(disnea, None, Edition.CM, "", None, 0.0,
                       candidates=(Candidate("R06.02", Edition.CM, "", 0.9, "fuzzy:term"),
                                   Candidate("R06.00", Edition.CM, "", 0.8, "fuzzy:term")))
    recall = CandidateRecall()
    recall.add(gold, DocumentResult(document, (found,)))  # "tos" was not detected
    assert recall.recall(1, Level.FULL, open_only=False) == 0.0
    assert recall.recall(10, Level.FULL, open_only=False) == 0.5
    assert recall.recall(1, Level.CATEGORY, open_only=False) == 0.5
    assert recall.recall(10, Level.FULL) == 1.0  # the one left open had it
    assert recall.as_dict()["all"]["@10"] == {"category": 0.5, "full": 0.5}
