"""The current document's pane: its header and choices, the text with its mentions, the tables and details.

The pane keeps the text, the mention table, the code summaries (ICD-10, and ICD-O-3 where the
document has morphology mentions) and the details on one current mention.  A new document's mention index is built a slice of time at a time between events,
so a document with 100,000 mentions never freezes the window; until it is ready the pane says
so and review waits (``preparing``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from html import escape
from operator import attrgetter

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from engine.core.codes import Edition
from engine.core.model import Assignment
from engine.records.review import needs_confirmation, open_count
from engine.records.session import SessionDocument
from engine.terms.dictionary import LANGUAGES
from gui.candidate_list import CandidateList
from gui.code_table import MENTION_FILTERS, CodeSummary, MentionTable
from gui.find_bar import FindBar
from gui.mention_index import MentionIndex
from gui.presentation import describe
from gui.text_view import SLICE_BUDGET_S, MentionLegend, MentionTextView

__all__ = ["LANGUAGE_NAMES", "DocumentPane"]

LANGUAGE_NAMES = {"es": "Spanish", "de": "German", "en": "English", "fr": "French", "el": "Greek"}


class DocumentPane(QObject):
    """Shows one document; ``changed`` fires whenever what review may act on changed."""

    changed = Signal()

    def __init__(self, parent: QWidget, current: Callable[[], SessionDocument | None]) -> None:
        super().__init__(parent)
        self._current = current
        self.current_index: int | None = None  # the current mention of the current document
        self._mention_index = MentionIndex()  # where the current document's mentions sit
        self._preparing: tuple[Iterator[MentionIndex | None], tuple[Assignment, ...]] | None = None

        self.text = MentionTextView()
        self.text.setAcceptDrops(False)
        self.mentions = MentionTable()
        self.summary = CodeSummary()
        self.morphology_summary = CodeSummary(morphology=True)  # its tab shows where there is ICD-O-3
        self.tables = QTabWidget()
        self.details = QTextBrowser()
        self.candidates = CandidateList()  # its ``chosen`` is the review actions' to apply
        self.title = QLabel()
        # A long file name is cut, never widens the pane.
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.language = _combo([("Detect automatically", None)]
                               + [(f"{LANGUAGE_NAMES[code]} ({code})", code) for code in LANGUAGES])
        self.edition = _combo([("Language default", None)] + [(e.label, e) for e in Edition])
        self.legend = MentionLegend()
        self.find_bar = FindBar(self.text)
        self.mention_filter = _combo([(label, None) for label, _ in MENTION_FILTERS])
        self.mention_filter.setToolTip("Which mentions the table lists; J and K move through those only")
        self.mention_filter.activated.connect(self.filter_mentions)
        self.middle, self.right = self._build_layout()
        for source in (self.text.mention_clicked, self.mentions.mention_selected, self.summary.mention_selected,
                       self.morphology_summary.mention_selected):
            source.connect(self.select_mention)

    @property
    def preparing(self) -> bool:
        """The current document's mentions are still being laid out: review must wait."""
        return self._preparing is not None

    def select_mention(self, index: int | None) -> None:
        """Make ``index`` the current mention everywhere: table row, text highlight, details."""
        document = self._current()
        count = len(document.result.assignments) if document and document.result else 0
        self.current_index = index if index is not None and 0 <= index < count else None
        self.mentions.select_mention(self.current_index)
        self.text.set_current(self.current_index)
        self._show_details(document)
        self.changed.emit()

    def filter_mentions(self, row: int) -> None:
        """List only the mentions of ``MENTION_FILTERS[row]``; a current mention it hides gives way
        to the first one shown."""
        self.mention_filter.setCurrentIndex(row)
        self.mentions.set_filter(MENTION_FILTERS[row][1])
        if self.current_index is not None and not self.mentions.shown(self.current_index):
            self.select_mention(self.mentions.neighbour(None, 1))

    def show(self, document: SessionDocument | None) -> None:
        """Show ``document`` (the current one), keeping the current mention where it still exists."""
        result = document.result if document else None
        if document is None:
            self.text.show_text(None, "Open documents with File → Open (Ctrl+O), or drop files here.")
        elif result is None:
            self.text.show_text(None, _placeholder(document))
        else:
            self.text.show_text(result.document.text)
        assignments = result.assignments if result else ()
        self.show_header(document)
        # The mention index is worked out once for the three views and kept while review changes
        # only statuses; for a new document it is built a step at a time between events.
        self._preparing = MentionIndex.following_in_steps(self._mention_index, assignments), assignments
        self._prepare()

    def show_header(self, document: SessionDocument | None) -> None:
        if document is None:
            self.title.setText("<b>No document</b>")
            return
        counts = ""
        if document.result is not None:
            open_ = open_count(document.result)
            morphology = _morphology_count(document.result.assignments)
            both = f" ({morphology} ICD-O-3)" if morphology else ""
            counts = f" · {len(document.result.assignments)} mentions{both}, {open_} open"
        if document.unfinished and not document.coding:
            counts += " · <i>the model did not finish</i>"
        if document.result is not None and document.result.document.warnings:
            counts += f" · <i>{len(document.result.document.warnings)} reading warning(s): see the details</i>"
        self.title.setText(f"<b>{escape(document.name)}</b> · {document.state.value}{counts}")
        detected = LANGUAGE_NAMES.get(document.language or "", "")
        self.language.setItemText(0, f"Detected: {detected}" if detected and not document.language_fixed
                                  else "Detect automatically")
        chosen = document.language if document.language_fixed else None
        self.language.setCurrentIndex(self.language.findData(chosen))
        self.edition.setCurrentIndex(max(0, self.edition.findData(document.edition)))

    def set_choices_enabled(self, enabled: bool) -> None:
        self.language.setEnabled(enabled)
        self.edition.setEnabled(enabled)

    def _prepare(self) -> None:
        """Build the current document's mention index for a slice of time, then show its results."""
        if self._preparing is None:
            return
        steps, assignments = self._preparing
        started = time.perf_counter()
        for built in steps:
            if built is not None:
                self._preparing, self._mention_index = None, built
                self._show_results(assignments)
                return
            if time.perf_counter() - started > SLICE_BUDGET_S:
                if self.mentions.model().rowCount():  # nothing stale on screen meanwhile
                    self._show_results(())
                self.details.setHtml(f"<i>Preparing {len(assignments):,} mentions…</i>")
                QTimer.singleShot(0, self, self._prepare)
                return

    def _show_results(self, assignments: tuple[Assignment, ...]) -> None:
        index = self._mention_index if assignments else MentionIndex()
        self.mentions.show_assignments(assignments, index, _language(self._current()))
        if self.current_index is None or self.current_index >= len(assignments):
            self.current_index = self.mentions.neighbour(None, 1)  # the first mention, ready for the keyboard
        self.text.set_assignments(assignments, self.current_index, index)
        self.mentions.select_mention(self.current_index)
        self.summary.show_assignments(assignments, index)
        morphology = _morphology_count(assignments) > 0
        self.tables.setTabVisible(2, morphology)
        self.tables.setTabText(1, "ICD-10 codes" if morphology else "Codes")
        if morphology:
            self.morphology_summary.show_assignments(assignments, index)
        self._show_details(self._current())
        self.changed.emit()

    def _show_details(self, document: SessionDocument | None) -> None:
        current = None
        if document is not None and document.result is not None and self.current_index is not None:
            current = document.result.assignments[self.current_index]
        self.candidates.show_assignment(current)
        if document is None:
            self.details.clear()
        elif current is not None:
            self.details.setHtml(describe(current, _language(document), candidates=False))
        elif document.error:
            self.details.setPlainText(document.error)
        elif document.unfinished and not document.coding:
            self.details.setPlainText(document.unfinished)
        elif document.result is not None and needs_confirmation(document.result):
            self.details.setHtml(
                "<b>No mentions found.</b> This does not mean there is nothing to code: read the text. "
                "If there is nothing to code, confirm it (<b>Ctrl+Return</b>); otherwise select the words of "
                "a missed mention (or find them with <b>Ctrl+F</b>) and add it (<b>M</b>).")
        elif document.result is not None and document.result.document.warnings:
            # What the reader could not take in as it was (a misdecoded part, dropped XML): the codes may miss it.
            self.details.setPlainText("\n\n".join(document.result.document.warnings))
        else:
            self.details.setHtml("<i>Select a mention to see why its code was proposed.</i>")

    def _build_layout(self) -> tuple[QWidget, QSplitter]:
        """The middle column (header, choices, text, legend) and the right one (tables over details)."""
        choices = QHBoxLayout()
        for label, combo in (("Language", self.language), ("Edition", self.edition)):
            choices.addWidget(QLabel(label))
            choices.addWidget(combo)
        choices.addStretch(1)
        middle = QWidget()
        middle_layout = QVBoxLayout(middle)
        middle_layout.setContentsMargins(0, 0, 0, 0)
        middle_layout.addWidget(self.title)
        middle_layout.addLayout(choices)
        middle_layout.addWidget(self.text, 1)
        middle_layout.addWidget(self.find_bar)
        middle_layout.addWidget(self.legend)
        tabs = self.tables
        tabs.addTab(self.mentions, "Mentions")
        tabs.addTab(self.summary, "Codes")
        tabs.addTab(self.morphology_summary, "ICD-O-3 codes")
        tabs.setTabVisible(2, False)
        tables = QWidget()
        tables_layout = QVBoxLayout(tables)
        tables_layout.setContentsMargins(0, 0, 0, 0)
        tables_layout.addWidget(self.mention_filter)
        tables_layout.addWidget(tabs, 1)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(tables)
        right.addWidget(self.details)
        right.addWidget(self.candidates)
        right.setSizes([460, 170, 150])
        return middle, right


def _combo(items: list[tuple[str, object]]) -> QComboBox:
    combo = QComboBox()
    for text, data in items:
        combo.addItem(text, data)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(14)
    return combo


def _morphology_count(assignments: tuple[Assignment, ...]) -> int:
    """How many of the mentions are ICD-O-3 morphology ones (counted in C: there can be 100,000)."""
    return list(map(attrgetter("edition"), assignments)).count(Edition.ICDO3)


def _placeholder(document: SessionDocument) -> str:
    if document.coding:
        return "Coding…"
    if document.error:
        return f"This document could not be coded.\n\n{document.error}"
    return "Not coded yet — press F5 (Coding → Code new documents) to read and code it."


def _language(document: SessionDocument | None) -> str:
    """The language the document was coded in (it names the edition: CIE-10-ES for CM codes in Spanish)."""
    return document.result.document.language if document is not None and document.result is not None else ""
