"""The site dictionary's learned terms as a table model: tens of thousands of rows, painted on demand.

Rows are worked out on a worker (``term_rows``: a verdict, the codes in words and a folded
search text per term, and the rows sorted by every column), so opening the view on 50,000
terms never freezes the window; the model then only picks an order and filters it (a few
milliseconds), and the view asks for the cells on screen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from engine.terms.site_dictionary import SiteDecision, SiteDictionary, SiteEntry, Verdict
from engine.text.normalize import term_key

__all__ = ["TERM_COLUMNS", "VERDICT_LABELS", "SiteTermModel", "TermList", "TermRow", "term_rows"]

TERM_COLUMNS = ("Term", "Codes given", "Rejected", "Verdict", "Last decided")
VERDICT_LABELS = {Verdict.SETTLED: "settled", Verdict.CONFLICT: "conflict", Verdict.REJECTED: "rejected"}
_VERDICT_COLORS = {Verdict.SETTLED: "#2e7d32", Verdict.CONFLICT: "#c62828", Verdict.REJECTED: "#757575"}
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
AnyIndex = QModelIndex | QPersistentModelIndex
_CHECK_EVERY = 1000  # terms between two cancel checks


@dataclass(frozen=True, slots=True)
class TermRow:
    entry: SiteEntry
    decision: SiteDecision
    codes: str  # "I48.9 ×14, I48.0 ×2"
    search: str  # the folded term and codes: what the search box matches; also the default order


@dataclass(frozen=True, slots=True)
class TermList:
    """Every learned term of a dictionary, already sorted by each column: sorting is then a choice."""

    by_column: tuple[list[TermRow], ...]  # ascending, one list per column of TERM_COLUMNS
    verdicts: Counter[Verdict]

    @property
    def rows(self) -> list[TermRow]:
        return self.by_column[0]

    @classmethod
    def empty(cls) -> TermList:
        return cls(tuple([] for _ in TERM_COLUMNS), Counter())


_SORT_KEYS = (
    attrgetter("search"),
    lambda row: sum(n for _, n in row.entry.codes),
    attrgetter("entry.rejected"),
    lambda row: row.decision.verdict.value,
    attrgetter("entry.last"),
)


def term_rows(dictionary: SiteDictionary, checkpoint: Callable[[], None] | None = None) -> TermList:
    """The terms of ``dictionary`` as rows (on a worker: about 30 µs a term).

    ``checkpoint`` is called every thousand terms and may raise Cancelled."""
    rows = []
    for number, entry in enumerate(dictionary.entries()):
        if checkpoint is not None and not number % _CHECK_EVERY:
            checkpoint()
        codes = ", ".join(f"{code} ×{n}" for code, n in entry.codes)
        rows.append(TermRow(entry, dictionary.rule.decide(entry), codes, term_key(f"{entry.display} {codes}")))
    by_column = tuple(sorted(rows, key=key) for key in _SORT_KEYS)
    return TermList(by_column, Counter(row.decision.verdict for row in rows))


class SiteTermModel(QAbstractTableModel):
    """The rows that match the search and the verdict filter, in the order the coder chose."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._terms = TermList.empty()
        self._shown: list[TermRow] = []
        self._query = ""
        self._verdict: Verdict | None = None
        self._order: tuple[int, Qt.SortOrder] = (0, Qt.SortOrder.AscendingOrder)

    def set_terms(self, terms: TermList) -> None:
        self._terms = terms
        self._refilter()

    def set_filter(self, query: str, verdict: Verdict | None) -> None:
        """``query``: words of the term or a code (folded like the terms); ``verdict``: None for all."""
        self._query, self._verdict = term_key(query), verdict
        self._refilter()

    def terms(self) -> TermList:
        return self._terms

    def row_at(self, row: int) -> TermRow:
        return self._shown[row]

    def row_of(self, key: str) -> int | None:
        return next((n for n, row in enumerate(self._shown) if row.entry.key == key), None)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._shown)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(TERM_COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> str | None:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return TERM_COLUMNS[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        row, column = self._shown[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            entry = row.entry
            return (entry.display, row.codes or "—", str(entry.rejected) if entry.rejected else "",
                    VERDICT_LABELS[row.decision.verdict], entry.last[:10])[column]
        if role == Qt.ItemDataRole.ForegroundRole and column == 3:
            return QColor(_VERDICT_COLORS[row.decision.verdict])
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 2:
            return _RIGHT
        if role == Qt.ItemDataRole.ToolTipRole and column == 0:
            return f"learned as “{row.entry.key}”; first decided {row.entry.first[:10]}"
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._order = (column, order)
        self._refilter()

    def _refilter(self) -> None:
        self.beginResetModel()
        query, verdict = self._query, self._verdict
        column, order = self._order
        rows = self._terms.by_column[max(column, 0)]
        if order is Qt.SortOrder.DescendingOrder:
            rows = rows[::-1]
        if query or verdict:
            rows = [row for row in rows
                    if query in row.search and (verdict is None or row.decision.verdict is verdict)]
        self._shown = rows
        self.endResetModel()
