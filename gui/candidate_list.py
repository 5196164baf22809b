"""The current mention's candidates, ranked as the stages rank them, each saying which score it has.

A click, or Enter on the current row, chooses a candidate: the window applies it through the
normal review path (``engine.records.review.choose_candidate``), so it is undoable and audited.
What is shown comes from ``engine.linking.explain``; this widget only lists it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem, QWidget

from engine.core.model import Assignment
from engine.linking.explain import explain

__all__ = ["CandidateList"]

_CODE = Qt.ItemDataRole.UserRole


class CandidateList(QTreeWidget):
    """Emits ``chosen(code)`` when the coder clicks a candidate or presses Enter on one."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(("Candidate", "Title", "Why"))
        self.setRootIsDecorated(False)
        self.setColumnWidth(0, 90)
        self.setColumnWidth(1, 220)
        self.setToolTip("Click a candidate (or press Enter on it) to choose it for this mention.")
        self.itemClicked.connect(lambda item, _column: self.chosen.emit(item.data(0, _CODE)))

    def show_assignment(self, assignment: Assignment | None) -> None:
        self.clear()
        if assignment is None:
            return
        for ranked in explain(assignment).candidates:
            candidate = ranked.candidate
            mark = "✓ " if ranked.chosen else ""
            item = QTreeWidgetItem((f"{mark}{candidate.code}", candidate.title, ranked.reason))
            item.setData(0, _CODE, candidate.code)
            item.setToolTip(1, candidate.title)
            item.setToolTip(2, ranked.reason)
            if ranked.chosen:
                font = item.font(0)
                font.setBold(True)
                item.setFont(0, font)
            self.addTopLevelItem(item)

    def codes(self) -> list[str]:
        """The candidates' codes, in the order shown."""
        return [self.topLevelItem(i).data(0, _CODE) for i in range(self.topLevelItemCount())]

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        item = self.currentItem()
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and item is not None:
            self.chosen.emit(item.data(0, _CODE))
            return
        super().keyPressEvent(event)
