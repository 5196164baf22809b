"""The llama.cpp backend with real inference on the 270M Gemma 3 GGUF (no mocks).

Gemma 270M is a base model: it does not follow instructions, so every check on
answers relies on the grammar, never on the model being right.  Generations are
kept to a few tokens so the file runs in well under a minute on 2 cores.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import llama_cpp
import pytest

from engine.core.errors import BackendError, GrammarError, ModelError, ModelFileError
from engine.core.progress import Cancelled, CancelToken
from engine.linking.llm.backend import (
    BackendSettings,
    Generation,
    LlamaBackend,
    fit_context,
)
from engine.linking.llm.worker import LLMWorker

# One thread: on a 2-core machine shared with other work, two spinning llama.cpp
# threads can stall each other for seconds per token.
SETTINGS = BackendSettings(n_ctx=1024, n_threads=1)

MENTIONS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "m1": {"enum": ["N28.1", "N28.9", "none"]},
        "m2": {"enum": ["I10", "I11.9", "none"]},
        "m3": {"enum": ["E11.9", "none"]},
    },
    "required": ["m1", "m2", "m3"],
    "additionalProperties": False,
}
YES_NO: dict[str, Any] = {"enum": ["yes", "no"]}
LONG_STRING: dict[str, Any] = {
    "type": "object",
    "properties": {"explanation": {"type": "string", "minLength": 200}},
    "required": ["explanation"],
}

SYSTEM = (
    "You are a clinical coder. For each numbered diagnosis mention in the document, answer with "
    "one ICD-10 code chosen from that mention's candidates, or none when no candidate fits. "
    "Use the most specific code the text supports and answer with JSON only."
)
DOCUMENT = (
    "Paciente de 67 años con [m1: quiste renal simple] en el riñón izquierdo, "
    "[m2: hipertensión arterial] en tratamiento y [m3: diabetes mellitus tipo 2] sin complicaciones."
)
# A stable system prompt and example go first so they are reused between calls.
LONG_SYSTEM = SYSTEM + " Example: 'insuficiencia renal crónica estadio 3' -> N18.3. " * 6


def chat(user: str, system: str = SYSTEM) -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


@pytest.fixture(scope="module")
def backend(gemma_gguf: Path) -> Iterator[LlamaBackend]:
    backend = LlamaBackend()
    backend.load(gemma_gguf, SETTINGS)
    yield backend
    backend.unload()


@pytest.fixture(scope="module")
def worker(gemma_gguf: Path) -> Iterator[LLMWorker]:
    with LLMWorker() as worker:
        worker.load(gemma_gguf, SETTINGS).result()
        yield worker


def test_settings_never_fail_on_a_cpu_build() -> None:
    settings = BackendSettings()
    assert settings.gpu_layers() == (-1 if llama_cpp.llama_supports_gpu_offload() else 0)
    assert BackendSettings(n_gpu_layers=12).gpu_layers() == 12
    assert settings.n_threads >= 1 and settings.n_ctx == 4096


def test_context_is_fitted_to_the_prompt_and_capped_by_training(backend: LlamaBackend) -> None:
    assert fit_context(300, 64, 32768) == 512
    assert fit_context(256, 0, 32768) == 256
    assert fit_context(40000, 64, 32768) == 32768
    prompt = len(backend.prompt_tokens(chat(DOCUMENT)))
    sized = SETTINGS.sized_for(prompt, 100, backend.n_ctx_train)
    assert sized.n_ctx % 256 == 0 and prompt + 100 <= sized.n_ctx < prompt + 100 + 256
    assert sized.n_threads == SETTINGS.n_threads and backend.n_ctx_train == 32768


@pytest.mark.parametrize("explained", [False, True], ids=["codes", "codes+explanation"])
def test_one_valid_answer_per_mention(backend: LlamaBackend, explained: bool) -> None:
    schema = MENTIONS_SCHEMA
    if explained:
        properties = {**schema["properties"], "explanation": {"type": "string", "maxLength": 30}}
        schema = {**schema, "properties": properties}
    generation = backend.generate_json(chat(DOCUMENT), schema, max_tokens=80)

    assert generation.parse_error is None, generation.text
    assert generation.finish_reason == "stop"
    answer = generation.parsed
    assert set(answer) - {"explanation"} == {"m1", "m2", "m3"}
    for key in ("m1", "m2", "m3"):
        assert answer[key] in schema["properties"][key]["enum"]
    if "explanation" in answer:
        assert isinstance(answer["explanation"], str) and len(answer["explanation"]) <= 30
    assert generation.prompt_tokens == len(backend.prompt_tokens(chat(DOCUMENT)))
    assert 0 < generation.evaluated_prompt_tokens <= generation.prompt_tokens
    assert generation.completion_tokens > 0
    assert 0 < generation.llama_seconds <= generation.seconds


def test_output_cut_by_max_tokens_is_data_not_a_crash(backend: LlamaBackend) -> None:
    generation = backend.generate_json(chat(DOCUMENT), MENTIONS_SCHEMA, max_tokens=3)
    assert generation.finish_reason == "length" and generation.completion_tokens == 3
    assert generation.parsed is None and generation.parse_error


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "no-such-type"},  # the Python schema converter refuses it
        {"type": "string", "pattern": "^a**$"},  # converted, but llama.cpp rejects the grammar
    ],
    ids=["converter", "llama.cpp"],
)
def test_schema_that_cannot_become_a_grammar_raises(backend: LlamaBackend, schema: dict[str, Any]) -> None:
    # Passed to llama-cpp-python unchecked, the first would silently allow any JSON
    # and the second would crash the process (NULL grammar sampler).
    with pytest.raises(GrammarError) as raised:
        backend.generate_json(chat(DOCUMENT), schema, max_tokens=4)
    assert raised.value.code == "ICD-E306"


def test_prompt_too_long_for_the_context_is_a_clear_error(backend: LlamaBackend) -> None:
    with pytest.raises(BackendError, match="do not fit"):
        backend.generate_json(chat(DOCUMENT), YES_NO, max_tokens=1000)


def test_prefix_shared_with_the_previous_call_is_not_evaluated_again(backend: LlamaBackend) -> None:
    ctx = backend._llm.ctx  # llama.cpp's own prompt-eval counter, to check ours against

    def generate(document: str) -> tuple[Generation, int]:
        llama_cpp.llama_perf_context_reset(ctx)
        generation = backend.generate_json(chat(document, LONG_SYSTEM), YES_NO, max_tokens=6)
        return generation, llama_cpp.llama_perf_context(ctx).n_p_eval

    document = "Documento B: hipertensión arterial esencial."
    backend.reset()
    first, first_counted = generate("Documento A: quiste renal.")
    second, second_counted = generate(document)
    backend.reset()
    cold, cold_counted = generate(document)

    assert first.prompt_tokens > 150
    assert first.evaluated_prompt_tokens == first.prompt_tokens == first_counted
    # Only the document after the shared system prompt is evaluated again (plus template tokens).
    assert 1 < second.evaluated_prompt_tokens <= len(backend.tokenize(document)) + 8
    assert second.evaluated_prompt_tokens == second_counted
    assert cold.evaluated_prompt_tokens == cold.prompt_tokens == second.prompt_tokens == cold_counted


def test_repeating_the_same_prompt_evaluates_one_token(backend: LlamaBackend) -> None:
    messages = chat("Documento C.")
    backend.generate_json(messages, YES_NO, max_tokens=4)
    assert backend.generate_json(messages, YES_NO, max_tokens=4).evaluated_prompt_tokens == 1


class _Watched:
    """A CancelToken that signals when the generation first polls it (a token has been sampled)."""

    def __init__(self) -> None:
        self.token = CancelToken()
        self.polled = threading.Event()

    def cancelled(self) -> bool:
        self.polled.set()
        return self.token.cancelled()

    def update(self, done: int, total: int, message: str) -> None:
        """Nothing to show."""


def test_cancel_from_another_thread_stops_generation(worker: LLMWorker) -> None:
    watched = _Watched()
    future = worker.generate_json(chat(DOCUMENT), LONG_STRING, max_tokens=300, cancel=watched)
    assert watched.polled.wait(timeout=60)
    threading.Thread(target=watched.token.cancel).start()
    with pytest.raises(Cancelled):
        future.result(timeout=60)
    # The model stays usable.
    after = worker.generate_json(chat(DOCUMENT), YES_NO, max_tokens=6).result(timeout=60)
    assert after.parsed in ("yes", "no")


def test_already_cancelled_call_does_not_start(backend: LlamaBackend) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        backend.generate_json(chat(DOCUMENT), YES_NO, max_tokens=6, cancel=token)


def test_calls_from_two_threads_run_one_at_a_time(worker: LLMWorker) -> None:
    spans: list[tuple[float, float, str]] = []

    def timed(document: str) -> Generation:
        start = time.perf_counter()
        generation = worker.backend.generate_json(chat(document), YES_NO, max_tokens=6)
        spans.append((start, time.perf_counter(), threading.current_thread().name))
        return generation

    futures = []

    def submit(prefix: str) -> None:
        futures.extend(worker.submit(timed, f"{prefix} {i}") for i in range(2))

    submitters = [threading.Thread(target=submit, args=(name,)) for name in ("uno", "dos")]
    for thread in submitters:
        thread.start()
    for thread in submitters:
        thread.join()
    results = [future.result(timeout=60) for future in futures]

    assert len(results) == len(spans) == 4 and all(result.parsed in ("yes", "no") for result in results)
    spans.sort()
    assert all(end <= next_start for (_, end, _), (next_start, _, _) in zip(spans, spans[1:]))
    assert {name for _, _, name in spans} == {spans[0][2]} and spans[0][2].startswith("icdlinker-llm")


def test_unload_frees_the_model_and_later_calls_fail_cleanly(gemma_gguf: Path) -> None:
    backend = LlamaBackend()
    backend.load(gemma_gguf, SETTINGS)
    assert backend.loaded and backend.model_path == gemma_gguf
    backend.unload()
    assert not backend.loaded and backend.model_path is None
    with pytest.raises(BackendError, match="No language model is loaded"):
        backend.generate_json(chat(DOCUMENT), YES_NO, max_tokens=4)
    with pytest.raises(BackendError):
        backend.tokenize("hipertensión")


def test_worker_shutdown_unloads_and_refuses_more_work(gemma_gguf: Path) -> None:
    worker = LLMWorker()
    worker.load(gemma_gguf, SETTINGS).result()
    assert worker.backend.loaded and worker.backend.tokenize("riñón")
    worker.shutdown()
    worker.shutdown()
    assert not worker.backend.loaded
    with pytest.raises(BackendError, match="unloaded while it was in use"):
        worker.submit(print)


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (None, ModelFileError),  # missing
        (bytes(range(256)) * 64, ModelFileError),  # not a GGUF at all
        (b"GGUF" + bytes(range(256)) * 64, ModelFileError),  # GGUF magic, damaged: refused before llama.cpp
    ],
    ids=["missing", "garbage", "damaged-gguf"],
)
def test_unloadable_file_raises_an_engine_error(tmp_path: Path, content: bytes | None, error: type) -> None:
    path = tmp_path / "x.gguf"
    if content is not None:
        path.write_bytes(content)
    backend = LlamaBackend()
    with pytest.raises(error) as raised:
        backend.load(path, SETTINGS)
    assert isinstance(raised.value, ModelError) and path.name in str(raised.value)
    assert not backend.loaded
