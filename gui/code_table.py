"""A document's results as tables: every mention, and the distinct codes.

The mention table groups nested mentions under the outer one ("infecciones
urinarias" indented under "infecciones urinarias de repetición").  Both tables
are models the views ask for the rows on screen only, so a document with tens of
thousands of mentions shows at once; when results change (the model answering,
a review action) only the changed rows are announced, so the coder's selection
and scroll position stay put.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from itertools import compress
from operator import attrgetter, is_not

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QModelRoleDataSpan,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QShowEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from engine.core.codes import Edition
from engine.core.model import Assignment, ReviewStatus
from engine.records.review import DONE_STATUSES, is_open
from gui.mention_index import MentionIndex, nesting
from gui.presentation import (
    STAGE_LABELS,
    STATUS_LABELS,
    describe,
    fixed_widths,
    is_morphology_mention,
    stage_color,
    stage_label,
    status_color,
)
from gui.worker import ui_first

__all__ = ["MENTION_FILTERS", "CodeSummary", "MentionTable", "is_open", "nesting"]

_INDEX = Qt.ItemDataRole.UserRole  # the assignment a row shows
_OUTER = Qt.ItemDataRole.UserRole + 1  # its outer mention's index, None at the top level
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_INDENT = "    └ "
MENTION_COLUMNS = ("Mention", "Code", "Title", "Ed.", "Stage", "Score", "Status")
AnyIndex = QModelIndex | QPersistentModelIndex


Accepts = Callable[[Assignment], bool]


# What the mention table may be narrowed to: (label, which mentions it keeps; None = all).
MENTION_FILTERS: tuple[tuple[str, Accepts | None], ...] = (
    ("All mentions", None),
    ("Open only", is_open),
    ("Needs review", lambda a: a.status is ReviewStatus.NEEDS_REVIEW),
    *((f"Stage: {label}", lambda a, stage=stage: a.stage is stage) for stage, label in STAGE_LABELS.items()),
    ("ICD-10 only", lambda a: not is_morphology_mention(a)),
    ("ICD-O-3 only", is_morphology_mention),
)


def changed_indices(old: Sequence[Assignment], new: Sequence[Assignment]) -> list[int]:
    """Which assignments differ (same length); unchanged ones are the same objects after a review action."""
    return [i for i in compress(range(len(new)), map(is_not, old, new)) if old[i] != new[i]]


class _PythonTableModel(QAbstractTableModel):
    """A table model written in Python that paints a cell with one call into Python.

    A view paints a cell by asking for seven roles at once (``multiData``); Qt's default
    asks ``data()`` once per role, and each call from C++ into Python must take the GIL.
    During a coding run the worker holds it and hands it over only every switch interval,
    so those waits made one repaint of the mention table take over 100 ms; a paint also
    asks the worker to give way (``gui.worker.ui_first``).  Here a row's
    cells are worked out once (``_cells``) and kept until the row changes (``_forget``).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: dict[int, tuple[dict[int, object], ...]] = {}

    def _cells(self, row: int) -> tuple[dict[int, object], ...]:
        """Role → value for each cell of ``row``: what the view paints."""
        raise NotImplementedError

    def _cell(self, index: AnyIndex) -> dict[int, object]:
        row = index.row()
        cells = self._rows.get(row)
        if cells is None:
            cells = self._rows[row] = self._cells(row)
        return cells[index.column()]

    def _forget(self, rows: Iterable[int] | None = None) -> None:
        """These rows (all without ``rows``) changed: work their cells out again when next asked."""
        if rows is None:
            self._rows.clear()
        for row in rows or ():
            self._rows.pop(row, None)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        return self._cell(index).get(role)

    def multiData(self, index: AnyIndex, roleDataSpan: QModelRoleDataSpan) -> None:  # noqa: N802, N803 — Qt's names
        ui_first()  # a paint: a coding worker waits until it is done
        cell = self._cell(index)
        for role_data in roleDataSpan:
            role_data.setData(cell.get(role_data.role()))


