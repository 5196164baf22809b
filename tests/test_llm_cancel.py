"""Cancel stops the real model within 1 s in every phase (loading it too), and the next call works.

A prompt of thousands of tokens takes seconds to evaluate on one thread, so a
cancel checked only between generated tokens would wait for all of it (113 s
with a 1.5B model).  Each test fires the cancel from another thread at a
known phase and measures the time until ``Cancelled`` reaches the caller.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.coding import Coder, CodingRequest
from engine.core.model import Document
from engine.core.progress import Cancelled, CancelToken
from engine.linking.llm.backend import BackendSettings, Generation
from engine.linking.llm.worker import LLMWorker
from engine.records.settings import AppSettings

CANCEL_BOUND_S = 1.0
SETTINGS = BackendSettings(n_ctx=4096, n_threads=1)  # one thread: see tests/test_llm_backend.py
CLINICAL = (
    "Paciente fumador de 60 años con inestabilidad de la marcha, hipertensión arterial y dolor torácico "
    "atípico de una semana. Refiere disnea de esfuerzo y prurito generalizado. "
)
LONG_CHAT = [
    {"role": "system", "content": "Eres un codificador clínico. Responde solo con JSON."},
    {"role": "user", "content": CLINICAL * 60},
]
TEXT: dict[str, Any] = {"type": "string", "minLength": 200}
YES_NO: dict[str, Any] = {"enum": ["yes", "no"]}
# llama.cpp polls the abort callback after every node of the compute graph (hundreds per decode);
# the call itself polls once before it starts.  This many polls: a decode is under way.
POLLS_IN_A_DECODE = 50


class _Timed:
    """A Progress whose cancel is fired from another thread and timed until ``Cancelled`` arrives."""

    def __init__(self) -> None:
        self.token = CancelToken()
        self.polls = 0
        self.decoding = threading.Event()
        self.fired_at = 0.0
        self.messages: list[str] = []
        self.reading = threading.Event()  # the coder said the model has read part of the document

    def cancelled(self) -> bool:
        if threading.current_thread().name.startswith("icdlinker-llm"):  # the model's polls only
            self.polls += 1
        if self.polls >= POLLS_IN_A_DECODE:
            self.decoding.set()
        return self.token.cancelled()

    def update(self, done: int, total: int, message: str) -> None:
        self.messages.append(message)
        if "reading the document" in message:
            self.reading.set()

    def fire(self) -> None:
        self.fired_at = time.perf_counter()
        self.token.cancel()

    def fire_from_another_thread(self) -> None:
        thread = threading.Thread(target=self.fire)
        thread.start()
        thread.join()


def cancelled_within_bound(timed: _Timed, future: Any) -> float:
    with pytest.raises(Cancelled):
        future.result(timeout=120)
    waited = time.perf_counter() - timed.fired_at
    assert waited <= CANCEL_BOUND_S, f"cancel took {waited:.2f} s"
    return waited


@pytest.fixture(scope="module")
def worker(gemma_gguf: Path) -> Iterator[LLMWorker]:
    with LLMWorker() as worker:
        worker.load(gemma_gguf, SETTINGS).result()
        yield worker


def test_cancel_stops_prompt_evaluation_and_generation_within_a_second(worker: LLMWorker) -> None:
    prompt_tokens = len(worker.submit(worker.backend.prompt_tokens, LONG_CHAT).result())
    assert prompt_tokens > 2000
    worker.submit(worker.backend.reset).result()
    texts: list[str] = []

    def generate(timed: _Timed | None, schema: dict[str, Any], max_tokens: int) -> Any:
        return worker.generate_json(LONG_CHAT, schema, max_tokens, timed, on_text=texts.append)

    # 1. At the very start of the prompt's first batch.
    timed = _Timed()
    future = generate(timed, TEXT, 40)
    assert timed.decoding.wait(timeout=60)
    timed.fire_from_another_thread()
    waits = [cancelled_within_bound(timed, future)]
    assert not texts

    # 2. Seconds into evaluating the prompt: one batch (one llama_decode) is done and kept.
    timed = _Timed()
    future = generate(timed, TEXT, 40)
    assert timed.decoding.wait(timeout=60)
    deadline = time.perf_counter() + 60
    while worker.backend._llm.n_tokens < SETTINGS.n_batch and time.perf_counter() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # into the next batch
    timed.fire_from_another_thread()
    waits.append(cancelled_within_bound(timed, future))
    assert not texts
    kept = worker.backend._llm.n_tokens
    assert kept > 0 and kept % SETTINGS.n_batch == 0 and kept < prompt_tokens

    # The next call resumes from the kept prefix: the KV cache claimed no token it had not finished.
    resumed: Generation = generate(None, YES_NO, 4).result(timeout=120)
    assert resumed.parsed in ("yes", "no") and resumed.evaluated_prompt_tokens == prompt_tokens - kept

    # 3. While generating: the cancel comes as the first words of the answer arrive.
    timed = _Timed()
    first_words = threading.Event()
    future = worker.generate_json(LONG_CHAT, TEXT, 40, timed, on_text=lambda _: first_words.set())
    assert first_words.wait(timeout=120)
    timed.fire_from_another_thread()
    waits.append(cancelled_within_bound(timed, future))

    # Consistent afterwards: the warm call (prompt cached, one token decoded again) answers as a cold one.
    warm: Generation = generate(None, TEXT, 12).result(timeout=120)
    worker.submit(worker.backend.reset).result()
    cold: Generation = generate(None, TEXT, 12).result(timeout=120)
    assert warm.evaluated_prompt_tokens == 1 and cold.evaluated_prompt_tokens == prompt_tokens
    assert warm.text == cold.text and warm.completion_tokens == 12
    print(f"\ncancel → Cancelled on a {prompt_tokens}-token prompt: "
          + ", ".join(f"{wait * 1000:.0f} ms" for wait in waits))


def test_the_coder_stops_a_document_within_a_second_while_the_model_reads_it(
    gemma_gguf: Path, user_dirs: Path
) -> None:
    """The window's path: Coder → pipeline → linker → worker; Cancelled comes out of ``Coder.code``."""
    coder = Coder(AppSettings().with_changes(model=str(gemma_gguf), threads=1, context_size=8192))
    document = Document("largo", CLINICAL * 12, "es")
    timed = _Timed()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            coder.code([CodingRequest("largo", document, "es")], timed, lambda event: None)
        except BaseException as error:  # noqa: BLE001 — handed to the test thread
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert timed.reading.wait(timeout=120)  # a batch of the prompt is read: the status line says so
        timed.fire_from_another_thread()
        thread.join(timeout=60)
        waited = time.perf_counter() - timed.fired_at
        assert not thread.is_alive() and len(errors) == 1 and isinstance(errors[0], Cancelled), errors
        assert waited <= CANCEL_BOUND_S, f"cancel took {waited:.2f} s"
    finally:
        thread.join(timeout=120)
        coder.close()
    loading = [m for m in timed.messages if m.startswith("loading model")]
    reading = [m for m in timed.messages if "reading the document" in m]
    assert loading[-1].endswith("100%") and reading  # both phases showed their progress
    assert reading[0] != reading[-1] or len(reading) == 1


