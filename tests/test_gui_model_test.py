"""The model manager's "test this model on my reviewed documents": real gemma GGUF, real widgets offscreen."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from engine.evaluation.model_check import ModelChecks
from engine.linking.llm.session import LLMStage
from engine.models import CatalogModel, ModelStore
from engine.records.session import ReviewSession, SessionDocument
from engine.records.settings import AppSettings
from gui.main_window import MainWindow
from gui.model_manager import ModelManagerDialog
from tests.test_llm_cancel import CANCEL_BOUND_S
from tests.test_model_check import (  # noqa: F401 (borrowed_stage and window_stage are fixtures)
    BACKEND,
    borrowed_stage,
    kv_tokens,
    reviewed_results,
    watch_decoding,
    window_stage,
)

pytestmark = pytest.mark.usefixtures("messages")
TESTED = 6  # the installed table's "Last test on my reviewed documents" column
UI_BOUND_S = 1.0  # generous: the UI thread must only start the model's freeing, never wait for it
ENDED_MS = 5_000  # then the test ends: its generation stops within a decode node, in ms


def _dialog(qtbot: QtBot, store: ModelStore, checks: ModelChecks, **kwargs: object) -> ModelManagerDialog:
    results = reviewed_results()
    dialog = ModelManagerDialog(None, store, reviewed=lambda: results, checks=checks, backend=BACKEND,
                                **kwargs)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.installed_table.selectRow(0)
    return dialog


@pytest.fixture
def store(tmp_path: Path, gemma_gguf: Path) -> ModelStore:
    store = ModelStore(tmp_path / "models", bundled_dir=tmp_path / "no-bundled-models")
    store.import_file(gemma_gguf, copy=False, model_id="gemma")
    return store


def test_the_test_runs_in_the_background_and_is_shown_next_time(
    qtbot: QtBot, store: ModelStore, tmp_path: Path, window_stage: LLMStage
) -> None:
    """With the window's model loaded, the test of that model asks it (no second copy of the weights)."""
    checks = ModelChecks(tmp_path / "model_checks.json")
    dialog = _dialog(qtbot, store, checks, loaded_stage=lambda: window_stage)
    assert dialog.installed_table.item(0, TESTED).text() == "not tested"
    dialog.test_button.click()
    assert not dialog.test_button.isEnabled() and dialog.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: "reviewed documents:" in dialog.test_label.text(), timeout=300_000)
    check = checks.get("gemma")
    assert check is not None and check.documents == 2 and check.asked > 0
    assert kv_tokens(window_stage) > 0 and window_stage.worker.backend.loaded  # the window's model answered
    assert dialog.test_label.text() == f"gemma: {check.summary()}."
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled())
    assert dialog.installed_table.item(0, TESTED).text() == check.summary()

    again = _dialog(qtbot, store, ModelChecks(tmp_path / "model_checks.json"))
    assert again.installed_table.item(0, TESTED).text() == check.summary()


def test_the_test_can_be_cancelled(qtbot: QtBot, store: ModelStore, tmp_path: Path) -> None:
    checks = ModelChecks(tmp_path / "model_checks.json")
    dialog = _dialog(qtbot, store, checks)
    dialog.test_button.click()
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: dialog.test_label.text() == "Test cancelled.", timeout=60_000)
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled())
    assert checks.all() == {}


def test_languages_shown_and_a_missing_one_warned(qtbot: QtBot, store: ModelStore, tmp_path: Path) -> None:
    listed = CatalogModel(id="gemma", name="Gemma", repo_id="r/x", filename="x.gguf", size_bytes=1,
                          quantization="Q4_K_M", licence="Gemma Terms of Use", ram_gb=1.0,
                          languages=("en", "es"), notes="")
    checks = ModelChecks(tmp_path / "model_checks.json")
    dialog = _dialog(qtbot, store, checks, catalog=[listed], document_languages=lambda: {"es", "el"})
    store.select("gemma")
    dialog.refresh()
    assert dialog.installed_table.item(0, 5).text() == "en, es"
    assert dialog.languages_label.text() == (
        "Warning: gemma does not list el among its languages (en, es); its answers for those documents may be poor."
    )
    unknown = _dialog(qtbot, store, checks, catalog=[], document_languages=lambda: {"es"})
    assert unknown.installed_table.item(0, 5).text() == "unknown"
    assert "are not known" in unknown.languages_label.text()


