"""Testing a model on the coder's reviewed documents: real gemma GGUF, real pipeline, real review actions.

The reviewed documents are coded once per process with one pipeline (its fuzzy index takes seconds
to build), and the window's loaded model is one module-scoped stage, as the window holds one.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pytest

from engine.core.errors import BackendError, ReviewError
from engine.core.model import Document, DocumentResult, Mention
from engine.core.progress import Cancelled, CancelToken, Progress
from engine.evaluation.model_check import ModelCheck, ModelChecks, check_model, reviewed_gold
from engine.linking.llm.backend import BackendSettings
from engine.linking.llm.session import LLMStage, open_llm_stage
from engine.linking.pipeline import Pipeline
from engine.models import ModelStore
from engine.records.review import accept, change_code, reject
from tests.test_llm_cancel import CANCEL_BOUND_S, POLLS_IN_A_DECODE

TEXTS = (
    "Varón con neumonía basal derecha y dolor torácico atípico. Hipertensión arterial.",
    "Mujer con cefalea tensional crónica y lumbalgia mecánica. Diabetes mellitus tipo 2.",
)
PHRASES = (("neumonía basal derecha", "dolor torácico atípico", "Hipertensión arterial"),
           ("cefalea tensional crónica", "lumbalgia mecánica", "Diabetes mellitus tipo 2"))
BACKEND = BackendSettings(n_threads=1, n_ctx=4096)


@cache
def _pipeline() -> Pipeline:
    return Pipeline.bundled("es")


def _coded(index: int) -> DocumentResult:
    text = TEXTS[index]
    mentions = [Mention.from_spans(text, [(text.index(p), text.index(p) + len(p))]) for p in PHRASES[index]]
    return _pipeline().code(Document(f"d{index}", text, "es"), mentions)


@cache
def _reviewed() -> tuple[DocumentResult, ...]:
    catalog = _pipeline().catalog
    first = change_code(accept(accept(_coded(0), 1), 2), 0, "J18.1", catalog)
    second = reject(accept(accept(_coded(1), 0), 2), 1)
    unfinished = accept(_coded(0), 0)
    return first, second, unfinished


def reviewed_results() -> list[DocumentResult]:
    """Two documents reviewed to the end (one correction, one rejection), one left half-reviewed."""
    return list(_reviewed())  # frozen results: coded once, shared by every test


@pytest.fixture(scope="module")
def window_stage(gemma_gguf: Path) -> Iterator[LLMStage]:
    """The model the window holds (loaded as ``engine.coding.Coder`` loads it)."""
    stage = open_llm_stage(str(gemma_gguf), "es", _pipeline().catalog, BACKEND,
                           ModelStore(gemma_gguf.parent / "no-models", bundled_dir=gemma_gguf.parent / "none"))
    yield stage
    stage.close()


@pytest.fixture
def borrowed_stage(gemma_gguf: Path) -> Iterator[LLMStage]:
    """A window's model of its own (``window_stage`` stays loaded for the others), for a test that frees it."""
    stage = open_llm_stage(str(gemma_gguf), "es", _pipeline().catalog, BACKEND)
    yield stage
    stage.worker.shutdown()


def watch_decoding(stage: LLMStage) -> threading.Event:
    """Set once the model is inside a decode for one of ``stage``'s generations (its thread has
    polled the cancel that often): freeing the stage then cuts a generation under way."""
    decoding = threading.Event()
    generate = stage.linker.generate

    class Polled:
        def __init__(self, cancel: Progress | None) -> None:
            self.cancel, self.polls = cancel, 0

        def update(self, done: int, total: int, message: str) -> None:
            """Generations report nothing here."""

        def cancelled(self) -> bool:
            if threading.current_thread().name.startswith("icdlinker-llm"):
                self.polls += 1
                if self.polls >= POLLS_IN_A_DECODE:
                    decoding.set()
            return self.cancel is not None and self.cancel.cancelled()

    def spied(messages: list[dict[str, str]], schema: dict, max_tokens: int, cancel: Progress | None,
              on_text: Callable[[str], None] | None, on_prompt: object = None) -> object:
        return generate(messages, schema, max_tokens, Polled(cancel), on_text, on_prompt)  # type: ignore[arg-type]

    stage.linker.generate = spied  # type: ignore[assignment]
    return decoding


def kv_tokens(stage: LLMStage) -> int:
    """Tokens in the stage's KV cache, read on its worker thread: > 0 once the stage's model answered."""
    return stage.worker.submit(lambda: stage.worker.backend._llm.n_tokens).result()  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def own_check(gemma_gguf: Path, tmp_path_factory: pytest.TempPathFactory, window_stage: LLMStage) -> ModelCheck:
    """A test of another file (a copy of the window's model): it loads its own, and frees it."""
    folder = tmp_path_factory.mktemp("another-model")
    other = shutil.copyfile(gemma_gguf, folder / "other.gguf")
    store = ModelStore(folder / "models", bundled_dir=folder / "none")
    check = check_model(str(other), reviewed_results(), store=store, backend=BACKEND, loaded=window_stage)
    assert kv_tokens(window_stage) == 0 and window_stage.worker.backend.loaded  # the window's model untouched
    return check