def test_cancel_stops_loading_the_model_within_a_second(gemma_gguf: Path) -> None:
    """llama.cpp's load-progress callback aborts the load itself (the model thread is free at
    once, nothing stays loaded), and the next load, without a cancel, works."""
    timed = _Timed()
    fractions: list[float] = []

    def on_load(fraction: float) -> None:
        fractions.append(fraction)
        if fraction > 0 and not timed.fired_at:
            timed.fire_from_another_thread()

    with LLMWorker() as worker:
        waited = cancelled_within_bound(timed, worker.load(gemma_gguf, SETTINGS, timed, on_load))
        assert not worker.backend.loaded and fractions[-1] < 1.0
        worker.load(gemma_gguf, SETTINGS).result(timeout=120)
        assert worker.backend.loaded
    print(f"\ncancel → Cancelled while loading the model: {waited * 1000:.0f} ms, "
          f"stopped at {fractions[-1]:.0%} of its tensors")


@pytest.mark.parametrize("phase", ["at the start of the load", "while llama.cpp loads"])
def test_the_coder_stops_within_a_second_while_the_model_loads(
    gemma_gguf: Path, user_dirs: Path, phase: str
) -> None:
    """Whatever the load is doing (hashing the file, checking its template, reading tensors),
    ``Coder.code`` raises Cancelled within the bound, and the next run loads the model."""
    settings = AppSettings().with_changes(model=str(gemma_gguf), threads=1, context_size=2048)
    coder = Coder(settings)
    document = Document("corto", CLINICAL, "es")
    fired = threading.Event()

    class FireAtLoad(_Timed):
        def update(self, done: int, total: int, message: str) -> None:
            super().update(done, total, message)
            started = message.startswith("loading model")
            if started and (phase.startswith("at the start") or message.endswith("%")) and not fired.is_set():
                fired.set()
                self.fire_from_another_thread()

    timed = FireAtLoad()
    try:
        with pytest.raises(Cancelled):
            coder.code([CodingRequest("corto", document, "es")], timed, lambda event: None)
        waited = time.perf_counter() - timed.fired_at
        assert fired.is_set() and waited <= CANCEL_BOUND_S, f"cancel took {waited:.2f} s"
        events = []
        coder.code([CodingRequest("corto", document, "es")], CancelToken(), events.append)
        assert events[-1].final and coder.model_loaded
    finally:
        coder.close()