class MentionModel(_PythonTableModel):
    """One row per assignment, in the index's grouped or text order."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.assignments: tuple[Assignment, ...] = ()
        self.mention_index = MentionIndex(())
        self.grouped = True
        self.language = ""  # the document's: it names the edition (CIE-10-ES for CM codes in Spanish)
        self._order: list[int] = []
        self._outer: list[int | None] = []
        self.changed: list[int] = []  # the assignments the last show() changed in place
        self._struck = QFont()
        self._struck.setStrikeOut(True)

    def show(self, assignments: tuple[Assignment, ...], index: MentionIndex, grouped: bool,
             language: str | None = None) -> bool:
        """Show these results; True if the rows were laid out anew (the mentions or the grouping changed)."""
        if language is not None and language != self.language:
            self.language = language
            self._forget()
        if index is self.mention_index and grouped == self.grouped:
            changed = self.changed = changed_indices(self.assignments, assignments)
            self.assignments = assignments
            if changed:
                rows = [index.row(i, grouped) for i in changed]
                self._forget(rows)
                last = len(MENTION_COLUMNS) - 1
                self.dataChanged.emit(self.index(min(rows), 0), self.index(max(rows), last))
            return False
        self.beginResetModel()
        self.assignments, self.mention_index, self.grouped = assignments, index, grouped
        self._order, self._outer = index.order(grouped), index.outer(grouped)
        self._forget()
        self.endResetModel()
        return True

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._order)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(MENTION_COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return MENTION_COLUMNS[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 0:  # on hover only: not kept
            return describe(self.assignments[self._order[index.row()]], self.language)
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 3:  # the column is sized for "CIE-10-ES"
            return self.assignments[self._order[index.row()]].edition.label_in(self.language)
        return super().data(index, role)

    def _cells(self, row: int) -> tuple[dict[int, object], ...]:
        a = self.assignments[self._order[row]]
        mention = _INDENT + a.mention.text if self._outer[row] is not None else a.mention.text
        texts = (mention, a.code or "—", a.title, a.edition.label_in(self.language), stage_label(a.stage),
                 f"{a.score:.2f}", STATUS_LABELS[a.status])
        common: dict[int, object] = {_INDEX: self._order[row], _OUTER: self._outer[row]}
        if a.status is ReviewStatus.REJECTED:
            common[Qt.ItemDataRole.FontRole] = self._struck
        cells = tuple({Qt.ItemDataRole.DisplayRole: text, **common} for text in texts)
        cells[4][Qt.ItemDataRole.BackgroundRole] = QBrush(stage_color(a.stage))
        cells[5][Qt.ItemDataRole.TextAlignmentRole] = _RIGHT
        cells[6][Qt.ItemDataRole.ForegroundRole] = QBrush(status_color(a.status))
        return cells


class MentionTable(QTableView):
    """One row per assignment; ``mention_selected(index)`` when the coder picks a row."""

    mention_selected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows = MentionModel(self)
        self.setModel(self.rows)
        _set_up(self)
        self.setAlternatingRowColors(True)
        header = self.horizontalHeader()
        header.setStretchLastSection(False)
        fixed_widths(header, {0: "enfermedad pulmonar", 1: "S31.40XA", 3: "CIE-10-ES", 4: "Dictionary", 5: "Score",
                              6: "needs review"})
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self._grouped = True
        self._selecting = False  # the window moves the current row: not the coder's choice
        self._accepts: Accepts | None = None  # the filter: which mentions are shown
        self._hidden: set[int] = set()  # rows the filter hides
        self.selectionModel().currentRowChanged.connect(self._current_changed)

    def show_assignments(self, assignments: tuple[Assignment, ...],
                         index: MentionIndex | None = None, language: str | None = None) -> None:
        """Show these results (``index``: their mentions' index, if the caller has it; ``language``: the
        document's), announcing only changed rows when the mentions are the same."""
        if index is None:
            index = MentionIndex.following(self.rows.mention_index, assignments)
        current = self.current_index()
        laid_out = self.rows.show(assignments, index, self._grouped, language)
        if laid_out:
            self._hidden = set()  # a reset shows every row again
        self._filter_rows(None if laid_out else self.rows.changed)
        if laid_out and current is not None and current < len(assignments):
            self.select_mention(current)

    def set_filter(self, accepts: Accepts | None) -> None:
        """Show only the mentions ``accepts`` takes (None: all); J and K move through those only."""
        self._accepts = accepts
        self._filter_rows(None)

    def shown(self, index: int) -> bool:
        return self._accepts is None or self._accepts(self.rows.assignments[index])

    def find(self, index: int | None, step: int, accepts: Accepts) -> int | None:
        """The first mention after ``index`` (``step`` 1) or before it (-1), in the order shown, that
        ``accepts`` takes and the filter shows; None if there is none."""
        order = self.rows.mention_index.order(self._grouped)
        assignments = self.rows.assignments
        row = self.row_of(index) if index is not None else (-1 if step > 0 else len(order))
        rows = range(row + 1, len(order)) if step > 0 else range(row - 1, -1, -1)
        return next((order[r] for r in rows if accepts(assignments[order[r]]) and self.shown(order[r])), None)

    def _filter_rows(self, indices: Iterable[int] | None) -> None:
        """Hide the rows the filter does not take: all of them, or only ``indices``'s (they changed)."""
        if self._accepts is None:
            for row in self._hidden:
                self.setRowHidden(row, False)
            self._hidden = set()
            return
        assignments = self.rows.assignments
        for i in range(len(assignments)) if indices is None else indices:
            row, hide = self.row_of(i), not self._accepts(assignments[i])
            if hide != (row in self._hidden):
                self.setRowHidden(row, hide)
                (self._hidden.add if hide else self._hidden.discard)(row)

    def set_grouped(self, grouped: bool) -> None:
        self._grouped = grouped
        self.show_assignments(self.rows.assignments, self.rows.mention_index)

    def select_mention(self, index: int | None) -> None:
        """Make ``index`` the current row without emitting ``mention_selected``."""
        selection = self.selectionModel()
        self._selecting = True
        try:
            if index is not None and 0 <= index < len(self.rows.assignments):
                cell = self.rows.index(self.row_of(index), 0)
                selection.setCurrentIndex(cell, QItemSelectionModel.SelectionFlag.ClearAndSelect
                                          | QItemSelectionModel.SelectionFlag.Rows)
                self.scrollTo(cell)
            else:
                selection.clear()
        finally:
            self._selecting = False

    def current_index(self) -> int | None:
        cell = self.currentIndex()
        return cell.data(_INDEX) if cell.isValid() else None

    def row_of(self, index: int) -> int:
        return self.rows.mention_index.row(index, self._grouped)

    def outer_of(self, index: int) -> int | None:
        """The mention ``index`` is grouped under, if any."""
        return self.rows.index(self.row_of(index), 0).data(_OUTER)

    def neighbour(self, index: int | None, step: int) -> int | None:
        """The mention ``step`` rows after ``index`` in display order (the first or last when none),
        among those the filter shows."""
        if self._accepts is None:
            return self.rows.mention_index.neighbour(index, step, self._grouped)
        found = self.find(index, step, self._accepts)
        if found is not None:
            return found
        if index is not None and index < len(self.rows.assignments) and self.shown(index):
            return index  # at the end: stay
        return self.find(None, step, self._accepts)

    def _current_changed(self, cell: QModelIndex) -> None:
        if cell.isValid() and not self._selecting:
            self.mention_selected.emit(cell.data(_INDEX))


class SummaryModel(_PythonTableModel):
    """Distinct codes in order of first mention; a review action moves one mention's count.

    ``morphology``: the ICD-O-3 codes only, else the ICD-10 ones (a tab per classification)."""

    COLUMNS = ("Code", "Title", "Mentions", "Status")

    def __init__(self, parent: QWidget | None = None, morphology: bool = False) -> None:
        super().__init__(parent)
        self.morphology = morphology
        self.assignments: tuple[Assignment, ...] = ()
        self.mentions = MentionIndex(())
        self._statuses: dict[str, Counter[ReviewStatus]] = {}  # code → how many mentions have each status
        self._first: dict[str, int] = {}  # code → its first mention
        self._codes: list[str] = []  # row → code

    def show(self, assignments: tuple[Assignment, ...], mentions: MentionIndex) -> None:
        if mentions is not self.mentions:
            self.beginResetModel()
            self.assignments, self.mentions = assignments, mentions
            self._count_all()
            self._forget()
            self.endResetModel()
            return
        changed = changed_indices(self.assignments, assignments)
        old, self.assignments = self.assignments, assignments
        self._recount(old, changed)
        codes = sorted(self._first, key=self._first.__getitem__)
        if codes != self._codes:
            self.beginResetModel()
            self._codes = codes
            self._forget()
            self.endResetModel()
            return
        rows = {codes.index(code) for i in changed for a in (old[i], assignments[i])
                if (code := self._code(a)) in self._first}
        self._forget(rows)
        for row in sorted(rows):
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.COLUMNS) - 1))

    def first(self, row: int) -> int:
        return self._first[self._codes[row]]

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._codes)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def _cells(self, row: int) -> tuple[dict[int, object], ...]:
        code = self._codes[row]
        statuses = self._statuses[code]
        texts = (code, self.assignments[self._first[code]].title, str(statuses.total()), _status_summary(statuses))
        cells = tuple({Qt.ItemDataRole.DisplayRole: text} for text in texts)
        cells[2][Qt.ItemDataRole.TextAlignmentRole] = _RIGHT
        cells[3][Qt.ItemDataRole.ForegroundRole] = QBrush(_summary_color(statuses))
        return cells

    def _code(self, assignment: Assignment) -> str | None:
        """The code this table counts for the assignment: None for the other classification's."""
        return assignment.code if is_morphology_mention(assignment) is self.morphology else None

    def _count_all(self) -> None:
        """Count (code, status) pairs and find each code's first mention, all in C: no step per mention."""
        codes = list(map(attrgetter("code"), self.assignments))
        if Edition.ICDO3 in set(map(attrgetter("edition"), self.assignments)):  # a step per mention only then
            codes = list(map(self._code, self.assignments))
        elif self.morphology:
            codes = [None] * len(codes)
        self._statuses = {}
        for (code, status), count in Counter(zip(codes, map(attrgetter("status"), self.assignments))).items():
            if code:
                self._statuses.setdefault(code, Counter())[status] = count
        # Read backwards, the last write for a code is its first mention.
        first = dict(zip(reversed(codes), range(len(codes) - 1, -1, -1)))
        self._first = {code: first[code] for code in self._statuses}
        self._codes = sorted(self._first, key=self._first.__getitem__)

    def _recount(self, old: tuple[Assignment, ...], changed: list[int]) -> None:
        """Mentions ``changed`` moved from ``old`` to ``self.assignments``: every count first, then the first
        mentions, so that several mentions of one code recoded at once ("apply to every occurrence", its undo)
        never look for a first mention among counts not moved yet."""
        moved = []
        for i in changed:
            before, after = self._code(old[i]), self._code(self.assignments[i])
            self._add(before, old[i].status, -1)
            self._add(after, self.assignments[i].status, 1)
            if before != after:
                moved.append((i, before, after))
        for i, _, new in moved:
            if new:
                self._first[new] = min(self._first.get(new, i), i)
        for i, gone, _ in moved:
            if gone and gone in self._first and not self._statuses[gone]:
                del self._statuses[gone], self._first[gone]
            elif gone and self._first.get(gone) == i:  # its first mention changed code
                self._first[gone] = next(j for j in range(i + 1, len(self.assignments))
                                         if self._code(self.assignments[j]) == gone)

    def _add(self, code: str | None, status: ReviewStatus, sign: int) -> None:
        if code:
            statuses = self._statuses.setdefault(code, Counter())
            statuses[status] += sign
            if not statuses[status]:
                del statuses[status]


