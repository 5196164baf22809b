"""ICD-O-3 detection's tumour-wording rules on real CANTEMIST train reports; ICD-10 detection unchanged."""

from __future__ import annotations

import time

import pytest

from dictionaries import cantemist
from engine.core.codes import Edition
from engine.core.model import Document, Mention, Span
from engine.linking.detection import detect_mentions, with_spans
from engine.linking.morphology import staging_spans
from engine.linking.pipeline import Pipeline
from engine.text.abbreviations import defined_abbreviations

WITHOUT_TRAIN = frozenset({"cantemist-train"})  # train's own terms left out: the rules must find them


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline.bundled("es", Edition.ICDO3, exclude=WITHOUT_TRAIN)


def _stage_mentions() -> list[cantemist.Mention]:
    """Train's annotated TNM stages (CANTEMIST codes them 8000/6)."""
    return [m for m in cantemist.mentions("train") if m.code == "8000/6" and staging_spans(m.text) == [(0, len(m.text))]]


def test_every_tnm_stage_found_in_train_is_annotated_there_with_that_span() -> None:
    gold: dict[str, dict[tuple[int, int], str]] = {}
    for m in cantemist.mentions("train"):
        start, end = map(int, m.span.split())
        gold.setdefault(m.document, {})[start, end] = m.code
    exact = inside = 0
    for document_id, text in cantemist.document_texts("train").items():
        annotated = gold.get(document_id, {})
        for span in staging_spans(text):
            exact += annotated.get(span) == "8000/6"
            inside += span not in annotated and any(a <= span[0] and span[1] <= b for a, b in annotated)
            assert span in annotated or any(a <= span[0] and span[1] <= b for a, b in annotated), text[slice(*span)]
    assert exact >= 150 and inside < exact  # measured: 188 exact, 54 inside a longer tumour mention


def test_train_reports_get_their_stages_grades_and_spreads_without_train_in_the_dictionary(pipeline: Pipeline) -> None:
    documents = cantemist.document_texts("train")
    stages = _stage_mentions()[:20]
    graded = [
        m for m in cantemist.mentions("train")
        if m.text.lower().endswith(("grado 3", "grado ii", "grado iii", "moderadamente diferenciado"))
        and pipeline.dictionary.lookup(m.text) is None
    ][:10]
    spread = [
        m for m in cantemist.mentions("train")
        if m.text.lower().startswith("metástasis de ") and pipeline.dictionary.lookup(m.text) is None
    ][:10]
    assert len(graded) == len(spread) == 10
    wanted = stages + graded + spread
    found = 0
    for document_id in sorted({m.document for m in wanted}):
        result = pipeline.code(Document(document_id, documents[document_id], "es"))
        spans = {(a.mention.start, a.mention.end): a.code for a in result.assignments}
        for m in wanted:
            if m.document == document_id:
                start, end = map(int, m.span.split())
                found += spans.get((start, end)) == m.code
    # Measured: 29 of 40 with span and full code right (the 30 stages and grades: 7 before these rules,
    # commit c7d22b9); 23 since an M1 stage joins the tumour mention before it, as train marks 52 of 67
    # such stages: 6 of these 20 stages are M1 stages annotated alone, the other convention.
    assert found >= 21


def test_a_mention_without_a_known_histology_takes_its_head_words_code(pipeline: Pipeline) -> None:
    composer = pipeline.linker.composer
    for text in ("lesión hipodensa junto al ligamento falciforme", "masa en el ligamento falciforme"):
        assert pipeline.dictionary.lookup(text) is None
        composed = composer.compose(text)
        assert composed is not None and composed.code == "8000/6" and not composed.modified
    assert composer.compose("hallazgo a nivel del seno esfenoidal") is None  # no head word that settles
    assert composer.compose("lesión cutánea benigna") is None  # said benign: no metastatic guess


def test_a_graded_tumour_is_malignant(pipeline: Pipeline) -> None:
    composed = pipeline.linker.composer.compose("tumor de la pared costal indiferenciado")
    assert composed is not None and composed.code == "8000/34"


def test_icd10_detection_does_not_use_the_tumour_rules(pipeline: Pipeline) -> None:
    icd10 = Pipeline.bundled("es")
    text = ("Adenocarcinoma de colon moderadamente diferenciado, estadio pT3N1M0. "
            "Carcinoma ductal infiltrante cT2 cN0 M0 grado 3.")
    document = Document("d", text, "es")
    ruled = {(a.mention.start, a.mention.end) for a in pipeline.code(document).assignments}
    assert any(text[s:e].endswith(("M0", "grado 3")) for s, e in ruled)  # the text exercises the rules
    detected = {(m.start, m.end) for m in detect_mentions(document, icd10.dictionary)}
    coded = {(a.mention.start, a.mention.end) for a in icd10.code(document).assignments}
    assert coded <= detected and not any(text[s:e].endswith(("M0", "grado 3")) for s, e in coded)


