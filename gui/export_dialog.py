"""The export dialog: what to export (the current document or all) and how (CSV options or JSON).

The dialog only asks: it opens with the coder's last choices (kept in the settings; the full CSV
remembers its own "only accepted" choice, the registry and tumour presets theirs, ticked by default), and
``remembered`` gives the settings with the new choices.  ``export_session`` then asks where and
writes with ``engine.records.export`` in a ``BackgroundOp``, never touching the session; the full
CSV's provenance comes from the session database's audit rows, and the message says how many
codes the accepted-only rule left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import SessionError
from engine.records.audit_log import AuditLog
from engine.records.export import ExportOptions, ExportPreset, write_csv, write_json
from engine.records.session import ReviewSession, SessionDocument
from engine.records.session_db import SessionDatabase
from engine.records.settings import AppSettings
from gui.errors import show_error, show_info
from gui.worker import BackgroundOp, TaskState

__all__ = ["ExportChoice", "ExportDialog", "export_session"]

_PRESETS = {ExportPreset.FULL.value: "Full: every mention with its provenance",
            ExportPreset.REGISTRY.value: "Registry: one row per distinct code",
            ExportPreset.TUMOUR.value: "Tumour registry: one row per tumour (ICD-10, ICD-O-3 topography and "
                                       "morphology)"}
_DELIMITERS = {",": "Comma (,)", ";": "Semicolon (;) for European Excel", "\t": "Tab"}


@dataclass(frozen=True)
class ExportChoice:
    scope: Literal["current", "all"]  # JSON always exports the whole session: "all"
    format: Literal["csv", "json"]
    options: ExportOptions  # the CSV options (JSON ignores them)


class ExportDialog(QDialog):
    """Non-modal: connect ``accepted`` and read ``choice()``."""

    def __init__(self, parent: QWidget | None, settings: AppSettings, has_current: bool) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        defaults = settings.export_options()
        self._has_current = has_current
        # Each preset's "only accepted" choice, as last left (the checkbox shows the chosen preset's).
        self._only_accepted = {preset: settings.export_only_accepted_for(preset) for preset in ExportPreset}
        self.current = QRadioButton("The current document")
        self.all = QRadioButton("All documents")
        self.current.setEnabled(has_current)
        (self.current if has_current and settings.export_scope == "current" else self.all).setChecked(True)
        self.csv = QRadioButton("CSV")
        self.json = QRadioButton("JSON: the whole review session")
        (self.json if settings.export_format == "json" else self.csv).setChecked(True)
        for pair in ((self.current, self.all), (self.csv, self.json)):
            group = QButtonGroup(self)
            for button in pair:
                group.addButton(button)
        self.preset = _combo(_PRESETS, defaults.preset)
        self.only_accepted = QCheckBox("Only accepted and corrected codes")
        self.only_accepted.setChecked(defaults.accepted_only)
        self.only_accepted.toggled.connect(
            lambda ticked: self._only_accepted.__setitem__(ExportPreset(self.preset.currentData()), ticked))
        self.preset.currentIndexChanged.connect(
            lambda _: self.only_accepted.setChecked(self._only_accepted[ExportPreset(self.preset.currentData())]))
        self.excel_bom = QCheckBox("Start with a byte-order mark so Excel reads accents")
        self.excel_bom.setChecked(defaults.excel_bom)
        self.delimiter = _combo(_DELIMITERS, defaults.delimiter)
        self.json.toggled.connect(self._json_toggled)

        form = QFormLayout()
        form.addRow("Export", _column(self.current, self.all))
        form.addRow("Format", _column(self.csv, self.json))
        form.addRow("Columns", self.preset)
        form.addRow("", self.only_accepted)
        form.addRow("", self.excel_bom)
        form.addRow("Delimiter", self.delimiter)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self._json_toggled(self.json.isChecked())

    def choice(self) -> ExportChoice:
        json = self.json.isChecked()
        options = ExportOptions(ExportPreset(self.preset.currentData()), self.only_accepted.isChecked(),
                                self.excel_bom.isChecked(), self.delimiter.currentData())
        return ExportChoice("current" if self.current.isChecked() and not json else "all",
                            "json" if json else "csv", options)

    def remembered(self, settings: AppSettings) -> AppSettings:
        """``settings`` with this dialog's choices, for the next export."""
        choice = self.choice()
        # The registry and tumour presets share one remembered choice: the one last exported keeps it.
        registry = ExportPreset.TUMOUR if choice.options.preset is ExportPreset.TUMOUR else ExportPreset.REGISTRY
        return settings.with_changes(
            export_scope="current" if self.current.isChecked() else "all", export_format=choice.format,
            export_preset=choice.options.preset.value, export_excel_bom=choice.options.excel_bom,
            export_delimiter=choice.options.delimiter,
            export_only_accepted=self._only_accepted[ExportPreset.FULL],
            export_registry_only_accepted=self._only_accepted[registry],
        )

    def _json_toggled(self, json: bool) -> None:
        """A JSON export is the whole session: scope and CSV options do not apply."""
        for widget in (self.all, self.preset, self.only_accepted, self.excel_bom, self.delimiter):
            widget.setEnabled(not json)
        self.current.setEnabled(not json and self._has_current)


def export_session(parent: QWidget, session: ReviewSession, current: SessionDocument | None,
                   choice: ExportChoice, database: SessionDatabase | None = None) -> None:
    """Ask where, then write what ``choice`` says on a worker (``current``: the document shown;
    ``database``: where the audit rows for the provenance column are)."""
    current = current if choice.scope == "current" else None
    name = current.name.rsplit(".", 1)[0] if current else "icdlinker-export"
    kind = "CSV (*.csv)" if choice.format == "csv" else "JSON (*.json)"
    chosen, _ = QFileDialog.getSaveFileName(parent, "Export", f"{name}.{choice.format}", kind)
    if not chosen:
        return
    target = Path(chosen)
    if choice.format == "json":
        payload = session.to_dict()

        def write(_: TaskState) -> str:
            write_json(target, payload)
            return f"Exported the session to {target}."
    else:
        results = [d.result for d in ([current] if current else session) if d.result is not None]

        def write(_: TaskState) -> str:
            audit = AuditLog()
            if database is not None:
                try:
                    database.flush()  # the last decisions are in the audit rows read next
                except SessionError:
                    pass  # saving fails (shown already): what is on disk is all there is to read
                audit = AuditLog.read(database.path)
            summary = write_csv(target, results, choice.options, audit)
            left_out = (f" {summary.left_out_text().capitalize()} (untick “Only accepted and corrected codes” "
                        "to export them)." if summary.left_out else "")
            return f"Exported {summary.count(summary.rows)} to {target}.{left_out}"

    BackgroundOp(parent, write, success=lambda text: show_info(parent, text),
                 failure=lambda error: show_error(parent, error, "Export failed")).run()


def _combo(labels: dict[str, str], value: str) -> QComboBox:
    combo = QComboBox()
    for data, label in labels.items():
        combo.addItem(label, data)
    combo.setCurrentIndex(combo.findData(value))
    return combo


def _column(*buttons: QRadioButton) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    for button in buttons:
        layout.addWidget(button)
    return box
