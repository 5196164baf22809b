"""The session's documents with where each stands: new, coding, coded, reviewed or error.

An unreadable document is one row in the error state, its message in the
tooltip; the others are unaffected.  Rows are updated one at a time as results
arrive, never rebuilt during a coding run.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from engine.records.review import open_count
from engine.records.session import SessionDocument
from gui.presentation import STATE_COLORS, fixed_widths

__all__ = ["DocumentList"]

_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_COLUMNS = ("Document", "Lang", "Status", "#", "Open")


class DocumentList(QTableWidget):
    """``current_changed(key)`` when the coder moves to another document ("" when none)."""

    current_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(_COLUMNS), parent)
        self.setHorizontalHeaderLabels(_COLUMNS)
        for column, tip in ((3, "Mentions found"), (4, "Mentions without a review decision")):
            self.horizontalHeaderItem(column).setToolTip(tip)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        fixed_widths(self.horizontalHeader(), {1: "Lang", 2: "reviewed", 3: "999", 4: "Open"})
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self._keys: list[str] = []  # the document of each row
        self._items: dict[str, list[QTableWidgetItem]] = {}
        self._shown: dict[str, tuple[str, ...]] = {}  # what each row shows: unchanged rows are not rewritten
        self.currentCellChanged.connect(lambda *_: self.current_changed.emit(self.current_key() or ""))

    def set_documents(self, documents: list[SessionDocument]) -> None:
        """Show exactly these documents, keeping the current one if it is still there.

        Documents added at the end or removed only add or remove their rows: with
        thousands of documents, rebuilding every row froze the window for half a second.
        """
        current = self.current_key()
        keys = [d.key for d in documents]
        with QSignalBlocker(self):
            kept = set(keys)
            if keys[: len(self._keys)] == self._keys:
                start = len(self._keys)
            elif len(kept) < len(self._keys) and [k for k in self._keys if k in kept] == keys:
                for row in reversed(range(len(self._keys))):
                    if self._keys[row] not in kept:
                        self.removeRow(row)
                        del self._items[self._keys[row]], self._shown[self._keys[row]]
                start = len(keys)
            else:
                start, self._items, self._shown = 0, {}, {}
            self._keys = keys
            self.setRowCount(len(documents))
            for row, document in enumerate(documents[start:], start):
                items = self._items[document.key] = [QTableWidgetItem() for _ in _COLUMNS]
                for column, item in enumerate(items):
                    if column >= 3:
                        item.setTextAlignment(_RIGHT)
                    self.setItem(row, column, item)
                self.update_document(document)
            if current in self._items:
                self.select_key(current)
        self.current_changed.emit(self.current_key() or "")

    def update_document(self, document: SessionDocument) -> None:
        items = self._items.get(document.key)
        result = document.result
        state = document.state
        cells = (
            document.name, document.language or "", state.value,
            str(len(result.assignments)) if result else "",
            str(open_count(result)) if result else "",
            document.error or document.source or document.key,
        )
        if items is None or self._shown.get(document.key) == cells:
            return
        self._shown[document.key] = cells
        for item, text in zip(items, cells[:-1], strict=True):
            item.setText(text)
            item.setToolTip(cells[-1])
        items[2].setForeground(QBrush(QColor(STATE_COLORS[state])))

    def current_key(self) -> str | None:
        row = self.currentRow()
        return self._keys[row] if 0 <= row < len(self._keys) else None

    def selected_keys(self) -> list[str]:
        return [self._keys[row] for row in sorted({index.row() for index in self.selectedIndexes()})]

    def select_key(self, key: str) -> None:
        if key in self._items:
            self.setCurrentCell(self._keys.index(key), 0)