def test_reviewed_decisions_are_the_gold() -> None:
    results = reviewed_results()
    gold = reviewed_gold(results)
    assert [g.document.id for g in gold] == ["d0", "d1"]  # the half-reviewed document is not gold
    assert gold[0].mentions[0].code == "J18.1"  # the correction, not the machine's proposal
    assert len(gold[1].mentions) == 2  # the rejected mention has no code to measure


def test_check_model_compares_it_with_the_fuzzy_ranking(own_check: ModelCheck, user_dirs: Path) -> None:
    check = own_check
    open_mentions = sum(not a.settled for g in reviewed_gold(reviewed_results())
                        for a in _pipeline().code(g.document, [m.mention for m in g.mentions]).assignments)
    assert check.model.endswith("other.gguf") and check.documents == 2
    assert check.asked == open_mentions > 0
    assert check.model_right <= check.asked and check.fuzzy_right <= check.either_right <= check.asked
    assert check.seconds_per_document > 0
    assert f"of {check.asked} mentions asked" in check.summary()

    checks = ModelChecks(user_dirs / "checks.json")
    checks.save(check)
    assert ModelChecks(user_dirs / "checks.json").get(check.model) == check


def test_a_test_of_the_loaded_file_asks_the_loaded_model(
    gemma_gguf: Path, tmp_path: Path, window_stage: LLMStage, own_check: ModelCheck
) -> None:
    """Issue 16: no second copy of the weights; the window's model answers, on its own worker thread,
    exactly as a copy would, and stays loaded (with its own linker's settings) for the window."""
    store = ModelStore(tmp_path / "models", bundled_dir=tmp_path / "none")
    store.import_file(gemma_gguf, copy=False, model_id="gemma")  # the id names the loaded file
    assert window_stage.serves("gemma", store) and window_stage.serves(str(gemma_gguf), store)
    assert not window_stage.serves(own_check.model, store) and not window_stage.serves("missing", store)
    margin = window_stage.linker.skip_margin
    check = check_model("gemma", reviewed_results(), store=store, backend=BACKEND, skip_margin=0.5,
                        loaded=window_stage)
    assert kv_tokens(window_stage) > 0  # the window's model read the prompts
    assert window_stage.worker.backend.loaded and window_stage.linker.skip_margin == margin
    assert check.model == "gemma"
    same = ("documents", "asked", "model_right", "fuzzy_right", "either_right")
    assert [getattr(check, f) for f in same] == [getattr(own_check, f) for f in same]


def test_check_model_says_what_is_missing_and_obeys_cancel(
    gemma_gguf: Path, user_dirs: Path, window_stage: LLMStage
) -> None:
    with pytest.raises(ReviewError, match="no reviewed document"):
        check_model(str(gemma_gguf), [reviewed_results()[2]], backend=BACKEND)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        check_model(str(gemma_gguf), reviewed_results(), token, backend=BACKEND)
    with pytest.raises(Cancelled):  # asking the window's model: it stays loaded for the window
        check_model(str(gemma_gguf), reviewed_results(), token, backend=BACKEND, loaded=window_stage)
    assert window_stage.worker.backend.loaded


def test_freeing_a_borrowed_model_does_not_wait_for_the_test(gemma_gguf: Path, borrowed_stage: LLMStage) -> None:
    """The window frees its model (closed, or another selected) while a model test asks it: ``close``
    returns at once (the UI thread never waits for a generation), the generation under way stops within
    the cancel bound, the test ends with the clear 'unloaded' error rather than a result that counts
    the documents it did not finish, and the model thread frees the model."""
    decoding = watch_decoding(borrowed_stage)
    outcome: list[BaseException | ModelCheck] = []

    def test() -> None:
        try:
            outcome.append(check_model(str(gemma_gguf), reviewed_results(), backend=BACKEND, loaded=borrowed_stage))
        except BaseException as error:  # noqa: BLE001 — handed to the test thread
            outcome.append(error)

    reviewed_results()  # coded once per process, before the clock starts
    thread = threading.Thread(target=test)
    thread.start()
    try:
        assert decoding.wait(timeout=60)
        started = time.perf_counter()
        freed = borrowed_stage.close()
        closing_s = time.perf_counter() - started
        thread.join(timeout=30)
        ended_s = time.perf_counter() - started
    finally:
        thread.join()
    assert closing_s < 0.5 and ended_s < CANCEL_BOUND_S, (closing_s, ended_s)  # close: 0.1 ms measured
    assert len(outcome) == 1 and isinstance(outcome[0], BackendError), outcome
    assert "unloaded while it was in use" in str(outcome[0])
    freed.result(timeout=CANCEL_BOUND_S)
    assert not borrowed_stage.worker.backend.loaded
    with pytest.raises(BackendError, match="unloaded"):
        borrowed_stage.worker.submit(print)
    print(f"\nclose: {closing_s * 1000:.1f} ms on the caller's thread; the test ended {ended_s * 1000:.0f} ms later")


def test_a_damaged_results_file_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / "model_checks.json"
    path.write_text('{"m": {"model": "m", "asked": "oops"', encoding="utf-8")
    checks = ModelChecks(path)
    assert checks.all() == {}
    check = ModelCheck("m", "2026-12-01T18:00:00+00:00", 3, 0, 0, 0, 0, 1.5)
    checks.save(check)
    assert checks.get("m") == check and "asked nothing" in check.summary()
