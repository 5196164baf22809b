"""The worklist: the session's documents with where each stands, sortable, filtered by queue and searchable.

Rows live in a ``QStandardItemModel`` in the order the coder opened them; a
``QSortFilterProxyModel`` sorts (by the header) and filters (queue, language,
search box) without touching them.  Rows are updated one at a time as results
arrive, never rebuilt during a coding run: the proxy then re-sorts and
re-filters only that row.  An unreadable document is one row in the error
state, its message in the status cell's tooltip.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from PySide6.QtCore import (
    QItemSelectionModel,
    QRegularExpression,
    QSignalBlocker,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from engine.records.review import open_count
from engine.records.session import DocumentState, SessionDocument
from engine.terms.dictionary import LANGUAGES
from gui.presentation import STATE_COLORS, fixed_widths

__all__ = ["QUEUES", "DocumentList", "Queue"]

_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_COLUMNS = ("Document", "Lang", "Status", "#", "Open")
_KEY = Qt.ItemDataRole.UserRole  # on the name cell: the document's number (a key may not survive as QString)
_SORT = Qt.ItemDataRole.UserRole + 1  # what a column sorts by (numbers as numbers)
_FILTER = Qt.ItemDataRole.UserRole + 2  # on the name cell: what the filters match (``_Row.facets``)
_STATE_ORDER = {state: n for n, state in enumerate(DocumentState)}


class _Keep(Enum):
    """``set_filter``'s language left as it is."""

    KEEP = 0


@dataclass(frozen=True, slots=True)
class _Row:
    """What the filters look at for one document."""

    state: DocumentState
    open: int
    language: str  # "" when not known (not read yet, unreadable)
    searched: str  # name and path, casefolded

    def facets(self) -> str:
        """The row as the filter's regular expression reads it (``_FILTER`` role of the name cell)."""
        opened = "open" if self.open else "closed"
        return f"<state:{self.state.value}><{opened}><lang:{self.language}>\n{self.searched}"


@dataclass(frozen=True, slots=True)
class Queue:
    """A filter of the worklist, named as a coder would ask for it: documents in these states
    (any, when empty), or only with open mentions."""

    label: str
    states: tuple[DocumentState, ...] = ()
    with_open: bool = False

    def accepts(self, row: _Row) -> bool:
        return (not self.states or row.state in self.states) and (row.open > 0 or not self.with_open)

    def pattern(self) -> str:
        states = "|".join(QRegularExpression.escape(state.value) for state in self.states)
        return (f"(?=<state:(?:{states})>)" if states else "") + ("(?=.*<open>)" if self.with_open else "")


QUEUES = (
    Queue("All documents"),
    Queue("To review", (DocumentState.CODED, DocumentState.NO_MENTIONS)),
    Queue("With open mentions", with_open=True),
    Queue("No mentions found", (DocumentState.NO_MENTIONS,)),
    Queue("Errors", (DocumentState.ERROR,)),
    Queue("Not coded yet", (DocumentState.NEW,)),
    Queue("Reviewed", (DocumentState.REVIEWED,)),
)