@pytest.fixture
def window(qtbot: QtBot, store: ModelStore, request: pytest.FixtureRequest,
           monkeypatch: pytest.MonkeyPatch) -> MainWindow:
    """A window on the reviewed documents with its model loaded (``borrowed_stage``), as its first
    coding run with the model leaves it."""
    session = ReviewSession([SessionDocument(r.document.id, None, "es", result=r) for r in reviewed_results()])
    created = MainWindow(session, AppSettings().with_changes(model="gemma", threads=1, context_size=BACKEND.n_ctx),
                         store=store)
    qtbot.addWidget(created)
    monkeypatch.setattr(created.coding.coder, "_stage", request.getfixturevalue("borrowed_stage"))
    return created


def _testing_the_loaded_model(qtbot: QtBot, window: MainWindow, stage: LLMStage) -> ModelManagerDialog:
    """The window's Models dialog testing the loaded model, which is inside a decode for the test."""
    decoding = watch_decoding(stage)
    window.manage_models()
    dialog = window.dialog
    assert isinstance(dialog, ModelManagerDialog)
    dialog.installed_table.selectRow(0)
    dialog.test_button.click()
    qtbot.waitUntil(decoding.is_set, timeout=60_000)
    return dialog


def _seconds(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def test_selecting_another_model_during_a_test_of_the_loaded_one_does_not_freeze_the_window(
    qtbot: QtBot, window: MainWindow, messages: list[str]
) -> None:
    """The window frees the model the test asks (the next run loads the one selected): that returns at
    once, the test ends with the clear 'unloaded' error and saves nothing, and the model is freed."""
    stage = window.coding.coder.stage
    assert stage is not None
    dialog = _testing_the_loaded_model(qtbot, window, stage)
    blocked = _seconds(lambda: dialog.model_selected.emit("another-model"))
    assert blocked < UI_BOUND_S, f"the window froze {blocked:.2f} s"
    assert window.coding.coder.stage is None and window.coding.coder.settings.model == "another-model"
    qtbot.waitUntil(dialog.test_button.isEnabled, timeout=ENDED_MS)
    assert dialog.test_label.text() == "The test of gemma failed."
    assert len(messages) == 1 and "The language model was unloaded while it was in use." in messages[0], messages
    assert ModelChecks().all() == {}  # a test cut short would understate the model
    stage.close().result(timeout=CANCEL_BOUND_S)  # idempotent: the freeing already under way
    assert not stage.worker.backend.loaded


def test_closing_the_window_during_a_test_of_its_model_does_not_hang(
    qtbot: QtBot, window: MainWindow, messages: list[str]
) -> None:
    """Closing the window closes the Models dialog first, which cancels its test: the test ends cancelled
    (no message), the window's close returns at once, and the model is freed."""
    stage = window.coding.coder.stage
    assert stage is not None
    dialog = _testing_the_loaded_model(qtbot, window, stage)
    test = dialog._test_op
    assert test is not None
    with qtbot.waitSignal(test.finished, timeout=ENDED_MS):
        blocked = _seconds(window.close)
        assert blocked < UI_BOUND_S, f"the window froze {blocked:.2f} s closing"
        assert not dialog.isVisible() and window.coding.coder.stage is None
    assert messages == [] and ModelChecks().all() == {}
    stage.close().result(timeout=CANCEL_BOUND_S)
    assert not stage.worker.backend.loaded
