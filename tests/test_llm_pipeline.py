"""Dictionary then LLM, end to end, with real llama.cpp inference on the small GGUF."""

import csv
from pathlib import Path

import pytest

from engine.cli import main
from engine.core.codes import Edition, is_morphology
from engine.core.model import Document, Mention, Stage
from engine.linking.llm.linker import LLMLinker
from engine.linking.llm.prompt import NONE, PROMPT_VERSION
from engine.linking.llm.session import open_llm_stage
from engine.linking.pipeline import Pipeline
from engine.linking.specificity import NEEDS_SPECIFIC_CODE
from engine.models.files import stream_file

TEXT = (
    "Varón de 70 años con dolor torácico atípico de una semana, disnea de esfuerzo y edemas maleolares. "
    "Refiere además prurito generalizado."
)
TUMOUR = (
    "Biopsia de colon: adenocarcinoma de patrón cribiforme focalmente mucinoso. "
    "En la TC se ven implantes peritoneales y una lesión sugestiva de malignidad en el hígado."
)
PHRASES = ["dolor torácico atípico de una semana", "disnea de esfuerzo", "edemas maleolares", "prurito generalizado"]


@pytest.fixture(scope="module")
def llm_pipeline(gemma_gguf: Path):
    pipeline = Pipeline.bundled("es")
    stage = open_llm_stage(str(gemma_gguf), "es", pipeline.catalog)
    pipeline.llm = stage.linker
    yield pipeline
    stage.close()


def test_open_mentions_get_exactly_one_valid_answer_each(llm_pipeline: Pipeline, gemma_gguf: Path) -> None:
    mentions = [Mention.from_spans(TEXT, [(TEXT.index(p), TEXT.index(p) + len(p))]) for p in PHRASES]
    result = llm_pipeline.code(Document("d", TEXT, "es"), mentions)
    stats = llm_pipeline.llm.stats
    assert len(result.assignments) == len(mentions)
    assert stats.calls >= 1 and stats.invalid == 0
    assert stats.answered + stats.none == stats.mentions
    sha256 = stream_file(gemma_gguf, None, "hashing")
    for assignment in result.assignments:
        assert assignment.code is not None and llm_pipeline.catalog.is_valid(assignment.code)
        # The model's answer too is made terminal in the version (engine.linking.specificity).
        assert llm_pipeline.catalog.is_terminal(assignment.code, llm_pipeline.specificity.version.id)
        if assignment.stage is Stage.DICTIONARY:
            continue
        assert assignment.stage in (Stage.LLM, Stage.FUZZY)
        answered = assignment.provenance.get(NEEDS_SPECIFIC_CODE, assignment.code)
        assert answered in assignment.provenance["candidates_shown"]
        assert assignment.provenance["model_sha256"] == sha256
        assert assignment.provenance["prompt_version"] == PROMPT_VERSION


def test_the_fixed_prompt_prefix_is_evaluated_once(llm_pipeline: Pipeline) -> None:
    stats = llm_pipeline.llm.stats
    before_calls, before_prompt, before_eval = stats.calls, stats.prompt_tokens, stats.evaluated_prompt_tokens
    for text in ("Paciente con prurito generalizado.", "Mujer con disnea de esfuerzo."):
        phrase = text.split(" con ")[1].rstrip(".")
        start = text.index(phrase)
        llm_pipeline.code(Document("x", text, "es"), [Mention.from_spans(text, [(start, start + len(phrase))])])
    calls = stats.calls - before_calls
    assert calls == 2
    # The system text and the example are reused from the earlier calls: far fewer tokens evaluated.
    assert stats.evaluated_prompt_tokens - before_eval < 0.5 * (stats.prompt_tokens - before_prompt)


def test_cli_codes_with_a_model(tmp_path: Path, gemma_gguf: Path, capsys) -> None:
    (tmp_path / "d.txt").write_text(TEXT, encoding="utf-8")
    out = tmp_path / "out.csv"
    assert main(["code", str(tmp_path / "d.txt"), "--model", str(gemma_gguf), "-o", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows and all(r["code"] for r in rows)
    assert "llm:" in capsys.readouterr().err


def test_icdo3_mentions_get_one_of_their_morphology_candidates_or_none(llm_pipeline: Pipeline) -> None:
    """The loaded model asked with the ICD-O-3 prompt (last here: it changes the cached prefix)."""
    first = llm_pipeline.llm
    prompts: list[str] = []

    def generate(messages, *args, **kwargs):
        prompts.append(messages[0]["content"])
        return first.generate(messages, *args, **kwargs)

    pipeline = Pipeline.bundled("es", Edition.ICDO3)
    pipeline.llm = LLMLinker(generate, pipeline.catalog, "es", first.model)
    phrases = ["adenocarcinoma de patrón cribiforme focalmente mucinoso", "implantes peritoneales",
               "lesión sugestiva de malignidad"]
    mentions = [Mention.from_spans(TUMOUR, [(TUMOUR.index(p), TUMOUR.index(p) + len(p))]) for p in phrases]
    result = pipeline.code(Document("t", TUMOUR, "es"), mentions)
    stats = pipeline.llm.stats
    assert stats.mentions >= 2 and stats.invalid == 0 and stats.answered + stats.none == stats.mentions
    assert prompts and all("CIE-O-3" in system and "CIE-10" not in system for system in prompts)
    asked = [a for a in result.assignments if "llm_answer" in a.provenance]
    assert len(asked) == stats.mentions
    for assignment in asked:
        shown = assignment.provenance["candidates_shown"]
        assert shown and all(is_morphology(code) for code in shown)
        assert assignment.provenance["llm_answer"] in [*shown, NONE]
        assert pipeline.catalog.is_valid(assignment.code)
