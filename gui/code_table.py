"""A document's results as tables: every mention, and the distinct codes.

The mention table groups nested mentions under the outer one ("infecciones
urinarias" under "infecciones urinarias de repetición").  While the model fills
in results one mention at a time, only the rows that changed are rewritten, so
the coder's selection and scroll position stay put.
"""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import QModelIndex, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from engine.model import Assignment, ReviewStatus
from engine.review import DONE_STATUSES
from gui.presentation import STATUS_LABELS, describe, fixed_widths, stage_color, stage_label, status_color

__all__ = ["CodeSummary", "MentionTable", "nesting"]

_INDEX = Qt.ItemDataRole.UserRole
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
MENTION_COLUMNS = ("Mention", "Code", "Title", "Ed.", "Stage", "Score", "Status")


def nesting(assignments: tuple[Assignment, ...]) -> list[tuple[int, int | None]]:
    """(index, outer index or None) in display order: each outer mention followed by those inside it."""
    order = sorted(range(len(assignments)),
                   key=lambda i: (assignments[i].mention.start, -assignments[i].mention.end, i))
    rows: list[tuple[int, int | None]] = []
    outer: int | None = None
    for index in order:
        mention = assignments[index].mention
        if outer is not None:
            around = assignments[outer].mention
            inside = around.start <= mention.start and mention.end <= around.end
            if inside and (mention.start, mention.end) != (around.start, around.end):
                rows.append((index, outer))
                continue
        outer = index
        rows.append((index, None))
    return rows


class MentionTable(QTreeWidget):
    """One row per assignment; ``mention_selected(index)`` when the coder picks a row."""

    mention_selected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(len(MENTION_COLUMNS))
        self.setHeaderLabels(MENTION_COLUMNS)
        self.setRootIsDecorated(True)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.header()
        header.setStretchLastSection(False)
        fixed_widths(header, {0: "enfermedad pulmonar", 1: "S31.40XA", 3: "Ed.", 4: "Dictionary", 5: "Score",
                              6: "needs review"})
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self._assignments: tuple[Assignment, ...] = ()
        self._structure: list[tuple[int, int | None]] = []
        self._items: dict[int, QTreeWidgetItem] = {}
        self._grouped = True
        self.currentItemChanged.connect(self._current_changed)

    def show_assignments(self, assignments: tuple[Assignment, ...]) -> None:
        """Show these results, rewriting only changed rows when the mentions are the same."""
        structure: list[tuple[int, int | None]] = (
            nesting(assignments) if self._grouped else [(i, None) for i in range(len(assignments))]
        )
        if structure == self._structure and len(assignments) == len(self._assignments):
            for index, (old, new) in enumerate(zip(self._assignments, assignments, strict=True)):
                if old != new:
                    _fill(self._items[index], new)
            self._assignments = assignments
            return
        current = self.current_index()
        self._assignments, self._structure = assignments, structure
        with QSignalBlocker(self):
            self.clear()
            self._items = {}
            for index, outer in structure:
                item = QTreeWidgetItem(self._items[outer]) if outer is not None else QTreeWidgetItem(self)
                item.setData(0, _INDEX, index)
                _fill(item, assignments[index])
                self._items[index] = item
            self.expandAll()
        if current is not None and current < len(assignments):
            self.select_mention(current)

    def set_grouped(self, grouped: bool) -> None:
        self._grouped = grouped
        self._structure = []
        self.show_assignments(self._assignments)

    def select_mention(self, index: int | None) -> None:
        """Make ``index`` the current row without emitting ``mention_selected``."""
        with QSignalBlocker(self):
            item = self._items.get(index) if index is not None else None
            if item is not None:
                self.setCurrentItem(item)
                self.scrollToItem(item)
            else:
                self.setCurrentIndex(QModelIndex())
                self.clearSelection()

    def current_index(self) -> int | None:
        item = self.currentItem()
        return item.data(0, _INDEX) if item is not None else None

    def neighbour(self, index: int | None, step: int) -> int | None:
        """The mention ``step`` rows after ``index`` in display order (the first or last when none)."""
        order = [i for i, _ in self._structure]
        if not order:
            return None
        if index is None or index not in order:
            return order[0] if step > 0 else order[-1]
        return order[max(0, min(len(order) - 1, order.index(index) + step))]

    def _current_changed(self, item: QTreeWidgetItem | None) -> None:
        if item is not None:
            self.mention_selected.emit(item.data(0, _INDEX))


def _fill(item: QTreeWidgetItem, a: Assignment) -> None:
    values = (a.mention.text, a.code or "—", a.title, a.edition.value.upper(), stage_label(a.stage),
              f"{a.score:.2f}", STATUS_LABELS[a.status])
    for column, value in enumerate(values):
        item.setText(column, value)
    item.setTextAlignment(5, _RIGHT)
    item.setBackground(4, QBrush(stage_color(a.stage)))
    item.setForeground(6, QBrush(status_color(a.status)))
    font = item.font(0)
    font.setStrikeOut(a.status is ReviewStatus.REJECTED)
    for column in range(len(values)):
        item.setFont(column, font)
    item.setToolTip(0, describe(a))


class CodeSummary(QTableWidget):
    """Distinct codes of the document: how many mentions each has and where review stands."""

    mention_selected = Signal(int)  # the first mention of the chosen code

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 4, parent)
        self.setHorizontalHeaderLabels(("Code", "Title", "Mentions", "Status"))
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        fixed_widths(self.horizontalHeader(), {0: "S31.40XA", 2: "Mentions", 3: "2 accepted, 1 needs review"})
        self.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self._first: list[int] = []  # each row's first mention
        self.cellClicked.connect(lambda row, _: self.mention_selected.emit(self._first[row]))

    def show_assignments(self, assignments: tuple[Assignment, ...]) -> None:
        groups: dict[str, list[int]] = {}
        for index, a in enumerate(assignments):
            if a.code:
                groups.setdefault(a.code, []).append(index)
        self.setRowCount(len(groups))
        self._first = [indices[0] for indices in groups.values()]
        for row, (code, indices) in enumerate(groups.items()):
            statuses = Counter(assignments[i].status for i in indices)
            cells = (code, assignments[indices[0]].title, str(len(indices)), _status_summary(statuses))
            items = [QTableWidgetItem(text) for text in cells]
            items[2].setTextAlignment(_RIGHT)
            items[3].setForeground(QBrush(_summary_color(statuses)))
            for column, item in enumerate(items):
                self.setItem(row, column, item)


def _status_summary(statuses: Counter[ReviewStatus]) -> str:
    return ", ".join(f"{n} {STATUS_LABELS[s]}" for s, n in sorted(statuses.items(), key=lambda kv: -kv[1]))


def _summary_color(statuses: Counter[ReviewStatus]) -> QColor:
    if statuses[ReviewStatus.NEEDS_REVIEW]:
        return status_color(ReviewStatus.NEEDS_REVIEW)
    if all(s in DONE_STATUSES for s in statuses):
        return status_color(ReviewStatus.REJECTED if set(statuses) == {ReviewStatus.REJECTED}
                            else ReviewStatus.ACCEPTED)
    return status_color(ReviewStatus.PENDING)
