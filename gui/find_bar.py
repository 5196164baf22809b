"""Find in the document text (Ctrl+F): a search field under the text with next and previous.

What is found is selected, so "Add mention" (M) takes it: a term the pipeline missed is
found and added without the mouse.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from gui.text_view import MentionTextView

__all__ = ["FindBar"]


class _Field(QLineEdit):
    """Enter finds the next place, Shift+Enter the previous one."""

    def __init__(self, bar: FindBar) -> None:
        super().__init__()
        self._bar = bar

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 — Qt's name
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._bar.find(backward=bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier))
            return
        super().keyPressEvent(event)


class FindBar(QWidget):
    def __init__(self, text: MentionTextView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = text
        self.field = _Field(self)
        self.field.setPlaceholderText("Find in the text (Ctrl+F)")
        self.field.setClearButtonEnabled(True)
        self.previous_button = QPushButton("Previous")
        self.previous_button.setToolTip("The place before (Shift+F3, or Shift+Enter in the field)")
        self.previous_button.clicked.connect(lambda: self.find(backward=True))
        self.next_button = QPushButton("Next")
        self.next_button.setToolTip("The next place (F3, or Enter in the field)")
        self.next_button.clicked.connect(lambda: self.find())
        self.status = QLabel()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.field, 1)
        layout.addWidget(self.previous_button)
        layout.addWidget(self.next_button)
        layout.addWidget(self.status)

    def start(self) -> None:
        """Ctrl+F: the field takes the keyboard, its words selected to be typed over."""
        self.field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.field.selectAll()

    def find(self, backward: bool = False) -> bool:
        words = self.field.text()
        found = self._text.find(words, backward)
        if found is None:
            self.status.setText("not found" if words.strip() else "")
            return False
        self.status.setText(f"{found[2]} of {found[3]}")
        return True