class _Filter(QSortFilterProxyModel):
    """Keeps the rows of the chosen queue and language whose name or path holds the searched words.

    One regular expression over each row's facets, matched in C++: a filter written in Python
    was called from C++ for every changed cell, and each call waited for the coding worker to
    hand over the GIL (gaps of over 100 ms in the heartbeat test while coding)."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.queue = QUEUES[0]
        self.language: str | None = None  # None: any
        self.words: list[str] = []
        self.setSortRole(_SORT)
        self.setFilterRole(_FILTER)
        self.setFilterKeyColumn(0)

    def apply(self) -> None:
        """Filter by the queue, language and words now set."""
        pattern = "^" + self.queue.pattern()
        if self.language is not None:
            pattern += f"(?=.*<lang:{QRegularExpression.escape(self.language)}>)"
        pattern += "".join(f"(?=.*{QRegularExpression.escape(word)})" for word in self.words)
        options = (QRegularExpression.PatternOption.DotMatchesEverythingOption
                   | QRegularExpression.PatternOption.CaseInsensitiveOption)
        self.setFilterRegularExpression(QRegularExpression(pattern, options))


class DocumentList(QTableView):
    """``current_changed(key)`` when the coder moves to another document ("" when none).

    ``filter_bar`` (search box, queue, language) belongs above the list.
    """

    current_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = QStandardItemModel(0, len(_COLUMNS), self)
        self.source.setHorizontalHeaderLabels(_COLUMNS)
        for column, tip in ((3, "Mentions found"), (4, "Mentions without a review decision")):
            self.source.horizontalHeaderItem(column).setToolTip(tip)
        self._rows: dict[str, _Row] = {}
        self._numbers: dict[int, str] = {}  # what _KEY holds → the document's key
        self.proxy = _Filter(self)
        self.proxy.setSourceModel(self.source)
        self.setModel(self.proxy)
        self.verticalHeader().hide()
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)  # "S0004-06142006000100010-1.txt" keeps its start
        # Counts up to five digits; the status as wide as its longest word.
        fixed_widths(self.horizontalHeader(), {1: "Lang", 2: DocumentState.NO_MENTIONS.value, 3: "99999",
                                               4: "99999"})
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # as opened, until a click
        self.setSortingEnabled(True)
        self._keys: list[str] = []  # the document of each source row, in the order opened
        self._items: dict[str, list[QStandardItem]] = {}
        self._shown: dict[str, tuple[str, ...]] = {}  # what each row shows: unchanged rows are not rewritten
        self._counts: Counter[str] = Counter()  # queue label → documents in it
        self._bulk = False  # many rows are being added: the counts are shown once, after them
        self._next_number = 0
        self._counting = QTimer(self)
        self._counting.setSingleShot(True)
        self._counting.setInterval(100)
        self._counting.timeout.connect(self._show_counts)
        self.filter_bar = self._build_filter_bar()
        self.selectionModel().currentRowChanged.connect(
            lambda *_: self.current_changed.emit(self.current_key() or ""))

    # --- rows ---------------------------------------------------------------------------

    def set_documents(self, documents: list[SessionDocument]) -> None:
        """Show exactly these documents, keeping the current one if it is still there.

        Documents added at the end or removed only add or remove their rows: with
        thousands of documents, rebuilding every row froze the window for half a second.
        """
        current = self.current_key()
        keys = [d.key for d in documents]
        with QSignalBlocker(self.selectionModel()):
            kept = set(keys)
            if keys[: len(self._keys)] == self._keys:
                start = len(self._keys)
            elif len(kept) < len(self._keys) and [k for k in self._keys if k in kept] == keys:
                for row in reversed(range(len(self._keys))):
                    key = self._keys[row]
                    if key not in kept:
                        del self._numbers[self._number(key)]  # before the row and its items go
                        self.source.removeRow(row)
                        del self._items[key], self._shown[key]
                        self._count(self._rows.pop(key), -1)
                start = len(keys)
            else:
                start = 0
                self.source.setRowCount(0)
                self._items, self._shown, self._counts = {}, {}, Counter()
                self._rows.clear()
                self._numbers.clear()
            self._keys = keys
            added = documents[start:]
            many = len(added) > 100
            self._bulk = True
            if many:  # one reset instead of a sorted insert per row
                self.proxy.setSourceModel(None)  # type: ignore[arg-type]
            for document in added:
                items = self._items[document.key] = [QStandardItem() for _ in _COLUMNS]
                number = self._next_number = self._next_number + 1
                self._numbers[number] = document.key
                items[0].setData(number, _KEY)
                self.source.appendRow(items)
                self.update_document(document)
            if many:
                self.proxy.setSourceModel(self.source)
            self._bulk = False
            if current in self._items:
                self.select_key(current)
        self._show_counts()
        self.current_changed.emit(self.current_key() or "")

    def update_document(self, document: SessionDocument) -> None:
        items = self._items.get(document.key)
        result = document.result
        state = document.state
        opened = open_count(result) if result else 0
        cells = (
            document.name, document.language or "", state.value,
            str(len(result.assignments)) if result else "",
            str(opened) if result else "",
        )
        shown = (*cells, document.error or "")
        if items is None or self._shown.get(document.key) == shown:
            return
        before = self._shown.get(document.key)
        self._shown[document.key] = shown
        path = document.source or document.key
        row = _Row(state, opened, document.language or "", f"{document.name}\n{path}".casefold())
        old = self._rows.get(document.key)
        if old is not None:
            self._count(old, -1)
        self._rows[document.key] = row
        self._count(row, 1)
        sort_values = (document.name.casefold(), row.language, _STATE_ORDER[state],
                       len(result.assignments) if result else -1, opened if result else -1)
        colors = {2: QBrush(QColor(STATE_COLORS[state]))}
        tips = {0: path, 2: document.error or ""}
        facets = row.facets()
        refilter = old is None or old.facets() != facets
        for column, (item, text, value) in enumerate(zip(items, cells, sort_values, strict=True)):
            if (before is None or before[column] != text or (column == 0 and refilter)
                    or (column == 2 and before[-1] != shown[-1])):
                roles: dict[int, object] = {Qt.ItemDataRole.DisplayRole: text, _SORT: value}
                if column == 0:
                    roles[_FILTER] = facets
                if column in colors:
                    roles[Qt.ItemDataRole.ForegroundRole] = colors[column]
                if column in tips:
                    roles[Qt.ItemDataRole.ToolTipRole] = tips[column]
                if column >= 3:
                    roles[Qt.ItemDataRole.TextAlignmentRole] = _RIGHT
                self.source.setItemData(item.index(), roles)  # one change: the proxy re-sorts the row once
        if not self._bulk and not self._counting.isActive():
            self._counting.start()  # once per burst of results, not once per result

    # --- the current document -----------------------------------------------------------

    def current_key(self) -> str | None:
        index = self.currentIndex()
        return self._numbers.get(index.siblingAtColumn(0).data(_KEY)) if index.isValid() else None

    def selected_keys(self) -> list[str]:
        rows = sorted(self.selectionModel().selectedRows(), key=lambda index: index.row())
        return [self._numbers[index.data(_KEY)] for index in rows]

    def select_key(self, key: str) -> None:
        """Make ``key`` the current document; the filters are cleared if they hide it."""
        items = self._items.get(key)
        if items is None:
            return
        index = self.proxy.mapFromSource(items[0].index())
        if not index.isValid():
            self.clear_filters()
            index = self.proxy.mapFromSource(items[0].index())
        self.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.scrollTo(index)

    def next_key(self, accepts: Callable[[SessionDocument], bool],
                 documents: Callable[[str], SessionDocument], after: str | None) -> str | None:
        """The first document shown below ``after`` (wrapping round) that ``accepts`` takes."""
        count = self.proxy.rowCount()
        start = -1
        if after in self._items:
            start = self.proxy.mapFromSource(self._items[after][0].index()).row()
        for step in range(1, count + 1):
            key = self._numbers[self.proxy.index((start + step) % count, 0).data(_KEY)]
            if key != after and accepts(documents(key)):
                return key
        return None

    # --- what a test or the coder reads ---------------------------------------------------

    def rowCount(self) -> int:  # noqa: N802 — as QTableWidget named it
        """Rows shown (after the filters)."""
        return self.proxy.rowCount()

    def shown_keys(self) -> list[str]:
        """The documents listed, top to bottom, as sorted and filtered."""
        return [self._numbers[self.proxy.index(row, 0).data(_KEY)] for row in range(self.proxy.rowCount())]

    def item(self, row: int, column: int) -> QStandardItem:
        """The cell shown at ``row`` (after sorting and filtering)."""
        return self.source.itemFromIndex(self.proxy.mapToSource(self.proxy.index(row, column)))

    # --- filters ------------------------------------------------------------------------

    def set_filter(self, queue: Queue | None = None, language: str | None | _Keep = _Keep.KEEP,
                   words: str | None = None) -> None:
        """Change what is shown: a queue, a language (None: any; "": not known), searched words."""
        if queue is not None:
            self.proxy.queue = queue
            self.queue.setCurrentIndex(QUEUES.index(queue))
        if not isinstance(language, _Keep):
            self.proxy.language = language
            self.language.setCurrentIndex(max(0, self.language.findData(language)))
        if words is not None:
            self.proxy.words = words.casefold().split()
            if self.search.text() != words:
                self.search.setText(words)
        self.proxy.apply()
        if not self.currentIndex().isValid() and self.proxy.rowCount():
            self.selectionModel().setCurrentIndex(
                self.proxy.index(0, 0),
                QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)

    def clear_filters(self) -> None:
        self.set_filter(QUEUES[0], None, "")

    def _build_filter_bar(self) -> QWidget:
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search documents…")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Show the documents whose name or folder holds these words")
        self.search.textChanged.connect(lambda text: self.set_filter(words=text))
        self.queue = QComboBox()
        self.queue.setToolTip("Which documents to list")
        for queue in QUEUES:
            self.queue.addItem(queue.label)
        self.queue.activated.connect(lambda row: self.set_filter(queue=QUEUES[row]))
        self.language = QComboBox()
        self.language.setToolTip("Only documents in this language")
        self.language.addItem("All languages", None)
        for code in LANGUAGES:
            self.language.addItem(code, code)
        self.language.addItem("unknown", "")
        self.language.activated.connect(lambda row: self.set_filter(language=self.language.itemData(row)))
        choices = QHBoxLayout()
        choices.setContentsMargins(0, 0, 0, 0)
        choices.addWidget(self.queue, 1)
        choices.addWidget(self.language)
        bar = QWidget()
        layout = QVBoxLayout(bar)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search)
        layout.addLayout(choices)
        return bar

    def _number(self, key: str) -> int:
        return self._items[key][0].data(_KEY)

    def _count(self, row: _Row, sign: int) -> None:
        for queue in QUEUES:
            if queue.accepts(row):
                self._counts[queue.label] += sign

    def _show_counts(self) -> None:
        """Each queue says how many documents it holds (a worklist's counts per queue)."""
        for n, queue in enumerate(QUEUES):
            text = f"{queue.label} ({self._counts[queue.label]:,})"
            if self.queue.itemText(n) != text:
                self.queue.setItemText(n, text)
