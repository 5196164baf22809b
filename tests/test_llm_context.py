"""The LLM stage reads less: local context per mention, and the skip margin on decisive fuzzy rankings."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.core.codes import Edition
from engine.core.model import Assignment, Candidate, Document, Mention, ReviewStatus, Stage
from engine.evaluation.margin import MarginTally, choose_margin
from engine.linking.llm.context import WINDOW_WORDS, ContextFinder, is_heading
from engine.linking.llm.prompt import PromptItem, PromptTemplate, build_messages
from engine.linking.margin import fuzzy_margin, is_decisive
from engine.linking.pipeline import Pipeline
from engine.text.annotations import load_codiesp

DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "codiesp" / "dev"
TEXT = (
    "ANTECEDENTES:\nHipertensión arterial. Fumador.\n"
    "ENFERMEDAD ACTUAL:\nAcude por dolor torácico y disnea de esfuerzo desde hace tres días. Sin fiebre."
)


def _mention(text: str, phrase: str) -> Mention:
    start = text.index(phrase)
    return Mention.from_spans(text, [(start, start + len(phrase))])


def test_context_is_the_sentence_and_its_heading() -> None:
    finder = ContextFinder(TEXT)
    context = finder.of(_mention(TEXT, "disnea de esfuerzo"))
    [(start, end)] = context.ranges
    assert TEXT[start:end] == "Acude por dolor torácico y disnea de esfuerzo desde hace tres días."
    assert context.heading == "ENFERMEDAD ACTUAL"
    assert finder.of(_mention(TEXT, "Fumador")).heading == "ANTECEDENTES"


# Line starts before a colon in CodiEsp dev texts: section names, and sentences that reach a colon.
HEADINGS = ["Antecedentes personales", "Exploración física", "Anatomía Patológica", "Otros antecedentes de interés",
            "Tratamiento y Evolución", "Evolución del hematoma", "Morfología (Kruger)", "TAC abdómino-pélvico",
            "Microscópicamente", "Nº ondas e intensidad", "a) Examen externo"]
SENTENCE_STARTS = ["El informe histopatológico refería", "En la analítica destacaba", "Presenta como antecedentes personales",
                   "Destacaban entre sus antecedentes personales", "Dentro de los antecedentes personales destacaba",
                   "Entre los antecedentes familiares se destaca", "Los datos analíticos más relevantes fueron",
                   "Exploración física normal, presión arterial", "El paciente refiere"]


@pytest.mark.parametrize("phrase", HEADINGS)
def test_a_section_name_before_a_colon_is_a_heading(phrase: str) -> None:
    assert is_heading(phrase)


@pytest.mark.parametrize("phrase", SENTENCE_STARTS)
def test_a_sentence_that_reaches_a_colon_is_no_heading(phrase: str) -> None:
    assert not is_heading(phrase)


def test_sentence_starts_in_a_dev_report_give_its_mentions_no_heading() -> None:
    text = (DEV / "text_files" / "S1698-69462006000100003-1.txt").read_text(encoding="utf-8")
    finder = ContextFinder(text)
    assert finder.of(_mention(text, "tumor intestinal")).heading == ""  # "Entre los antecedentes ... se destaca:"
    assert finder.of(_mention(text, "desdentado parcial")).heading == ""  # "El examen bucal muestra:"
    other = "Antecedentes personales: hipertensión arterial.\nEl paciente refiere: dolor torácico."
    assert ContextFinder(other).of(_mention(other, "dolor torácico")).heading == "Antecedentes personales"


def test_a_long_sentence_is_cut_to_a_window_of_words() -> None:
    words = [f"palabra{i}" for i in range(200)]
    text = " ".join(words[:100] + ["neumonía"] + words[100:]) + "."
    [(start, end)] = ContextFinder(text).of(_mention(text, "neumonía")).ranges
    shown = text[start:end].split()
    assert shown == words[100 - WINDOW_WORDS : 100] + ["neumonía"] + words[100 : 100 + WINDOW_WORDS]


def test_a_long_document_costs_its_mentions_context_not_its_length() -> None:
    """A 2 MB document: the prompt holds the mentions' sentences, not the text around them."""
    filler = "Paciente estable sin cambios en la evolución clínica. " * 40_000
    text = filler + "Presenta neumonía basal derecha con fiebre. " + filler
    pipeline = Pipeline.bundled("es")
    mention = _mention(text, "neumonía basal derecha")
    item = PromptItem("m1", mention, ("J18.9", "J18.1"))
    messages = build_messages(PromptTemplate.bundled("es"), pipeline.catalog, Document("d", text, "es"), [item])
    assert len(text) > 4_000_000
    assert "«Presenta *neumonía basal derecha* con fiebre.»" in messages[-1]["content"]
    assert len(messages[-1]["content"]) < 400


