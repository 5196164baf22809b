"""File → Site dictionary: what this workstation's coders taught, to search, check, correct and share.

A thin view on ``engine.records.site_store``: every change (a new code for a term, a
deleted term, an import) is a set of lessons handed to the session database's writer,
like a review decision, so the counts on disk and in memory stay the sum of their lessons.
Reading rows, saving, exporting and importing run through ``BackgroundOp``; the dialog
only waits for them with its buttons disabled.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.core.progress import Cancelled
from engine.records.session_db import SessionDatabase
from engine.records.settings import AppSettings
from engine.records.site_store import (
    ImportReport,
    LessonRecord,
    edit_lessons,
    export_site,
    history,
)
from engine.terms.site_dictionary import Lesson, SiteDictionary, Verdict
from gui.code_picker import CodePickerDialog
from gui.document_pane import LANGUAGE_NAMES
from gui.errors import show_error, show_info
from gui.presentation import fixed_widths
from gui.site_terms import SiteTermModel, TermList, TermRow, term_rows
from gui.worker import BackgroundOp, TaskState, heavy_op

__all__ = ["SiteDictionaryDialog", "SiteHost"]

_FILTER = "Site dictionary (*.json);;All files (*)"
_HISTORY_COLUMNS = ("When", "Document", "Coder", "Code", "Change", "From")
_VERDICTS: tuple[tuple[str, Verdict | None], ...] = (
    ("All terms", None), ("Conflicts", Verdict.CONFLICT), ("Settled", Verdict.SETTLED),
    ("Rejected", Verdict.REJECTED),
)
_CONFLICTS_LISTED = 15


class SiteHost(Protocol):
    """What the dialog needs of the window (the main window is one)."""

    database: SessionDatabase
    settings: AppSettings

    def open_dialog(self, dialog: QDialog) -> None: ...
    def ask(self, title: str, text: str) -> bool: ...


class SiteDictionaryDialog(QDialog):
    """Non-modal; ``is_idle()`` is false while rows load or a change is being saved (tests wait on it)."""

    def __init__(self, parent: QWidget, host: SiteHost) -> None:
        super().__init__(parent)
        self.setWindowTitle("Site dictionary")
        self.resize(1000, 680)
        self._host = host
        self._database = host.database
        self._ops = 0
        self._select_after: str | None = None
        self._summary = ""
        self._scopes: list[SiteDictionary] = []

        self.scope = QComboBox()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Words of a term or a code, e.g. fibrilacion or I48")
        self.search.setClearButtonEnabled(True)
        self.verdict = QComboBox()
        for label, verdict in _VERDICTS:
            self.verdict.addItem(label)
        self.model = SiteTermModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setStretchLastSection(True)
        fixed_widths(self.table.horizontalHeader(), {0: "x" * 34, 1: "I48.91 ×100, I48.0 ×20", 2: "Rejected",
                                                     3: "conflict"})
        self.history = QTableWidget(0, len(_HISTORY_COLUMNS))
        self.history.setHorizontalHeaderLabels(_HISTORY_COLUMNS)
        self.history.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.history.verticalHeader().hide()
        self.history.horizontalHeader().setStretchLastSection(True)
        fixed_widths(self.history.horizontalHeader(), {0: "2026-12-01 14:05", 1: "x" * 28, 2: "coder name",
                                                       3: "I48.91", 4: "Change"})
        self.history_label = QLabel("Select a term to see where it was learned.")
        self.status = QLabel()
        self.edit_button = QPushButton("Change code…")
        self.delete_button = QPushButton("Delete term")
        self.export_button = QPushButton("Export…")
        self.import_button = QPushButton("Import…")
        close = QPushButton("Close")

        filters = QHBoxLayout()
        filters.addWidget(QLabel("Dictionary:"))
        filters.addWidget(self.scope)
        filters.addWidget(self.search, 1)
        filters.addWidget(self.verdict)
        below = QWidget()
        below_layout = QVBoxLayout(below)
        below_layout.setContentsMargins(0, 0, 0, 0)
        below_layout.addWidget(self.history_label)
        below_layout.addWidget(self.history)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(below)
        splitter.setSizes([420, 200])
        buttons = QHBoxLayout()
        for button in (self.edit_button, self.delete_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        for button in (self.export_button, self.import_button, close):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

        self.scope.activated.connect(lambda _: self.reload())
        self.search.textChanged.connect(lambda _: self._filter())
        self.verdict.activated.connect(lambda _: self._filter())
        self.table.selectionModel().currentRowChanged.connect(lambda current, _: self._show_history(current))
        self.model.modelReset.connect(self._update_buttons)  # the current row is gone
        self.edit_button.clicked.connect(self.change_code)
        self.delete_button.clicked.connect(self.delete_term)
        self.export_button.clicked.connect(self.export)
        self.import_button.clicked.connect(self.import_file)
        close.clicked.connect(self.close)
        self.reload()

    # --- what is shown ------------------------------------------------------------------

    def is_idle(self) -> bool:
        return self._ops == 0

    def dictionary(self) -> SiteDictionary | None:
        row = self.scope.currentIndex()
        return self._scopes[row] if 0 <= row < len(self._scopes) else None

    def shown_verdict(self) -> Verdict | None:
        """The verdict filter: None shows every term."""
        return _VERDICTS[self.verdict.currentIndex()][1]

    def current_row(self) -> TermRow | None:
        index = self.table.currentIndex()
        return self.model.row_at(index.row()) if index.isValid() else None

    def show_verdict(self, verdict: Verdict | None) -> None:
        self.verdict.setCurrentIndex(next(n for n, (_, v) in enumerate(_VERDICTS) if v is verdict))
        self._filter()

    def select_term(self, key: str) -> bool:
        """Make the term with this site key current; false if it is not among the rows shown."""
        row = self.model.row_of(key)
        if row is None:
            return False
        self.table.selectionModel().setCurrentIndex(
            self.model.index(row, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(self.model.index(row, 0))
        return True

    def reload(self) -> None:
        """List the dictionaries again and read the chosen one's rows on a worker."""
        wanted = self.dictionary()
        self.scope.clear()
        self._scopes = [dictionary for dictionary in self._database.site.all() if len(dictionary)]
        for dictionary in self._scopes:
            name = LANGUAGE_NAMES.get(dictionary.language, dictionary.language)
            self.scope.addItem(f"{name} · {dictionary.edition.label}")
        if not self._scopes:
            self.scope.addItem("nothing learned yet")
        self.scope.setCurrentIndex(self._scopes.index(wanted) if wanted in self._scopes else 0)
        dictionary = self.dictionary()
        if dictionary is None:
            self._rows_ready(TermList.empty())
            return

        def read(state: TaskState) -> TermList:
            with heavy_op():
                return term_rows(dictionary, partial(_checkpoint, state))

        self._run(read, self._rows_ready, "Reading the learned terms…")

    def _rows_ready(self, terms: TermList) -> None:
        self.model.set_terms(terms)
        counts = terms.verdicts
        self._summary = (f"{len(terms.rows):,} terms: {counts[Verdict.SETTLED]:,} settled, "
                         f"{counts[Verdict.CONFLICT]:,} conflicts, {counts[Verdict.REJECTED]:,} rejected. "
                         "Only mention words and codes are kept, never the text around them.")
        self.status.setText(self._summary)
        self._reselect()

    def _filter(self) -> None:
        current = self.current_row()
        self._select_after = current.entry.key if current else None
        self.model.set_filter(self.search.text(), self.shown_verdict())
        self._reselect()

    def _reselect(self) -> None:
        key, self._select_after = self._select_after, None
        if key is None or not self.select_term(key):
            self._show_history(QModelIndex())

    def _show_history(self, index: QModelIndex) -> None:
        self._update_buttons()
        self.history.setRowCount(0)
        dictionary = self.dictionary()
        if not index.isValid() or dictionary is None:
            self.history_label.setText("Select a term to see where it was learned.")
            return
        entry = self.model.row_at(index.row()).entry
        if str(self._database.path) == ":memory:":
            self.history_label.setText("This session is not saved, so where terms were learned is not known.")
            return
        records = history(self._database.path, dictionary.language, dictionary.edition, entry.key)
        self.history_label.setText(
            f"Where “{entry.display}” was learned ({len(records)} decisions, newest first):")
        self.history.setRowCount(len(records))
        for row, record in enumerate(records):
            for column, text in enumerate(_history_cells(record)):
                item = QTableWidgetItem(text)
                if column == 1 and record.document:
                    item.setToolTip(record.document)
                self.history.setItem(row, column, item)

    def _update_buttons(self) -> None:
        idle, chosen = self.is_idle(), self.table.currentIndex().isValid()
        self.edit_button.setEnabled(idle and chosen)
        self.delete_button.setEnabled(idle and chosen)
        self.import_button.setEnabled(idle)
        self.export_button.setEnabled(idle)

    # --- changes ------------------------------------------------------------------------

    def change_code(self) -> None:
        """Settle the current term on a code the coder picks: its earlier counts are taken back."""
        row, dictionary = self.current_row(), self.dictionary()
        if row is None or dictionary is None:
            return
        entry = row.entry
        picker = CodePickerDialog(self, dictionary.edition, dictionary.language, query=entry.display,
                                  current=entry.codes[0][0] if entry.codes else None,
                                  version=self._host.settings.cm_version)

        def chosen() -> None:
            code = picker.chosen_code()
            if code is not None:
                self._teach(edit_lessons(dictionary, entry, code), entry.key)

        picker.accepted.connect(chosen)
        self._host.open_dialog(picker)

    def delete_term(self) -> None:
        row, dictionary = self.current_row(), self.dictionary()
        if row is None or dictionary is None:
            return
        entry = row.entry
        if self._host.ask("Delete term?", f"Forget everything this workstation learned about “{entry.display}” "
                          f"({row.codes or 'no codes'}; rejected {entry.rejected} times)? Documents already "
                          "coded keep their codes."):
            self._teach(edit_lessons(dictionary, entry), None)

    def export(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export the site dictionary", "site-dictionary.json", _FILTER)
        if not name:
            return
        path = Path(name)

        def write(state: TaskState) -> int:
            self._database.flush()  # what the coders decided a moment ago is in the file too
            with heavy_op():
                return export_site(self._database.site, path)

        self._run(write, lambda count: show_info(self, (
            f"Exported {count:,} learned terms to {path}. The file holds only mention words and the codes "
            "coders gave them, with counts and dates: no document text, file names or coder names.")),
            "Exporting…")

    def import_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Import a site dictionary", "", _FILTER)
        if not name:
            return
        path = Path(name)

        def check(state: TaskState) -> ImportReport:
            with heavy_op():
                return self._database.check_site_file(path)

        self._run(check, lambda report: self._confirm_import(path, report), "Checking the file…")

    def _confirm_import(self, path: Path, report: ImportReport) -> None:
        conflicts = report.conflicts
        listed = "".join(f"\n  “{term}”: {here} here, {there} in the file"
                         for _, term, here, there in conflicts[:_CONFLICTS_LISTED])
        left = len(conflicts) - _CONFLICTS_LISTED
        more = f"\n  … and {left:,} more" if left > 0 else ""
        disagree = "" if not conflicts else (
            f"\n\nCoded differently there ({len(conflicts):,}):{listed}{more}\nTheir counts add up too; where the "
            "coders now disagree, the term is listed under Conflicts for you to settle.")
        if not self._host.ask("Import the site dictionary?", (
            f"{path.name} holds {report.terms:,} terms, {report.new_terms:,} of them new to this workstation; "
            f"the others' counts are added to what was learned here.{disagree}\n\nImport it?")):
            return

        def imported() -> None:
            show_info(self, f"Imported {report.terms:,} terms ({report.new_terms:,} new, {len(conflicts):,} "
                            f"coded differently) from {path.name}.")
            if conflicts:
                self.show_verdict(Verdict.CONFLICT)

        self._teach(list(report.lessons), None, imported)

    def _teach(self, lessons: list[Lesson], select: str | None, then: Callable[[], None] | None = None) -> None:
        """Hand lessons to the writer, wait for them off the UI thread, then show the rows as they are now."""
        def save(state: TaskState) -> None:
            with heavy_op():  # the writer builds an entry per new term meanwhile
                self._database.teach(lessons)

        def saved(_: None) -> None:
            self._select_after = select
            self.reload()
            if then is not None:
                then()

        self._run(save, saved, "Saving…")

    def _run(self, op: Callable[[TaskState], Any], success: Callable[[Any], None], message: str) -> None:
        self._ops += 1
        self.status.setText(message)
        self._update_buttons()

        def done(result: Any) -> None:
            self._finished()
            success(result)

        def failed(error: BaseException) -> None:
            self._finished()
            show_error(self, error, "Site dictionary")

        BackgroundOp(self, op, success=done, failure=failed).run()

    def _finished(self) -> None:
        self._ops -= 1
        self.status.setText(self._summary)
        self._update_buttons()


def _checkpoint(state: TaskState) -> None:
    if state.cancelled():  # the dialog was closed
        raise Cancelled()


def _history_cells(record: LessonRecord) -> tuple[str, ...]:
    origin = "import" if record.origin.startswith("import:") else record.origin
    return (record.at[:16].replace("T", " "), Path(record.document).name if record.document else "",
            record.coder or "", record.code or "rejected", f"{record.weight:+d}", origin)
