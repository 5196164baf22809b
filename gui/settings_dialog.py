"""The settings dialog, built from ``AppSettings.describe()``: a new setting needs no GUI code.

Each setting gets the editor its type and constraints call for, with its
description as tooltip.  Choices and number ranges make most bad values
impossible to enter; free text is checked by the engine's own validation
(``AppSettings.with_changes``), and OK stays disabled while a value is invalid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from PySide6.QtCore import SignalInstance
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import EngineError
from engine.models import ModelStore
from engine.records.settings import AppSettings
from gui.errors import show_error

__all__ = ["SettingsDialog"]

_INT_LIMIT = 2**31 - 1  # QSpinBox holds a C int
_CHOICE_TEXT = {"\t": "Tab", "": "(none: dictionary only)"}
# What each setting is called in the dialog: a coder's words, not the setting's stored name
# (a setting not named here gets its stored name in words).
_LABELS = {
    "default_language": "Language when it cannot be detected",
    "fuzzy_threshold": "Lowest similarity of a near match",
    "nested_mentions": "Also code terms inside longer terms",
    "cross_lingual": "Also search other languages' terms",
    "code_morphology": "Also code ICD-O-3 morphology (tumour registries)",
    "model": "Language model",
    "gpu_layers": "Model layers on the graphics card",
    "threads": "Processor threads for the model",
    "context_size": "Longest text the model reads (tokens)",
    "export_preset": "Export columns",
    "export_only_accepted": "Export only accepted codes",
    "export_excel_bom": "Excel-compatible CSV",
    "export_delimiter": "CSV column separator",
    "coder": "Your name or initials",
}


@dataclass(frozen=True)
class _Editor:
    """One setting's widget, with how to read it, write it and hear it change."""

    widget: QWidget
    get: Callable[[], Any]
    set: Callable[[Any], None]
    changed: SignalInstance


class SettingsDialog(QDialog):
    """Edit a copy of the settings; after ``accepted``, ``result_settings()`` is the new value.

    ``store`` lists the installed models for the ``model`` setting (default: the user's store).
    """

    def __init__(
        self, parent: QWidget | None, settings: AppSettings, store: ModelStore | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._settings = settings
        self.editors: dict[str, _Editor] = {}
        form = QFormLayout()
        current = asdict(settings)
        for name, default, description, constraints in AppSettings.describe():
            if name == "model":
                constraints = {**constraints, "choices": _model_choices(self, store, settings.model)}
            editor = _editor(default, constraints)
            editor.set(current[name])
            editor.widget.setToolTip(description)
            editor.changed.connect(self._validate)
            form.addRow(_label(name), editor.widget)
            self.editors[name] = editor
        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        restore = self.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        restore.clicked.connect(self.restore_defaults)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem_label)
        layout.addWidget(self.buttons)
        self._validate()

    def result_settings(self) -> AppSettings:
        """The settings as edited; raises ValueError only while OK is disabled."""
        return self._settings.with_changes(**{name: editor.get() for name, editor in self.editors.items()})

    def restore_defaults(self) -> None:
        for name, default, _, _ in AppSettings.describe():
            self.editors[name].set(default)

    def _validate(self) -> None:
        try:
            self.result_settings()
        except ValueError as error:
            self.problem_label.setText(str(error))
            self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)
        else:
            self.problem_label.clear()
            self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(True)


def _editor(default: Any, constraints: dict[str, Any]) -> _Editor:
    """The editor for a setting of ``default``'s type and these constraints."""
    if "choices" in constraints:
        combo = QComboBox()
        for value in constraints["choices"]:
            combo.addItem(_CHOICE_TEXT.get(value, str(value)), value)
        return _Editor(combo, combo.currentData, lambda value: combo.setCurrentIndex(combo.findData(value)),
                       combo.currentIndexChanged)
    if isinstance(default, bool):
        box = QCheckBox()
        return _Editor(box, box.isChecked, box.setChecked, box.toggled)
    if isinstance(default, (int, float)):
        spin = QSpinBox() if isinstance(default, int) else QDoubleSpinBox()
        if isinstance(spin, QDoubleSpinBox):
            spin.setDecimals(2)
            spin.setSingleStep(0.05)
        spin.setRange(constraints.get("minimum", -_INT_LIMIT), constraints.get("maximum", _INT_LIMIT))
        return _Editor(spin, spin.value, spin.setValue, spin.valueChanged)
    line = QLineEdit()
    return _Editor(line, line.text, line.setText, line.textChanged)


def _model_choices(parent: QWidget, store: ModelStore | None, current: str) -> tuple[str, ...]:
    """"" (dictionary only), the installed models, and the current value if it is none of them (a path)."""
    try:
        installed = [m.id for m in (store or ModelStore()).list()]
    except EngineError as error:  # a damaged registry must not keep the coder out of the settings
        show_error(parent, error, "The installed models cannot be listed")
        installed = []
    return tuple(dict.fromkeys(["", *installed, current]))


def _label(name: str) -> str:
    return _LABELS.get(name) or name.replace("_", " ").capitalize().replace("Gpu", "GPU")