def test_mentions_of_one_sentence_share_one_context() -> None:
    pipeline = Pipeline.bundled("es")
    items = [PromptItem("m1", _mention(TEXT, "dolor torácico"), ("R07.9",)),
             PromptItem("m2", _mention(TEXT, "disnea de esfuerzo"), ("R06.00",)),
             PromptItem("m3", _mention(TEXT, "Hipertensión arterial"), ("I10",))]
    user = build_messages(PromptTemplate.bundled("es"), pipeline.catalog, Document("d", TEXT, "es"), items)[-1]
    content = user["content"]
    assert content.count("Contexto:") == 2
    assert "«Acude por *dolor torácico* y *disnea de esfuerzo* desde hace tres días.»" in content
    assert content.index("[Sección: ANTECEDENTES]") < content.index('m3: "Hipertensión arterial"')
    assert content.index('m3: "Hipertensión arterial"') < content.index("[Sección: ENFERMEDAD ACTUAL]")


def _fuzzy(*scores: float) -> Assignment:
    candidates = tuple(Candidate(f"R0{i}", Edition.CM, "", s, "fuzzy:title") for i, s in enumerate(scores))
    return Assignment(_mention(TEXT, "Fumador"), candidates[0].code if candidates else None, Edition.CM, "",
                      Stage.FUZZY, scores[0] if scores else 0.0, status=ReviewStatus.NEEDS_REVIEW,
                      candidates=candidates)


def test_margin_is_the_lead_of_the_top_candidate() -> None:
    assert round(fuzzy_margin(_fuzzy(0.9, 0.5, 0.4)), 6) == 0.4
    assert fuzzy_margin(_fuzzy(0.8)) == 0.8  # a lone candidate leads by its whole score
    assert is_decisive(_fuzzy(0.9, 0.5), 0.3) and not is_decisive(_fuzzy(0.9, 0.7), 0.3)
    assert not is_decisive(_fuzzy(), 0.0)  # nothing to keep
    assert not is_decisive(_fuzzy(1.0), 1.01)  # above 1: every open mention is asked


def test_margin_tally_on_codiesp_dev_counts_what_the_margin_skips() -> None:
    corpus = load_codiesp(DEV)[:20]
    pipeline = Pipeline.bundled("es", exclude=frozenset({"codiesp-dev"}))
    tally = MarginTally()
    for gold in corpus:
        tally.add(gold, pipeline.code(gold.document, [m.mention for m in gold.mentions]))
    open_mentions = len(tally.cases)
    assert open_mentions > 50  # CodiEsp dev leaves this many open once dev is out of the dictionary
    never, every = tally.skipped(1.01), tally.skipped(0.0)
    assert never == (0, 0) and every[0] == open_mentions
    skipped, right = tally.skipped(0.3)
    assert 0 < skipped < open_mentions and right <= skipped
    assert "skips" in tally.report(0.3) and "[0.30, 0.40)" in tally.table()


def test_choose_margin_needs_precision_and_support() -> None:
    tally = MarginTally([(0.5, True)] * 40 + [(0.01, False)] * 100)
    assert choose_margin(tally, precision=0.75) == 0.02  # the first edge above the wrong ones
    assert choose_margin(MarginTally([(0.5, True)] * 10), minimum_support=30) == 1.01
    assert choose_margin(MarginTally([(0.5, False)] * 100)) == 1.01



def test_a_heading_with_a_gene_name_is_a_heading() -> None:
    assert is_heading("Estado HER2") and is_heading("HER2")  # "her" is an English pronoun, "HER2" a gene
