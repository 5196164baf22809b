"""The model manager's "test this model on my reviewed documents": real gemma GGUF, real widgets offscreen."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from engine.evaluation.model_check import ModelChecks
from engine.linking.llm.session import LLMStage
from engine.models import CatalogModel, ModelStore
from gui.model_manager import ModelManagerDialog
from tests.test_model_check import BACKEND, kv_tokens, reviewed_results, window_stage  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("messages")
TESTED = 6  # the installed table's "Last test on my reviewed documents" column


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
