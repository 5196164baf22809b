"""The LLM stage's prompt, schema and answer checking.

The model's answers here come from a scripted generator so that every kind of
bad output (garbage text, codes outside the list, missing keys) is exercised
deterministically; real llama.cpp inference is tested in test_llm_backend.py
and end to end with the small GGUF in test_llm_pipeline.py.
"""

import json
from dataclasses import dataclass
from typing import Any

import pytest

from engine.core.codes import ICD10_EDITIONS, Edition
from engine.core.errors import EngineError
from engine.core.model import Candidate, Document, Mention, ReviewStatus, Stage
from engine.linking.llm.linker import LLMLinker, ModelIdentity
from engine.linking.llm.prompt import (
    NONE,
    PROMPT_VERSION,
    PromptItem,
    PromptTemplate,
    build_messages,
    build_schema,
)
from engine.linking.pipeline import Pipeline
from engine.terms.catalog import Catalog
from engine.terms.dictionary import DEFAULT_EDITIONS, EDITION_DICTIONARIES

TEXT = "Varón con neumonía basal derecha y dolor torácico atípico. Hipertensión arterial."


@dataclass
class ScriptedGeneration:
    text: str
    parsed: Any
    prompt_tokens: int = 100
    evaluated_prompt_tokens: int = 40
    completion_tokens: int = 10
    seconds: float = 0.5
    llama_seconds: float = 0.45