class CodeSummary(QTableView):
    """Distinct codes of the document: how many mentions each has and where review stands."""

    mention_selected = Signal(int)  # the first mention of the chosen code

    def __init__(self, parent: QWidget | None = None, morphology: bool = False) -> None:
        super().__init__(parent)
        self.codes = SummaryModel(self, morphology)
        self.setModel(self.codes)
        _set_up(self)
        fixed_widths(self.horizontalHeader(), {0: "S31.40XA", 2: "Mentions", 3: "2 accepted, 1 needs review"})
        self.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.clicked.connect(lambda cell: self.mention_selected.emit(self.codes.first(cell.row())))
        self._pending: tuple[tuple[Assignment, ...], MentionIndex | None] | None = None

    def show_assignments(self, assignments: tuple[Assignment, ...],
                         index: MentionIndex | None = None) -> None:
        """Show these results' codes now if the table is on screen, else when it comes on screen."""
        self._pending = assignments, index
        if self.isVisible():
            self._show_pending()

    def showEvent(self, event: QShowEvent) -> None:
        self._show_pending()
        super().showEvent(event)

    def _show_pending(self) -> None:
        if self._pending is not None:
            assignments, index = self._pending
            self._pending = None
            self.codes.show(assignments, index or MentionIndex.following(self.codes.mentions, assignments))

    def cell(self, row: int, column: int) -> str:
        """The text a cell shows."""
        return self.codes.index(row, column).data()


def _set_up(view: QTableView) -> None:
    """Row-at-a-time tables with rows of one fixed height: the view never measures rows it does not show."""
    view.verticalHeader().hide()
    view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
    view.setShowGrid(False)
    view.setWordWrap(False)
    view.setTextElideMode(Qt.TextElideMode.ElideRight)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)


def _status_summary(statuses: Counter[ReviewStatus]) -> str:
    return ", ".join(f"{n} {STATUS_LABELS[s]}" for s, n in sorted(statuses.items(), key=lambda kv: -kv[1]))


def _summary_color(statuses: Counter[ReviewStatus]) -> QColor:
    if statuses[ReviewStatus.NEEDS_REVIEW]:
        return status_color(ReviewStatus.NEEDS_REVIEW)
    if all(s in DONE_STATUSES for s in statuses):
        return status_color(ReviewStatus.REJECTED if set(statuses) == {ReviewStatus.REJECTED}
                            else ReviewStatus.ACCEPTED)
    return status_color(ReviewStatus.PENDING)
