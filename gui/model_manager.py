"""The model manager: the curated catalog and the installed models; download, import, select, remove,
and test a model on the coder's reviewed documents (``engine.evaluation.model_check``).

Everything slow (a download, an import, reading the selected model's header for
its memory estimate) runs through ``gui.worker.BackgroundOp``, and every error
reaches the coder through ``gui.errors.show_error`` in the engine's words.
Without a network only import is useful; a failed download says why.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import EngineError, ModelFileError
from engine.core.model import DocumentResult
from engine.core.progress import Progress
from engine.evaluation.model_check import ModelCheck, ModelChecks, check_model
from engine.linking.llm.backend import BackendSettings
from engine.linking.llm.session import LLMStage
from engine.models import (
    CatalogModel,
    InstalledModel,
    ModelStore,
    estimate_memory,
    load_model_catalog,
    read_gguf_info,
)
from engine.models.memory import available_ram_bytes
from gui.errors import show_error
from gui.worker import BackgroundOp

__all__ = ["ModelManagerDialog"]

_MB = 1000**2  # file sizes in decimal units, as the catalog and the hub's pages give them
_GB = 1024**3  # memory in binary units, as engine.models.memory words its messages
_BAR_STEPS = 1000  # QProgressBar holds an int: gigabytes of bytes would overflow it


class ModelManagerDialog(QDialog):
    """Non-modal: open it with ``show()``/``open()``; closing it cancels a running download or import.

    ``loaded`` says which model the window has loaded now (an id or a path), and
    ``loaded_stage`` gives that model itself: a test of the same file asks it instead of loading a copy.
    ``catalog`` and ``endpoint`` default to the bundled catalog and the real hub.
    """

    model_selected = Signal(str)  # the id of the model just selected

    def __init__(
        self,
        parent: QWidget | None,
        store: ModelStore,
        loaded: Callable[[], str | None] = lambda: None,
        *,
        catalog: list[CatalogModel] | None = None,
        endpoint: str | None = None,
        context_size: int = 8192,
        reviewed: Callable[[], list[DocumentResult]] = list,
        document_languages: Callable[[], set[str]] = set,
        checks: ModelChecks | None = None,
        backend: BackendSettings | None = None,
        skip_margin: float = 1.01,
        loaded_stage: Callable[[], LLMStage | None] = lambda: None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Language models")
        self._store = store
        self._loaded = loaded
        self._catalog = {m.id: m for m in (load_model_catalog() if catalog is None else catalog)}
        self._endpoint = endpoint
        self._context_size = context_size
        self._installed: dict[str, InstalledModel] = {}
        self._selected_id: str | None = None
        self._op: BackgroundOp[InstalledModel] | None = None  # the one download or import at a time
        # The session's reviewed results, taken on the UI thread when a test starts (gold: the decisions).
        self._reviewed = reviewed
        self._document_languages = document_languages
        self._checks = checks or ModelChecks()
        self._backend = backend or BackendSettings(n_ctx=context_size)
        self._skip_margin = skip_margin
        self._loaded_stage = loaded_stage
        self._test_op: BackgroundOp[ModelCheck] | None = None

        self.catalog_table = _table(["Name", "Size", "Quantisation", "RAM needed", "Licence", "Languages",
                                     "Installed"])
        self.installed_table = _table(["Id", "Size", "Architecture", "Context", "Source", "Languages",
                                       "Last test on my reviewed documents", "Selected"])
        self.download_button = QPushButton("Download")
        self.cancel_button = QPushButton("Cancel")
        self.import_button = QPushButton("Import .gguf…")
        self.select_button = QPushButton("Select")
        self.remove_button = QPushButton("Remove…")
        self.test_button = QPushButton("Test this model on my reviewed documents")
        self.test_button.setToolTip("Codes your reviewed documents again with this model and counts how often it, "
                                    "and the fuzzy ranking alone, chose the code you kept (category level).")
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, _BAR_STEPS)
        self.progress_bar.hide()
        self.status_label = QLabel()
        self.loaded_label = QLabel()
        self.memory_label = QLabel()
        self.languages_label = QLabel()
        self.test_label = QLabel()
        for label in (self.status_label, self.memory_label, self.languages_label, self.test_label):
            label.setWordWrap(True)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Recommended models (downloaded from the Hugging Face Hub):"))
        layout.addWidget(self.catalog_table)
        layout.addLayout(_row(self.download_button, self.cancel_button, self.progress_bar))
        layout.addWidget(self.status_label)
        layout.addWidget(QLabel("Installed models:"))
        layout.addWidget(self.installed_table)
        layout.addLayout(_row(self.import_button, self.select_button, self.remove_button, self.test_button))
        layout.addWidget(self.test_label)
        layout.addWidget(self.loaded_label)
        layout.addWidget(self.memory_label)
        layout.addWidget(self.languages_label)
        layout.addWidget(close)

        self.catalog_table.itemSelectionChanged.connect(self._update_buttons)
        self.installed_table.itemSelectionChanged.connect(self._update_buttons)
        self.download_button.clicked.connect(self._download)
        self.cancel_button.clicked.connect(self._cancel)
        self.import_button.clicked.connect(self._choose_file)
        self.select_button.clicked.connect(self._select)
        self.remove_button.clicked.connect(self._confirm_remove)
        self.test_button.clicked.connect(self._test)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the store: both tables, the buttons, and the selected model's memory estimate."""
        try:
            models, selected = self._store.list(), self._store.selected()
        except EngineError as error:  # a damaged registry: say so, show the catalog anyway
            show_error(self, error, "The installed models cannot be listed")
            models, selected = [], None
        self._installed = {m.id: m for m in models}
        self._selected_id = selected.id if selected else None
        _fill(self.catalog_table, [(m.id, _catalog_cells(m, m.id in self._installed), m.notes)
                                   for m in self._catalog.values()])
        checks = self._checks.all()
        _fill(self.installed_table, [
            (m.id, _installed_cells(m, self._languages(m), checks.get(m.id), m.id == self._selected_id), m.path)
            for m in models
        ])
        loaded = self._loaded()
        self.loaded_label.setText(f"Loaded now: {loaded}" if loaded else "No language model is loaded now.")
        self._estimate_memory(selected)
        self.languages_label.setText(self._language_warning(selected))
        self._update_buttons()

    def import_file(self, path: Path) -> None:
        """Validate ``path`` as GGUF and copy it into the store, in the background."""
        self._start(lambda state: self._store.import_file(path, progress=state), f"Importing {path.name}…",
                    "Import failed", "Import cancelled: nothing was installed.")

    def done(self, result: int) -> None:
        """Closing the manager cancels a running download (it resumes next time), import or test."""
        self._cancel()
        super().done(result)

    # --- download and import ---------------------------------------------------------

    def _download(self) -> None:
        model = self._catalog[_key(self.catalog_table) or ""]
        endpoint = self._endpoint
        self._start(lambda state: self._store.download(model, state, endpoint=endpoint),
                    f"Downloading {model.name}…", "Download failed",
                    "Download cancelled: it will resume from where it stopped next time.")

    def _choose_file(self) -> None:
        dialog = QFileDialog(self, "Import a GGUF model", "", "GGUF models (*.gguf);;All files (*)")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(lambda path: self.import_file(Path(path)))
        dialog.open()

    def _start(
        self, op: Callable[[Progress], InstalledModel], status: str, failed: str, cancelled: str
    ) -> None:
        self._op = BackgroundOp(
            self, op, success=self._installed_one, failure=partial(self._failed, failed),
            progress=self._show_progress, cancelled=partial(self.status_label.setText, cancelled),
        )
        self._op.finished.connect(self._idle)
        self.status_label.setText(status)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("")
        self.progress_bar.show()
        self._op.run()
        self._update_buttons()

    def _cancel(self) -> None:
        if self._op is not None and self._op.is_running():
            self._op.cancel()
            self.status_label.setText("Cancelling…")
        if self._test_op is not None and self._test_op.is_running():
            self._test_op.cancel()
            self.test_label.setText("Cancelling the test…")

    # --- test on reviewed documents ----------------------------------------------------

    def _test(self) -> None:
        model_id = _key(self.installed_table) or ""
        results, loaded = self._reviewed(), self._loaded_stage()
        store, backend, margin = self._store, self._backend, self._skip_margin
        self._test_op = BackgroundOp(
            self, lambda state: check_model(model_id, results, state, store, backend, margin, loaded),
            success=self._tested, failure=partial(self._test_failed, model_id),
            progress=self._test_progress, cancelled=partial(self.test_label.setText, "Test cancelled."),
        )
        self._test_op.finished.connect(self._test_idle)
        self.test_label.setText(f"Testing {model_id} on your reviewed documents…")
        self._test_op.run()
        self._update_buttons()

    def _test_progress(self, done: int, total: int, message: str) -> None:
        self.test_label.setText(f"Testing: {message} ({done} of {total} documents)")

    def _tested(self, check: ModelCheck) -> None:
        try:
            self._checks.save(check)
        except EngineError as error:
            show_error(self, error, "The test result could not be saved")
        self.test_label.setText(f"{check.model}: {check.summary()}.")

    def _test_failed(self, model_id: str, error: BaseException) -> None:
        self.test_label.setText(f"The test of {model_id} failed.")
        show_error(self, error, "The model could not be tested")

    def _test_idle(self) -> None:
        self._test_op = None
        self.refresh()

    # --- languages ---------------------------------------------------------------------

    def _languages(self, model: InstalledModel) -> tuple[str, ...] | None:
        """The catalog's languages for a downloaded catalog model; None for one imported from elsewhere."""
        entry = self._catalog.get(model.id)
        if entry is None:
            entry = next((m for m in self._catalog.values() if f"{m.repo_id}/{m.filename}" in model.source), None)
        return entry.languages if entry is not None else None

    def _language_warning(self, model: InstalledModel | None) -> str:
        """Which of the session's document languages the selected model does not list as supported."""
        wanted = self._document_languages()
        if model is None or not wanted:
            return ""
        languages = self._languages(model)
        if languages is None:
            return (f"The languages {model.id} supports are not known (imported, not from the catalog): "
                    "check its model card before using it on documents in " + ", ".join(sorted(wanted)) + ".")
        missing = sorted(wanted - set(languages))
        if not missing:
            return ""
        return (f"Warning: {model.id} does not list {', '.join(missing)} among its languages "
                f"({', '.join(languages)}); its answers for those documents may be poor.")

    def _show_progress(self, done: int, total: int, message: str) -> None:
        self.progress_bar.setValue(done * _BAR_STEPS // total if total else 0)
        self.progress_bar.setFormat(f"{done / _MB:,.1f} of {total / _MB:,.1f} MB")
        self.status_label.setText(f"{message[:1].upper()}{message[1:]}…")

    def _installed_one(self, model: InstalledModel) -> None:
        self.status_label.setText(f"Installed {model.id}.")

    def _failed(self, action: str, error: BaseException) -> None:
        self.status_label.setText(f"{action}.")
        show_error(self, error, action)

    def _idle(self) -> None:
        self._op = None
        self.progress_bar.hide()
        self.refresh()

    # --- select and remove -------------------------------------------------------------

    def _select(self) -> None:
        model_id = _key(self.installed_table) or ""
        try:
            self._store.select(model_id)
        except EngineError as error:
            show_error(self, error, "The model cannot be selected")
            return
        self.refresh()
        self.model_selected.emit(model_id)

    def _confirm_remove(self) -> None:
        model = self._installed[_key(self.installed_table) or ""]
        what = "and delete its file" if model.copied else f"(its file stays in {Path(model.path).parent})"
        box = QMessageBox(QMessageBox.Icon.Question, "Remove model", f"Remove {model.id} {what}?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.button(QMessageBox.StandardButton.Yes).clicked.connect(partial(self._remove, model.id))
        box.open()

    def _remove(self, model_id: str) -> None:
        try:
            self._store.remove(model_id)
        except EngineError as error:
            show_error(self, error, "The model cannot be removed")
        self.refresh()

    # --- state ---------------------------------------------------------------------------

    def _update_buttons(self) -> None:
        busy = self._op is not None
        wanted = _key(self.catalog_table)
        chosen = self._installed.get(_key(self.installed_table) or "")
        loaded = self._loaded()
        self.download_button.setEnabled(not busy and wanted is not None and wanted not in self._installed)
        self.import_button.setEnabled(not busy)
        self.select_button.setEnabled(chosen is not None and chosen.available)
        # The loaded model's file is in use (mapped by llama.cpp): select another one first.
        removable = chosen is not None and not chosen.bundled and loaded not in (chosen.id, chosen.path)
        self.remove_button.setEnabled(removable)
        testing = self._test_op is not None
        self.test_button.setEnabled(not testing and chosen is not None and chosen.available)
        self.cancel_button.setEnabled(busy or testing)

    def _estimate_memory(self, model: InstalledModel | None) -> None:
        if model is None:
            self.memory_label.setText("No model is selected: coding uses the dictionaries only.")
            return
        self.memory_label.setText(f"Estimating the memory {model.id} needs…")
        context = self._context_size
        BackgroundOp(self, lambda state: _memory_text(model, context),
                     success=partial(self._show_memory, model.id)).run()

    def _show_memory(self, model_id: str, text: str) -> None:
        if model_id == self._selected_id:  # not an answer for a model selected before
            self.memory_label.setText(text)


def _memory_text(model: InstalledModel, context: int) -> str:
    """On a worker thread: what the model needs at ``context`` tokens on the CPU, against the free memory."""
    try:
        info = read_gguf_info(model.file)
    except ModelFileError as error:
        return f"{model.id}: {error.message}"
    needed = estimate_memory(info, context, 0).ram_bytes
    text = f"{model.id} needs about {needed / _GB:.1f} GB of memory at a {context:,}-token context"
    available = available_ram_bytes()
    if available is None:
        return f"{text}; this computer does not say how much is free."
    verdict = "" if needed <= available else ": not enough, choose a smaller model or a shorter context"
    return f"{text}; {available / _GB:.1f} GB is free{verdict}."


def _catalog_cells(model: CatalogModel, installed: bool) -> list[str]:
    return [model.name, _size(model.size_bytes), model.quantization, f"{model.ram_gb:g} GB", model.licence,
            ", ".join(model.languages), "yes" if installed else "no"]


def _installed_cells(
    model: InstalledModel, languages: tuple[str, ...] | None, check: ModelCheck | None, selected: bool
) -> list[str]:
    name = model.id if model.available else f"{model.id} (file missing)"
    tested = check.summary() if check is not None else "not tested"
    return [name, _size(model.size_bytes), model.architecture, f"{model.context_length:,}", model.source,
            ", ".join(languages) if languages is not None else "unknown", tested, "✓" if selected else ""]


def _size(size_bytes: int) -> str:
    return f"{size_bytes / 1000**3:.2f} GB" if size_bytes >= 1000**3 else f"{size_bytes / _MB:,.1f} MB"


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
    table.verticalHeader().hide()
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _fill(table: QTableWidget, rows: list[tuple[str, list[str], str]]) -> None:
    """Rows of (key, cells, tooltip); the row whose key was selected stays selected."""
    kept = _key(table)
    with QSignalBlocker(table):
        table.clearSelection()
        table.setRowCount(len(rows))
        for row, (key, cells, tooltip) in enumerate(rows):
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(tooltip)
                if column == 0:
                    item.setData(Qt.ItemDataRole.UserRole, key)
                table.setItem(row, column, item)
            if key == kept:
                table.selectRow(row)
    table.resizeColumnsToContents()


def _key(table: QTableWidget) -> str | None:
    rows = table.selectionModel().selectedRows()
    item = table.item(rows[0].row(), 0) if rows else None
    return item.data(Qt.ItemDataRole.UserRole) if item else None


def _row(*widgets: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    for widget in widgets:
        row.addWidget(widget)
    return row