class Script:
    """Answers with whatever the test says, and records what it was asked."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.calls: list[tuple[list[dict], dict, int]] = []

    def __call__(self, messages, schema, max_tokens, cancel, on_text=None, on_prompt=None):
        self.calls.append((messages, schema, max_tokens))
        text = self.answer(schema) if callable(self.answer) else self.answer
        if on_text is not None:  # stream it as the backend does, a few characters a token
            for end in range(3, len(text) + 3, 3):
                on_text(text[:end])
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        return ScriptedGeneration(text, parsed)


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline.bundled("es")


def mentions() -> list[Mention]:
    spans = [(10, 32), (35, 57), (59, 80)]
    return [Mention.from_spans(TEXT, [span]) for span in spans]


def dictionary_result(pipeline: Pipeline):
    return pipeline.code(Document("d", TEXT, "es"), mentions()).assignments


def test_schema_requires_one_listed_answer_per_mention() -> None:
    items = [PromptItem("m1", mentions()[0], ("J18.9", "J18.1")), PromptItem("m2", mentions()[1], ("R07.9",))]
    schema = build_schema(items)
    assert schema["required"] == ["m1", "m2"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["m1"] == {"enum": ["J18.9", "J18.1", NONE]}


def test_prompt_puts_the_fixed_part_first_and_marks_mentions(pipeline: Pipeline) -> None:
    template = PromptTemplate.bundled("es")
    items = [PromptItem("m1", mentions()[0], ("J18.9", "J18.1"))]
    messages = build_messages(template, pipeline.catalog, Document("d", TEXT, "es"), items)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert "codificador clínico" in messages[0]["content"]
    assert "*neumonía basal derecha*" in messages[-1]["content"]
    assert "J18.9: Neumonía, no especificada" in messages[-1]["content"] or "J18.9:" in messages[-1]["content"]
    # The example and system text do not depend on the document: the prefix llama.cpp reuses.
    other = build_messages(template, pipeline.catalog, Document("e", "Otra cosa: fiebre.", "es"), items)
    assert messages[:3] == other[:3]


# What a coder calls each classification in each language: the instructions must say it.
NAMES = {
    "es": {Edition.CM: "CIE-10-ES", Edition.GM: "CIE-10-GM", Edition.WHO: "CIE-10 de la OMS", Edition.ICDO3: "CIE-O-3"},
    "en": {Edition.CM: "ICD-10-CM", Edition.GM: "ICD-10-GM", Edition.WHO: "WHO ICD-10", Edition.ICDO3: "ICD-O-3"},
    "de": {Edition.CM: "ICD-10-CM", Edition.GM: "ICD-10-GM", Edition.WHO: "ICD-10 der WHO"},
    "fr": {Edition.CM: "CIM-10-CM", Edition.GM: "CIM-10-GM", Edition.WHO: "CIM-10 de l'OMS"},
    "el": {Edition.CM: "ICD-10-CM", Edition.GM: "ICD-10-GM", Edition.WHO: "ICD-10 του ΠΟΥ"},
}


@pytest.mark.parametrize("language", sorted(DEFAULT_EDITIONS))
def test_the_instructions_name_the_classification_of_each_edition(language: str) -> None:
    """Every edition a language can be coded in (an ICD-10 edition, or ICD-O-3 where it has a dictionary)."""
    editions = [*ICD10_EDITIONS, *(e for e, languages in EDITION_DICTIONARIES.items() if language in languages)]
    assert sorted(editions) == sorted(NAMES[language])
    for edition in editions:
        system = PromptTemplate.bundled(language, edition).system
        assert NAMES[language][edition] in system and "{classification}" not in system
        others = {n for e, n in NAMES[language].items() if e is not edition and n not in NAMES[language][edition]}
        assert not any(other in system for other in others), (edition, others)
    assert PromptTemplate.bundled(language) == PromptTemplate.bundled(language, DEFAULT_EDITIONS[language])


@pytest.mark.parametrize("language", EDITION_DICTIONARIES[Edition.ICDO3])
def test_icdo3_asks_for_histology_behaviour_and_grade_with_a_morphology_example(language: str) -> None:
    template = PromptTemplate.bundled(language, Edition.ICDO3)
    icd10 = PromptTemplate.bundled(language)
    assert all(f"/{digit}" in template.system for digit in "012369")
    assert "8140/32" in template.system  # the grade digit, shown on a code
    catalog = Catalog.bundled(Edition.ICDO3)
    for mention in template.example["mentions"]:
        assert mention["text"] in template.example["text"]
        assert all(catalog.is_valid(code) for code in mention["candidates"]), mention
        assert mention["answer"] in mention["candidates"]
    text = "Biopsia: carcinoma de células claras. TC: lesiones hepáticas."
    items = [PromptItem("m1", Mention.from_spans(text, [(9, 36)]), ("8310/3", "8310/6"))]
    messages = build_messages(template, catalog, Document("d", text, language), items)
    assert messages[0]["content"] == template.system != icd10.system
    assert "8140/32" in messages[2]["content"] and "- 8310/3: " in messages[-1]["content"]
    other = build_messages(template, catalog, Document("e", "Otro: melanoma.", language), items)
    assert messages[:3] == other[:3]  # the cached prefix


def test_a_language_without_an_icdo3_prompt_says_so() -> None:
    with pytest.raises(EngineError, match="ICD-O-3 morphology prompt for language 'de'"):
        PromptTemplate.bundled("de", Edition.ICDO3)
    with pytest.raises(EngineError, match="no prompt for language 'xx'"):  # not a KeyError
        PromptTemplate.bundled("xx")


@pytest.mark.parametrize("language", sorted(DEFAULT_EDITIONS))
def test_each_icd10_example_is_coded_in_its_language_edition(language: str) -> None:
    example, catalog = PromptTemplate.bundled(language).example, Catalog.bundled(DEFAULT_EDITIONS[language])
    for mention in example["mentions"]:
        assert all(catalog.is_valid(code) for code in mention["candidates"]), mention
        assert mention["answer"] in mention["candidates"]


@pytest.mark.parametrize("language", sorted(DEFAULT_EDITIONS))
def test_an_example_coded_to_another_edition_shows_only_that_editions_codes(language: str) -> None:
    mentions = PromptTemplate.bundled(language).example["mentions"]
    for edition in ICD10_EDITIONS:
        catalog = Catalog.bundled(edition)
        kept = [m for m in mentions if catalog.is_valid(m["answer"])]  # a mention whose answer it lacks goes
        items = [PromptItem("m1", Mention.from_spans(TEXT, [(10, 18)]), ("J18.9",))]
        example = build_messages(PromptTemplate.bundled(language), catalog, Document("d", TEXT, language), items)
        listed = {line[2:].split(":")[0] for line in example[1]["content"].splitlines() if line.startswith("- ")}
        assert listed == {code for m in kept for code in m["candidates"] if catalog.is_valid(code)}, edition
        assert json.loads(example[2]["content"]) == {f"m{n}": m["answer"] for n, m in enumerate(kept, start=1)}
    cm_only = [m for m in PromptTemplate.bundled("es").example["mentions"] if "I67.89" in m["candidates"]]
    assert cm_only and not Catalog.bundled(Edition.GM).is_valid("I67.89")  # the case this guards


def test_valid_answers_become_llm_assignments_with_provenance(pipeline: Pipeline) -> None:
    before = dictionary_result(pipeline)
    unsettled = [a for a in before if a.stage is not Stage.DICTIONARY]
    assert unsettled, "the test text needs mentions the dictionary does not settle"

    def pick_second(schema):
        return json.dumps({key: prop["enum"][min(1, len(prop["enum"]) - 2)] for key, prop in schema["properties"].items()})

    script = Script(pick_second)
    linker = LLMLinker(script, pipeline.catalog, "es", ModelIdentity("test.gguf", "ab" * 32))
    after = linker.link(Document("d", TEXT, "es"), before)
    for old, new in zip(before, after):
        if old.stage is Stage.DICTIONARY:
            assert new == old  # an unambiguous dictionary result stands
            continue
        assert new.stage is Stage.LLM and new.status is ReviewStatus.NEEDS_REVIEW
        assert pipeline.catalog.is_valid(new.code)
        assert new.provenance["model"] == "test.gguf"
        assert new.provenance["model_sha256"] == "ab" * 32
        assert new.provenance["prompt_version"] == PROMPT_VERSION
        assert new.code in new.provenance["candidates_shown"]
        assert new.provenance["raw_output"].startswith("{")
    assert linker.stats.invalid == 0 and linker.stats.answered == len(unsettled)
    assert linker.stats.evaluated_prompt_tokens == 40 * linker.stats.calls


@pytest.mark.parametrize(
    "garbage",
    ["", "not json at all", "[1, 2, 3]", '{"m1": "Z99.99"}', '{"m1": "J18.9", "m9": "I10"}', '{"m1": 42}'],
)
def test_garbage_output_never_crashes_and_keeps_the_best_candidate(pipeline: Pipeline, garbage: str) -> None:
    before = dictionary_result(pipeline)
    linker = LLMLinker(Script(garbage), pipeline.catalog, "es", ModelIdentity("m", "0" * 64))
    after = linker.link(Document("d", TEXT, "es"), before)
    for old, new in zip(before, after):
        assert new.code is not None and pipeline.catalog.is_valid(new.code)
        if old.stage is not Stage.DICTIONARY and new.stage is not Stage.LLM:
            assert new.stage is Stage.FUZZY and new.code == old.candidates[0].code
            assert new.status is ReviewStatus.NEEDS_REVIEW
    assert linker.stats.answered + linker.stats.none + linker.stats.invalid == linker.stats.mentions


def test_none_keeps_the_best_fuzzy_candidate_for_review(pipeline: Pipeline) -> None:
    before = dictionary_result(pipeline)
    script = Script(lambda schema: json.dumps({key: NONE for key in schema["properties"]}))
    linker = LLMLinker(script, pipeline.catalog, "es", ModelIdentity("m", "0" * 64))
    after = linker.link(Document("d", TEXT, "es"), before)
    changed = [(o, n) for o, n in zip(before, after) if o.stage is not Stage.DICTIONARY]
    assert all(n.stage is Stage.FUZZY and n.provenance["llm_answer"] == NONE for _, n in changed)
    assert linker.stats.none == len(changed)


def test_many_mentions_are_split_into_calls(pipeline: Pipeline) -> None:
    text = " y ".join(["neumonía basal"] * 30)
    spans = [(i * 17, i * 17 + 14) for i in range(30)]
    document = Document("d", text, "es")
    given = [Mention.from_spans(text, [span]) for span in spans]
    before = pipeline.code(document, given).assignments
    script = Script(lambda schema: json.dumps({key: NONE for key in schema["properties"]}))
    linker = LLMLinker(script, pipeline.catalog, "es", ModelIdentity("m", "0" * 64), mentions_per_call=12)
    linker.link(document, before)
    unsettled = sum(a.stage is not Stage.DICTIONARY for a in before)
    assert len(script.calls) == -(-unsettled // 12)
    assert all(len(schema["required"]) <= 12 for _, schema, _ in script.calls)


def test_answers_fill_in_mention_by_mention_as_they_stream(pipeline: Pipeline) -> None:
    before = dictionary_result(pipeline)
    open_count = sum(1 for a in before if a.stage is not Stage.DICTIONARY)

    def pick_first(schema):
        return json.dumps({key: prop["enum"][0] for key, prop in schema["properties"].items()})

    updates = []
    linker = LLMLinker(Script(pick_first), pipeline.catalog, "es", ModelIdentity("m", "0" * 64))
    final = linker.link(Document("d", TEXT, "es"), before, on_update=lambda a, p: updates.append((a, p)))
    # One update per decided mention, each with one more LLM assignment than the last.
    assert [p.decided for _, p in updates] == list(range(1, open_count + 1))
    llm_counts = [sum(1 for a in assignments if a.stage is Stage.LLM) for assignments, _ in updates]
    assert llm_counts == list(range(1, open_count + 1))
    assert updates[0][1].completion_tokens < updates[-1][1].completion_tokens
    assert updates[-1][0] == final
    assert linker.stats.mentions == open_count  # streamed decisions are not counted twice


def test_child_codes_are_offered_right_after_their_candidate(pipeline: Pipeline) -> None:
    before = dictionary_result(pipeline)
    open_assignment = next(a for a in before if a.stage is not Stage.DICTIONARY)
    with_category = open_assignment.with_changes(
        candidates=(Candidate("J18", open_assignment.edition, "", 0.9, "test"),)
    )
    script = Script(lambda schema: json.dumps({key: NONE for key in schema["properties"]}))
    linker = LLMLinker(script, pipeline.catalog, "es", ModelIdentity("m", "0" * 64), child_codes=3)
    linker.link(Document("d", TEXT, "es"), [with_category])
    _, schema, _ = script.calls[0]
    assert schema["properties"]["m1"]["enum"] == ["J18", *pipeline.catalog.children("J18")[:3], NONE]
