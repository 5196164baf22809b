"""The code picker: find a code by words, dictionary terms or code as you type, or browse the hierarchy.

Search runs on ``engine.terms.code_search.CodeSearch`` (milliseconds per keystroke, results
capped, ranked by relevance and by how often the code is used, here too); the index is built
once per edition and language on a worker thread, so opening the picker never freezes the
window.  Up and Down move through the results from the search box, Enter chooses.  The chosen
code's tabular notes (includes, excludes) show below, where the edition has them.  The tree is
filled lazily, chapter → block → category → subcategory.

Only a code that is terminal in the chosen version can be chosen: a category
with children (E11, J18) is shown greyed out, and choosing it expands it to
its children instead (a hard stop before a code a registry refuses).
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QBrush, QKeyEvent, QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QTabWidget,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.core.codes import Edition
from engine.terms.catalog import Catalog
from engine.terms.code_search import CodeSearch
from engine.terms.notes import CodeNotes
from gui.worker import BackgroundOp, TaskState

__all__ = ["CodePickerDialog"]

_CODE = Qt.ItemDataRole.UserRole
_EXPANDED = Qt.ItemDataRole.UserRole + 1  # a search result whose children are listed under it
_LIMIT = 100
_CHILD_INDENT = "    "
# Keys the search box hands to the result list: the coder types, then moves and chooses.
_MOVE_KEYS = frozenset({Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown})


class CodePickerDialog(QDialog):
    """Non-modal: ``open()`` it, then read ``chosen_code()`` once ``accepted`` is emitted.

    ``version``: the edition's version whose terminal codes may be chosen (None: the catalog's default).
    """

    def __init__(
        self,
        parent: QWidget | None,
        edition: Edition,
        language: str,
        *,
        query: str = "",
        current: str | None = None,
        version: str | None = None,
        learned: Mapping[str, int] | None = None,
    ) -> None:
        """``learned``: how often this site's coders chose each code (ranks those higher)."""
        super().__init__(parent)
        self.setWindowTitle(f"Choose a code — {edition.label_in(language)}")
        self.resize(720, 560)
        self._edition, self._language, self._current, self._version = edition, language, current, version
        self._learned = learned or {}
        self._notes = CodeNotes.bundled(edition)
        self._search: CodeSearch | None = None
        self._catalog: Catalog | None = None
        self._chosen: str | None = None

        self.query = QLineEdit(query)
        example = "adenocarcinoma or 8140/3" if edition is Edition.ICDO3 else "neumonía aguda or J18"
        self.query.setPlaceholderText(f"Words of the title or a code, e.g. {example}")
        self.query.setClearButtonEnabled(True)
        self.results = QListWidget()
        self.notes = QTextBrowser()
        self.notes.setOpenLinks(False)
        self.notes.setPlaceholderText("Includes and excludes notes of the chosen code show here.")
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(("Code", "Title"))
        self.tree.setColumnWidth(0, 130)
        self.status = QLabel("Preparing the code index…")
        search_page = QWidget()
        search_layout = QVBoxLayout(search_page)
        search_layout.addWidget(self.query)
        search_layout.addWidget(self.results)
        search_layout.addWidget(self.status)
        self.tabs = QTabWidget()
        self.tabs.addTab(search_page, "Search")
        self.tabs.addTab(self.tree, "Browse")
        buttons = QDialogButtonBox.StandardButton
        self.buttons = QDialogButtonBox(buttons.Ok | buttons.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.tabs)
        split.addWidget(self.notes)
        split.setSizes([400, 140])
        layout = QVBoxLayout(self)
        layout.addWidget(split)
        layout.addWidget(self.buttons)
        self.query.installEventFilter(self)

        self.query.textChanged.connect(self._update_results)
        self.query.returnPressed.connect(lambda: self._activate(self.results.currentItem()))
        self.results.currentItemChanged.connect(self._choose)
        self.results.itemActivated.connect(self._activate)
        self.tree.currentItemChanged.connect(self._choose)
        self.tree.itemActivated.connect(self._activate)
        self.tree.itemExpanded.connect(self._fill_children)
        self.tabs.currentChanged.connect(
            lambda tab: self._choose(self.results.currentItem() if tab == 0 else self.tree.currentItem())
        )
        self._set_chosen(None)
        if CodeSearch.is_cached(edition, language):
            self._ready(CodeSearch.cached(edition, language))
        else:
            self.query.setEnabled(False)
            BackgroundOp(self, self._build, success=self._ready).run()

    def is_ready(self) -> bool:
        return self._search is not None

    def chosen_code(self) -> str | None:
        return self._chosen

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        """Up, Down, Page Up and Page Down in the search box move through the results."""
        if watched is self.query and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if event.key() in _MOVE_KEYS and self.results.count():
                self.results.keyPressEvent(event)
                return True
        return super().eventFilter(watched, event)

    def _build(self, state: TaskState) -> CodeSearch:
        search = CodeSearch.cached(self._edition, self._language)
        Catalog.bundled(self._edition).children(search.codes[0])  # builds the hierarchy map here, off the UI
        return search

    def _ready(self, search: CodeSearch) -> None:
        self._search = search
        self._catalog = Catalog.bundled(self._edition)  # loaded by now: CodeSearch needed it
        self.setWindowTitle(f"Choose a code — {self._edition.label_in(self._language)} "
                            f"{self._catalog.version(self._version).id}".rstrip())
        self.query.setEnabled(True)
        self.query.setFocus()
        self._fill_tree()
        self._update_results()

    def _update_results(self) -> None:
        if self._search is None:
            return
        hits = self._search.search(self.query.text(), _LIMIT, self._learned)
        self.results.clear()
        for hit in hits:
            via = f"   — “{hit.via}”" if hit.via and hit.via.casefold() != hit.title.casefold() else ""
            self.results.addItem(self._result_item(hit.code, f"{hit.title}{via}"))
        if hits:
            self.results.setCurrentRow(0)
        more = " (the first ones: type more words to narrow)" if len(hits) == _LIMIT else ""
        self.status.setText(f"{len(hits)} codes{more}" if self.query.text().strip() else "")

    def _result_item(self, code: str, title: str, indent: str = "") -> QListWidgetItem:
        item = QListWidgetItem(f"{indent}{code}   {title}")
        item.setData(_CODE, code)
        self._grey_if_not_final(item, 0, code)
        return item

    def is_final(self, code: str | None) -> bool:
        """Whether ``code`` may be chosen: a terminal code of the version."""
        return code is not None and self._catalog is not None and self._catalog.is_terminal(code, self._version)

    def _grey_if_not_final(self, item: QListWidgetItem | QTreeWidgetItem, column: int, code: str) -> None:
        """A code with children is shown greyed out: it is for finding, not for coding."""
        assert self._catalog is not None
        if not self._catalog.is_valid(code) or self.is_final(code):
            return
        grey = QBrush(self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
        tip = f"{code} has more specific codes: choose one of them (Enter shows them)"
        if isinstance(item, QListWidgetItem):
            item.setForeground(grey)
            item.setToolTip(tip)
            return
        for col in (0, 1):
            item.setForeground(col, grey)
            item.setToolTip(col, tip)

    def _fill_tree(self) -> None:
        assert self._catalog is not None
        for code in self._catalog.roots():
            self.tree.addTopLevelItem(self._tree_item(code))
        if self._current:
            self._reveal(self._current)

    def _tree_item(self, code: str) -> QTreeWidgetItem:
        assert self._catalog is not None
        item = QTreeWidgetItem((code, self._catalog.title(code, self._language)))
        item.setData(0, _CODE, code)
        self._grey_if_not_final(item, 0, code)
        if self._catalog.children(code):
            item.setChildIndicatorPolicy(QTreeWidgetItem.ChildIndicatorPolicy.ShowIndicator)
        if not self._catalog.is_valid(code):  # chapters and blocks are for finding, not for coding
            font = item.font(0)
            font.setBold(True)
            item.setFont(0, font)
            item.setFont(1, font)
        return item

    def _fill_children(self, item: QTreeWidgetItem) -> None:
        if item.childCount() or self._catalog is None:
            return
        for code in self._catalog.children(item.data(0, _CODE)):
            item.addChild(self._tree_item(code))

    def _reveal(self, code: str) -> None:
        """Expand the tree down to ``code`` and select it."""
        assert self._catalog is not None
        path = [code]
        while (above := self._catalog.parent(path[-1])) is not None:
            path.append(above)
        item = self.tree.invisibleRootItem()
        for step in reversed(path):
            item.setExpanded(True)  # fills its children
            found = next((child for i in range(item.childCount())
                          if (child := item.child(i)) is not None and child.data(0, _CODE) == step), None)
            if found is None:
                return
            item = found
        self.tree.setCurrentItem(item)

    def _choose(self, item: QListWidgetItem | QTreeWidgetItem | None) -> None:
        if item is None:
            code = None
        else:
            code = item.data(_CODE) if isinstance(item, QListWidgetItem) else item.data(0, _CODE)
        self._set_chosen(code if self.is_final(code) else None)

    def _set_chosen(self, code: str | None) -> None:
        self._chosen = code
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(code is not None)
        self._show_notes(code)

    def _show_notes(self, code: str | None) -> None:
        """The tabular notes that apply to ``code``: its own, then those of the levels above it."""
        if code is None or self._catalog is None:
            self.notes.clear()
            return
        notes = self._notes.for_code(code, self._catalog)
        if not notes:
            none = "this edition's data has no notes" if not len(self._notes) else "no notes for this code"
            self.notes.setHtml(f"<i>{escape(code)}: {none}.</i>")
            return
        parts = []
        for note in notes:
            where = "" if note.written_at == code else f" <small>(from {escape(note.written_at)})</small>"
            items = "".join(f"<li>{escape(text)}</li>" for text in note.texts)
            parts.append(f"<b>{escape(note.label)}</b>{where}<ul style='margin-top:0'>{items}</ul>")
        self.notes.setHtml("".join(parts))

    def _activate(self, item: QListWidgetItem | QTreeWidgetItem | None) -> None:
        """Enter or a double click: a final code is chosen; a code with children expands to them."""
        if self._chosen is not None:
            self.accept()
        elif isinstance(item, QTreeWidgetItem):
            item.setExpanded(True)
            if item.childCount():
                self.tree.setCurrentItem(item.child(0))
        elif item is not None and self._catalog is not None and self._catalog.is_valid(item.data(_CODE)):
            self._expand_result(item)

    def _expand_result(self, item: QListWidgetItem) -> None:
        """List the children of a code with children under its row, and move to the first."""
        assert self._catalog is not None
        row = self.results.row(item)
        if not item.data(_EXPANDED):
            item.setData(_EXPANDED, True)
            indent = _CHILD_INDENT * (1 + (len(item.text()) - len(item.text().lstrip())) // len(_CHILD_INDENT))
            children = [c for c in self._catalog.children(item.data(_CODE))
                        if self._catalog.in_version(c, self._version)]
            for offset, code in enumerate(children, start=1):
                child = self._result_item(code, self._catalog.title(code, self._language), indent)
                self.results.insertItem(row + offset, child)
        if row + 1 < self.results.count():
            self.results.setCurrentRow(row + 1)
