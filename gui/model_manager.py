"""The model manager: the curated catalog and the installed models; download, import, select, remove.

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
from engine.core.progress import Progress
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

    ``loaded`` says which model the window has loaded now (an id or a path).
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

        self.catalog_table = _table(["Name", "Size", "Quantisation", "RAM needed", "Licence", "Languages",
                                     "Installed"])
        self.installed_table = _table(["Id", "Size", "Architecture", "Context", "Source", "Selected"])
        self.download_button = QPushButton("Download")
        self.cancel_button = QPushButton("Cancel")
        self.import_button = QPushButton("Import .gguf…")
        self.select_button = QPushButton("Select")
        self.remove_button = QPushButton("Remove…")
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, _BAR_STEPS)
        self.progress_bar.hide()
        self.status_label = QLabel()
        self.loaded_label = QLabel()
        self.memory_label = QLabel()
        for label in (self.status_label, self.memory_label):
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
        layout.addLayout(_row(self.import_button, self.select_button, self.remove_button))
        layout.addWidget(self.loaded_label)
        layout.addWidget(self.memory_label)
        layout.addWidget(close)

        self.catalog_table.itemSelectionChanged.connect(self._update_buttons)
        self.installed_table.itemSelectionChanged.connect(self._update_buttons)
        self.download_button.clicked.connect(self._download)
        self.cancel_button.clicked.connect(self._cancel)
        self.import_button.clicked.connect(self._choose_file)
        self.select_button.clicked.connect(self._select)
        self.remove_button.clicked.connect(self._confirm_remove)
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
        _fill(self.installed_table, [(m.id, _installed_cells(m, m.id == self._selected_id), m.path)
                                     for m in models])
        loaded = self._loaded()
        self.loaded_label.setText(f"Loaded now: {loaded}" if loaded else "No language model is loaded now.")
        self._estimate_memory(selected)
        self._update_buttons()

    def import_file(self, path: Path) -> None:
        """Validate ``path`` as GGUF and copy it into the store, in the background."""
        self._start(lambda state: self._store.import_file(path, progress=state), f"Importing {path.name}…",
                    "Import failed", "Import cancelled: nothing was installed.")

    def done(self, result: int) -> None:
        """Closing the manager cancels a running download (it resumes next time) or import."""
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
        self.cancel_button.setEnabled(busy)
        self.import_button.setEnabled(not busy)
        self.select_button.setEnabled(chosen is not None and chosen.available)
        # The loaded model's file is in use (mapped by llama.cpp): select another one first.
        removable = chosen is not None and not chosen.bundled and loaded not in (chosen.id, chosen.path)
        self.remove_button.setEnabled(removable)

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


def _installed_cells(model: InstalledModel, selected: bool) -> list[str]:
    name = model.id if model.available else f"{model.id} (file missing)"
    return [name, _size(model.size_bytes), model.architecture, f"{model.context_length:,}", model.source,
            "✓" if selected else ""]


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
