"""The model manager, settings and export dialogs: real widgets offscreen, a real store, a real local hub."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QLineEdit,
    QMessageBox,
    QSpinBox,
)
from pytestqt.qtbot import QtBot

from engine.core.errors import ModelDownloadError, ModelFileError
from engine.models import CatalogModel, ModelStore
from engine.records.export import ExportOptions, ExportPreset
from engine.records.settings import AppSettings
from gui import errors
from gui.export_dialog import ExportChoice, ExportDialog
from gui.model_manager import ModelManagerDialog
from gui.settings_dialog import SettingsDialog
from tests.hubserver import COMMIT, FILE, REPO, FakeHub, serve
from tests.test_gguf import F32, gguf_bytes

# Qt's offscreen platform warns whenever a shown window has a fixed size; a real display does not.
pytestmark = pytest.mark.usefixtures("messages")

MB = 1024**2
# A valid GGUF of about 3 MB: more than one 1 MiB download chunk, so progress shows mid-way.
BIG_GGUF = gguf_bytes(tensors=[("token_embd.weight", [64, 12288], F32)])


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "models", bundled_dir=tmp_path / "no-bundled-models")


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    """The hub holds the download after 1.5 MB until the test releases it."""
    with serve(BIG_GGUF) as fake:
        fake.hold_after = 3 * MB // 2
        yield fake


def _catalog(hub: FakeHub) -> list[CatalogModel]:
    """A catalog entry shaped like the bundled ones, for the file the fake hub serves."""
    return [CatalogModel(id="tiny", name="Tiny test model", repo_id=REPO, filename=FILE,
                         size_bytes=len(hub.content), quantization="Q8_0", licence="MIT", ram_gb=0.5,
                         languages=("en", "es"), notes="for tests")]


def _manager(
    qtbot: QtBot, store: ModelStore, hub: FakeHub | None = None, **kwargs: object
) -> ModelManagerDialog:
    if hub is not None:
        kwargs.update(catalog=_catalog(hub), endpoint=hub.endpoint)
    dialog = ModelManagerDialog(None, store, **kwargs)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _cells(dialog: ModelManagerDialog, table: str) -> list[list[str]]:
    widget = getattr(dialog, f"{table}_table")
    return [[widget.item(r, c).text() for c in range(widget.columnCount())] for r in range(widget.rowCount())]


def _start_download(qtbot: QtBot, dialog: ModelManagerDialog) -> None:
    """Download the only catalog model; return once its first megabyte shows (the hub holds the rest)."""
    dialog.catalog_table.selectRow(0)
    dialog.download_button.click()
    qtbot.waitUntil(lambda: 0 < dialog.progress_bar.value() < 1000)
    assert dialog.progress_bar.isVisible() and dialog.progress_bar.format() == "1.0 of 3.3 MB"
    assert dialog.status_label.text() == f"Downloading {FILE}…"
    assert dialog.cancel_button.isEnabled() and not dialog.download_button.isEnabled()
    assert not dialog.import_button.isEnabled()


def test_download_shows_progress_and_installs(qtbot: QtBot, store: ModelStore, hub: FakeHub) -> None:
    dialog = _manager(qtbot, store, hub)
    assert _cells(dialog, "catalog") == [
        ["Tiny test model", "3.3 MB", "Q8_0", "0.5 GB", "MIT", "en, es", "no"]
    ]
    assert _cells(dialog, "installed") == []
    _start_download(qtbot, dialog)
    hub.release.set()
    qtbot.waitUntil(lambda: dialog.status_label.text() == "Installed tiny.")
    assert store.get("tiny").sha256 == hub.sha256  # type: ignore[union-attr]
    assert _cells(dialog, "catalog")[0][-1] == "yes" and not dialog.download_button.isEnabled()
    source = f"download:{REPO}/{FILE}@{COMMIT}"
    assert _cells(dialog, "installed") == [["tiny", "3.3 MB", "llama", "2,048", source, "en, es", "not tested", ""]]
    assert not dialog.progress_bar.isVisible() and dialog.import_button.isEnabled()


def test_a_cancelled_download_leaves_nothing_and_resumes(
    qtbot: QtBot, store: ModelStore, hub: FakeHub
) -> None:
    dialog = _manager(qtbot, store, hub)
    _start_download(qtbot, dialog)
    dialog.cancel_button.click()
    hub.release.set()
    qtbot.waitUntil(lambda: "resume" in dialog.status_label.text())
    assert dialog.status_label.text() == "Download cancelled: it will resume from where it stopped next time."
    assert store.list() == [] and not list(store.root.glob("*.gguf"))
    assert [p.stat().st_size for p in (store.root / ".partial").iterdir()] == [MB]
    assert errors.shown == [] and dialog.download_button.isEnabled()


def test_closing_the_manager_cancels_its_download(qtbot: QtBot, store: ModelStore, hub: FakeHub) -> None:
    dialog = _manager(qtbot, store, hub)
    _start_download(qtbot, dialog)
    dialog.close()
    hub.release.set()
    qtbot.waitUntil(lambda: "resume" in dialog.status_label.text())
    assert store.list() == []


def test_a_failed_download_shows_the_engine_message(qtbot: QtBot, store: ModelStore) -> None:
    with socket.socket() as probe:  # a port nobody listens on: as good as no network
        probe.bind(("127.0.0.1", 0))
        dead = FakeHub(b"", port=probe.getsockname()[1])
    dialog = _manager(qtbot, store, dead)
    dialog.catalog_table.selectRow(0)
    dialog.download_button.click()
    qtbot.waitUntil(lambda: len(errors.shown) == 1)
    assert errors.shown[0].startswith("Download failed\n") and "cannot reach the server" in errors.shown[0]
    assert ModelDownloadError.code in errors.shown[0] and ModelDownloadError.hint in errors.shown[0]
    assert dialog.status_label.text() == "Download failed." and store.list() == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (gguf_bytes()[:-1], "tensor data is incomplete"),
        (b"notes from the ward\n", "text file"),
    ],
    ids=["zero-byte", "truncated", "not-gguf"],
)
def test_importing_a_bad_file_shows_the_engine_error(
    qtbot: QtBot, store: ModelStore, tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(content)
    dialog = _manager(qtbot, store)
    dialog.import_file(path)
    qtbot.waitUntil(lambda: len(errors.shown) == 1)
    assert errors.shown[0].startswith("Import failed\n") and expected in errors.shown[0]
    assert ModelFileError.code in errors.shown[0]
    assert store.list() == [] and _cells(dialog, "installed") == []


def test_importing_the_real_gemma_through_the_file_dialog(
    qtbot: QtBot, store: ModelStore, gemma_gguf: Path
) -> None:
    dialog = _manager(qtbot, store, context_size=4096)
    assert dialog.memory_label.text() == "No model is selected: coding uses the dictionaries only."
    dialog.import_button.click()
    [chooser] = dialog.findChildren(QFileDialog)
    chooser.selectFile(str(gemma_gguf))
    chooser.accept()
    qtbot.waitUntil(lambda: dialog.status_label.text().startswith("Installed"), timeout=60_000)
    [model] = store.list()
    assert dialog.status_label.text() == f"Installed {model.id}."
    size = f"{model.size_bytes / 1e6:.1f} MB"
    assert _cells(dialog, "installed")[0][:4] == [model.id, size, "gemma3", "32,768"]

    dialog.installed_table.selectRow(0)
    with qtbot.waitSignal(dialog.model_selected) as selected:
        dialog.select_button.click()
    assert selected.args == [model.id] and store.selected() == model
    assert _cells(dialog, "installed")[0][-1] == "✓"
    qtbot.waitUntil(lambda: "is free" in dialog.memory_label.text())
    estimate = f"{model.id} needs about 0.6 GB of memory at a 4,096-token context; "
    assert dialog.memory_label.text().startswith(estimate)


def test_select_and_remove_an_installed_model(qtbot: QtBot, store: ModelStore, tmp_path: Path) -> None:
    path = tmp_path / "tiny.gguf"
    path.write_bytes(gguf_bytes())
    store.import_file(path)
    loaded: list[str | None] = [None]
    dialog = _manager(qtbot, store, loaded=lambda: loaded[0])
    assert dialog.loaded_label.text() == "No language model is loaded now."
    assert not dialog.select_button.isEnabled() and not dialog.remove_button.isEnabled()
    dialog.installed_table.selectRow(0)
    with qtbot.waitSignal(dialog.model_selected, check_params_cb=lambda model_id: model_id == "tiny"):
        dialog.select_button.click()
    qtbot.waitUntil(lambda: "is free" in dialog.memory_label.text())

    loaded[0] = "tiny"
    dialog.refresh()
    assert dialog.loaded_label.text() == "Loaded now: tiny"
    assert not dialog.remove_button.isEnabled()  # its file is in use
    loaded[0] = None
    dialog.refresh()
    dialog.remove_button.click()
    [confirm] = dialog.findChildren(QMessageBox)
    assert confirm.text() == "Remove tiny and delete its file?"
    confirm.button(QMessageBox.StandardButton.Yes).click()
    assert store.list() == [] and _cells(dialog, "installed") == []
    assert dialog.memory_label.text() == "No model is selected: coding uses the dictionaries only."


# --- settings --------------------------------------------------------------------------

CHANGED = {  # a valid, non-default value for every setting
    "default_language": "de", "fuzzy_threshold": 0.55, "nested_mentions": True, "cross_lingual": False,
    "code_morphology": True, "model": "tiny",
    "cm_version": "2026", "gpu_layers": "12", "threads": 3, "context_size": 4096, "llm_skip_margin": 0.2,
    "export_preset": "registry",
    "export_only_accepted": True, "export_registry_only_accepted": False, "export_scope": "all",
    "export_format": "json", "export_excel_bom": False, "export_delimiter": "\t", "coder": "M. García",
}


@pytest.fixture
def tiny_store(store: ModelStore, tmp_path: Path) -> ModelStore:
    path = tmp_path / "tiny.gguf"
    path.write_bytes(gguf_bytes())
    store.import_file(path, copy=False)
    return store


def _settings_dialog(qtbot: QtBot, settings: AppSettings, store: ModelStore) -> SettingsDialog:
    dialog = SettingsDialog(None, settings, store)
    qtbot.addWidget(dialog)
    dialog.open()
    return dialog


def _ok(dialog: SettingsDialog) -> bool:
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()


def test_settings_round_trip_every_setting(qtbot: QtBot, tiny_store: ModelStore) -> None:
    assert set(CHANGED) == {name for name, *_ in AppSettings.describe()}
    assert AppSettings().default_language != "de"
    edited = AppSettings().with_changes(**CHANGED)
    assert _settings_dialog(qtbot, edited, tiny_store).result_settings() == edited

    dialog = _settings_dialog(qtbot, AppSettings(), tiny_store)
    for name, value in CHANGED.items():
        dialog.editors[name].set(value)
    with qtbot.waitSignal(dialog.accepted):
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert dialog.result_settings() == edited
    dialog.restore_defaults()
    assert dialog.result_settings() == AppSettings()


def test_settings_editors_follow_the_schema(qtbot: QtBot, tiny_store: ModelStore) -> None:
    dialog = _settings_dialog(qtbot, AppSettings(model="/data/other.gguf"), tiny_store)
    kinds = {name: type(editor.widget) for name, editor in dialog.editors.items()}
    assert kinds == {
        "default_language": QComboBox, "cm_version": QComboBox, "fuzzy_threshold": QDoubleSpinBox,
        "nested_mentions": QCheckBox, "cross_lingual": QCheckBox, "code_morphology": QCheckBox,
        "model": QComboBox, "gpu_layers": QLineEdit, "threads": QSpinBox, "context_size": QSpinBox,
        "llm_skip_margin": QDoubleSpinBox,
        "export_preset": QComboBox, "export_only_accepted": QCheckBox, "export_registry_only_accepted": QCheckBox,
        "export_scope": QComboBox, "export_format": QComboBox, "export_excel_bom": QCheckBox,
        "export_delimiter": QComboBox, "coder": QLineEdit,
    }
    model = dialog.editors["model"].widget
    assert [model.itemData(i) for i in range(model.count())] == ["", "tiny", "/data/other.gguf"]  # type: ignore[attr-defined]
    for name, _, description, _ in AppSettings.describe():
        assert dialog.editors[name].widget.toolTip() == description


def test_settings_accept_every_valid_value(qtbot: QtBot, tiny_store: ModelStore) -> None:
    dialog = _settings_dialog(qtbot, AppSettings(), tiny_store)
    for name, default, _, constraints in AppSettings.describe():
        if "choices" in constraints:
            values = list(constraints["choices"])
        elif isinstance(default, bool):
            values = [True, False]
        elif isinstance(default, (int, float)):
            values = [constraints["minimum"], default, constraints["maximum"]]
        elif name == "model":
            values = ["", "tiny"]
        else:
            values = ["auto", "0", "99"]
        for value in values:
            dialog.editors[name].set(value)
            assert _ok(dialog), (name, value)
            assert getattr(dialog.result_settings(), name) == value


def test_settings_refuse_invalid_values(qtbot: QtBot, tiny_store: ModelStore) -> None:
    dialog = _settings_dialog(qtbot, AppSettings(), tiny_store)
    threads = dialog.editors["threads"]
    threads.set(10_000)
    assert threads.get() == 256  # a spin box cannot go past the schema's maximum
    gpu_layers = dialog.editors["gpu_layers"].widget
    assert isinstance(gpu_layers, QLineEdit)
    qtbot.keyClicks(gpu_layers, "many")
    assert not _ok(dialog) and "gpu_layers must be 'auto' or a number" in dialog.problem_label.text()
    gpu_layers.setText("8")
    assert _ok(dialog) and dialog.problem_label.text() == "" and dialog.result_settings().gpu_layers == "8"


# --- export ----------------------------------------------------------------------------


def test_export_defaults_come_from_the_settings(qtbot: QtBot) -> None:
    settings = AppSettings(export_preset="registry", export_only_accepted=True, export_excel_bom=False,
                           export_delimiter=";")
    dialog = ExportDialog(None, settings, has_current=True)
    qtbot.addWidget(dialog)
    expected = ExportOptions(ExportPreset.REGISTRY, only_accepted=True, excel_bom=False, delimiter=";")
    assert dialog.choice() == ExportChoice("current", "csv", expected)


def test_export_returns_the_chosen_options(qtbot: QtBot) -> None:
    dialog = ExportDialog(None, AppSettings(), has_current=True)
    qtbot.addWidget(dialog)
    dialog.open()
    dialog.all.click()
    assert not dialog.only_accepted.isChecked()  # the full preset exports every status by default
    dialog.preset.setCurrentIndex(dialog.preset.findData("registry"))
    assert dialog.only_accepted.isChecked()  # a registry takes accepted codes by default
    dialog.only_accepted.click()
    dialog.excel_bom.click()
    dialog.delimiter.setCurrentIndex(dialog.delimiter.findData("\t"))
    with qtbot.waitSignal(dialog.accepted):
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    expected = ExportOptions(ExportPreset.REGISTRY, only_accepted=False, excel_bom=False, delimiter="\t")
    assert dialog.choice() == ExportChoice("all", "csv", expected)


def test_the_export_dialog_remembers_its_last_choices_per_preset(qtbot: QtBot, tmp_path: Path) -> None:
    """Chosen once, saved with the settings, and the next dialog (after a restart) opens with them."""
    first = ExportDialog(None, AppSettings(), has_current=True)
    qtbot.addWidget(first)
    first.all.click()
    first.only_accepted.click()  # full: only accepted, from now on
    first.preset.setCurrentIndex(first.preset.findData("registry"))
    first.only_accepted.click()  # registry: every status, from now on
    first.delimiter.setCurrentIndex(first.delimiter.findData(";"))
    first.excel_bom.click()
    path = tmp_path / "settings.json"
    first.remembered(AppSettings()).save(path)
    again = ExportDialog(None, AppSettings.load(path), has_current=True)
    qtbot.addWidget(again)
    expected = ExportOptions(ExportPreset.REGISTRY, only_accepted=False, excel_bom=False, delimiter=";")
    assert again.choice() == ExportChoice("all", "csv", expected) == first.choice()
    again.preset.setCurrentIndex(again.preset.findData("full"))
    assert again.only_accepted.isChecked()  # the full preset's own remembered choice
    again.json.click()
    again.remembered(AppSettings.load(path)).save(path)
    json_again = ExportDialog(None, AppSettings.load(path), has_current=True)
    qtbot.addWidget(json_again)
    assert json_again.json.isChecked() and not json_again.preset.isEnabled()


def test_json_exports_the_whole_session(qtbot: QtBot) -> None:
    dialog = ExportDialog(None, AppSettings(), has_current=False)
    qtbot.addWidget(dialog)
    assert not dialog.current.isEnabled() and dialog.choice().scope == "all"
    dialog.json.click()
    assert dialog.choice().format == "json" and dialog.choice().scope == "all"
    assert not any(w.isEnabled() for w in (dialog.all, dialog.preset, dialog.only_accepted, dialog.delimiter))
    dialog.csv.click()
    assert dialog.all.isEnabled() and dialog.delimiter.isEnabled() and not dialog.current.isEnabled()