def test_a_document_of_thousands_of_stages_is_coded_in_bounded_time(pipeline: Pipeline) -> None:
    """Hostile input: 32,000 stages in 288 KB (each stage was checked against every mention: ~3 min)."""
    text = "carcinoma pT1N0M0 " * 16_000
    started = time.perf_counter()
    result = pipeline.code(Document("d", text, "es"))
    assert time.perf_counter() - started < 30  # measured 2.6 s
    assert sum(a.mention.text == "pT1N0M0" for a in result.assignments) == 16_000



def test_a_document_of_thousands_of_parenthesised_short_forms_is_coded_in_bounded_time(pipeline: Pipeline) -> None:
    """Hostile input: 32,000 "(XQ)" in 1 MB. Each was looked back at over the whole text before it
    (quadratic: over 2 minutes); now over the words just before it."""
    text = "Carcinoma hepatocelular (CHC) multifocal. " + "valor normal (XQ) sin cambios. " * 32_000 + "El CHC."
    started = time.perf_counter()
    found = defined_abbreviations(text)
    result = pipeline.code(Document("d", text, "es"))
    assert time.perf_counter() - started < 30  # measured 1.3 s
    assert found == {"CHC": "Carcinoma hepatocelular"}
    assert [a.code for a in result.assignments if a.mention.text == "CHC"] == ["8170/3", "8170/3"]


def test_rule_spans_take_the_mentions_inside_them_and_never_overlap() -> None:
    text = "carcinoma pT1N0M0 y TNE G2 metastásico"
    document = Document("d", text, "es")

    def at(words: str) -> tuple[int, int]:
        return text.index(words), text.index(words) + len(words)

    def mention(words: str) -> Mention:
        return Mention((Span(*at(words)),), words)

    mentions = [mention("carcinoma"), mention("T1N0"), mention("G2 metastásico")]
    spans = [at("pT1N0M0"), at("M0 y"), at("TNE G2")]  # the second overlaps the first; the third a mention
    kept = with_spans(document, mentions, spans)
    assert [m.text for m in kept] == ["carcinoma", "pT1N0M0", "G2 metastásico"]


def test_a_spread_stage_joins_the_tumour_before_it_and_an_m0_stage_stands_alone(pipeline: Pipeline) -> None:
    text = ("Adenocarcinoma (ADC) de pulmón, estadio IV (cT2bN2M1b). "
            "Carcinoma epidermoide de pulmón izquierdo cT2N3 M1a; control. "
            "Adenocarcinoma de colon pT3N1M0. Metástasis hepática. pT1N0M1.")
    found = {a.mention.text: a.code for a in pipeline.code(Document("d", text, "es")).assignments}
    assert found["Adenocarcinoma (ADC) de pulmón, estadio IV (cT2bN2M1b"] == "8140/6"
    assert found["Carcinoma epidermoide de pulmón izquierdo cT2N3 M1a"] == "8070/6"  # spaced: up to its M part
    assert found["pT3N1M0"] == "8000/6" and "Adenocarcinoma de colon pT3N1M0" not in found
    assert "pT1N0M1" in found  # another sentence's mention is not joined
    text = "carcinoma pT1N0M1 carcinoma pT2N0M1"  # no clause between them, and still two tumours
    found = [a.mention.text for a in pipeline.code(Document("d", text, "es")).assignments]
    assert found == ["carcinoma pT1N0M1", "carcinoma pT2N0M1"]


def test_a_named_tumour_and_the_word_that_says_it_spread_are_one_mention(pipeline: Pipeline) -> None:
    text = ("Tumor germinal metastásico en 2010. Feocromocitoma con metástasis. "
            "Lesiones óseas metastásicas.")
    found = {a.mention.text: a.code for a in pipeline.code(Document("d", text, "es")).assignments}
    assert found["Tumor germinal metastásico"].endswith("/6")
    assert found["Feocromocitoma con metástasis"] == "8700/6"
    assert "Lesiones óseas metastásicas" not in found  # no named histology: two mentions, as train marks them
    text = "Metástasis pulmonares múltiples de adenocarcinoma. Metástasis en 2010; adenocarcinoma de colon."
    found = {a.mention.text: a.code for a in pipeline.code(Document("d", text, "es")).assignments}
    assert found["Metástasis pulmonares múltiples de adenocarcinoma"] == "8140/6"  # a few words between
    assert found["Metástasis"] == "8000/6" and found["adenocarcinoma"] == "8140/3"  # another clause: apart


def test_a_grade_word_in_the_histologys_own_name_is_no_grade(pipeline: Pipeline) -> None:
    assert pipeline.linker.composer.compose("carcinoma indiferenciado de laringe metastásico").code == "8020/6"
    assert pipeline.linker.composer.compose("adenocarcinoma de recto de alto grado metastásico").code == "8140/64"


def test_a_carcinoma_in_situ_stage_is_found() -> None:
    text = "Carcinoma ductal in situ, pTisN0M0; control: Tis N0 M0."
    assert [text[slice(*span)] for span in staging_spans(text)] == ["pTisN0M0", "M0"]
