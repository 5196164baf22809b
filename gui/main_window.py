"""The review window: documents on the left, the text with its mentions, the results on the right.

A thin shell: coding runs in ``CodingRun``, review edits are ``engine.records.review``
calls pushed on an undo stack (``ReviewActions``), saving is ``Autosave`` into
the session database (``engine.records.session_db``), the current document is shown by
``DocumentPane``.  The window wires them together and owns the session's commands (open,
code, remove, resume, choose a language or edition, move on to the next document to review,
dialogs): about 480 lines, kept whole because each command reads and changes the same few parts
and a split would only pass the window around.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QShowEvent,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import FolderReadError, SessionError
from engine.core.model import DocumentResult
from engine.linking.llm.backend import BackendSettings
from engine.models import ModelStore
from engine.records.audit import ReviewStep
from engine.records.review import DONE_STATUSES, is_open
from engine.records.session import DocumentState, ReviewSession, SessionDocument
from engine.records.session_db import SessionDatabase, open_session
from engine.records.settings import AppSettings
from engine.text.input_files import find_input_files
from gui.autosave import Autosave
from gui.coding_run import CodingRun
from gui.document_list import DocumentList
from gui.document_pane import LANGUAGE_NAMES, DocumentPane
from gui.errors import show_error
from gui.export_dialog import ExportDialog, export_session
from gui.help_dialog import HelpDialog
from gui.menus import Menus, install_menus, make_action
from gui.model_manager import ModelManagerDialog
from gui.review_actions import ReviewActions
from gui.settings_dialog import SettingsDialog
from gui.site_dictionary_dialog import SiteDictionaryDialog
from gui.window_state import restore_splitters, save_splitters
from gui.worker import ui_first

__all__ = ["MainWindow"]

_DOCUMENT_FILTER = "Documents (*.txt *.docx *.pdf);;All files (*)"
_TO_REVIEW = (DocumentState.CODED, DocumentState.NO_MENTIONS)


class MainWindow(QMainWindow):
    def __init__(
        self,
        session: ReviewSession,
        settings: AppSettings,
        *,
        session_path: Path | None = None,
        database: SessionDatabase | None = None,
        store: ModelStore | None = None,
    ) -> None:
        """``database`` keeps ``session`` (see ``gui.app.open_window``); without one, the database at
        ``session_path`` (default: the user's) is opened and from now on holds this session."""
        super().__init__()
        self.setWindowTitle("icdlinker")
        self.setAcceptDrops(True)
        self.resize(1440, 860)
        self.session = session
        self.settings = settings
        self._store = store
        if database is None:
            database = open_session(session_path).database
            database.submit(session.take_changes(everything=True))
        self.database = database
        self.destroyed.connect(database.close)
        self.autosave = Autosave(self, session, database)
        self.coding = CodingRun(self, session, settings, database.site)
        self.undo_stack = QUndoStack(self)
        self._dirty: set[str] = set()
        self._shown = False
        self.dialog: QDialog | None = None  # the last dialog opened

        self.documents = DocumentList()
        self.pane = DocumentPane(self, self.current_document)
        self.review = ReviewActions(self, parent=self)
        self._build_layout()
        self.actions_by_menu = self._build_actions()
        for widget in self.coding.widgets:
            self.statusBar().addPermanentWidget(widget)

        self.documents.current_changed.connect(self._document_changed)
        self.pane.changed.connect(self._update_actions)
        self.pane.language.activated.connect(self._language_chosen)
        self.pane.edition.activated.connect(self._edition_chosen)
        self.coding.document_changed.connect(self.document_changed)
        self.coding.running_changed.connect(self._running_changed)
        self.documents.set_documents(session.documents)
        if session.documents and self.documents.current_key() is None:
            self.documents.select_key(session.documents[0].key)
        self._update_actions()

    # --- what is shown ------------------------------------------------------------------

    def current_document(self) -> SessionDocument | None:
        key = self.documents.current_key()
        return self.session.get(key) if key else None

    def document_changed(self, key: str) -> None:
        """A document's result or state changed: refresh it once the current burst of changes is in."""
        if not self._dirty:
            QTimer.singleShot(0, self, self._refresh_dirty)  # skipped if the window is gone
        self._dirty.add(key)
        self.autosave.changed()

    def select_mention(self, index: int | None) -> None:
        """Make ``index`` the current mention everywhere (the pane keeps the views in step)."""
        self.pane.select_mention(index)

    @property
    def current_index(self) -> int | None:
        """The current mention of the current document."""
        return self.pane.current_index

    def _refresh_dirty(self) -> None:
        ui_first()
        dirty, self._dirty = self._dirty, set()
        current = self.documents.current_key()
        for key in dirty:
            try:
                self.documents.update_document(self.session.get(key))
            except KeyError:  # removed meanwhile
                continue
        if current in dirty:
            self._show_current()
        self._update_actions()

    def _document_changed(self, key: str) -> None:
        self.pane.current_index = None
        self._show_current()

    def _show_current(self) -> None:
        self.pane.show(self.current_document())

    def _update_actions(self) -> None:
        document = self.current_document()
        reviewable = (document is not None and document.result is not None and not document.coding
                      and not self.pane.preparing)
        for action in self.review.document_actions:
            action.setEnabled(reviewable)
        for action in self.review.mention_actions:
            action.setEnabled(reviewable and self.current_index is not None)
        self.review.confirm_action.setEnabled(reviewable and document is not None
                                              and document.state is DocumentState.NO_MENTIONS)
        running = self.coding.is_running()
        self.code_new_action.setEnabled(not running)
        self.code_selected_action.setEnabled(not running and document is not None)
        self.cancel_action.setEnabled(running)
        self.remove_action.setEnabled(not running and document is not None)
        self.pane.set_choices_enabled(document is not None and not running)
        count = len(self.session)
        self.setWindowTitle(f"icdlinker — {count} documents" if count else "icdlinker")

    # --- documents ----------------------------------------------------------------------

    def open_paths(self, paths: list[Path]) -> list[SessionDocument]:
        """Add files and folders to the session (already open ones are skipped).

        Folders that cannot be searched are reported once, with the engine's code:
        the coder must know that their documents are missing from the worklist.
        """
        found = find_input_files(paths)
        added = self.session.add_paths(found.files)
        if found.unreadable:
            first = found.unreadable[0]
            show_error(self, FolderReadError(
                f"{len(found.unreadable)} folder(s) could not be searched, so their documents were not added: "
                + "; ".join(error.message for error in found.unreadable[:5]), hint=first.hint,
            ), "Open documents")
        self.documents.set_documents(self.session.documents)
        if added:
            self.documents.select_key(added[0].key)
            self.statusBar().showMessage(f"{len(added)} document(s) added: press F5 to code them.", 8000)
        else:
            self.statusBar().showMessage(
                "No new documents: they are open already, or not .txt, .docx or .pdf.", 8000
            )
        self.autosave.changed()
        self._update_actions()
        return added

    def code_new(self) -> None:
        """Code every document not coded yet (new ones, and ones that failed)."""
        self.code([d for d in self.session if d.state in (DocumentState.NEW, DocumentState.ERROR)])

    def code_selected(self) -> None:
        self.code([self.session.get(key) for key in self.documents.selected_keys()])

    def code(self, documents: list[SessionDocument]) -> None:
        """Code these documents in one background run; asks before replacing a coder's review."""
        reviewed = [d for d in documents if _has_decisions(d)]
        if reviewed and not self.ask(
            "Code again?",
            f"{len(reviewed)} document(s) already have review decisions, which coding again replaces:\n"
            + "\n".join(d.name for d in reviewed[:10]) + "\n\nCode them again?",
        ):
            documents = [d for d in documents if d not in reviewed]
        self._start(documents)

    def _start(self, documents: list[SessionDocument]) -> None:
        if documents:
            self.undo_stack.clear()  # results are about to be replaced: undo would restore stale ones
            self.statusBar().clearMessage()  # the run's progress takes the status bar
            self.coding.start(documents)
            self._update_actions()

    def remove_current(self) -> None:
        document = self.current_document()
        if document is None or self.coding.is_running():
            return
        if document.result and not self.ask("Remove document?", f"Remove {document.name} and its results "
                                            "from the session? The file itself is not touched."):
            return
        self.session.remove(document.key)
        self.undo_stack.clear()
        self.documents.set_documents(self.session.documents)
        self.autosave.changed()

    def apply_result(self, key: str, result: DocumentResult, select: int | None,
                     step: ReviewStep | None = None, shown: bool = True) -> None:
        """Store a reviewed result (from an edit, an undo or a redo: ``step``, for the audit log) and show it
        (not ``shown``: one of many documents an action changed, updated in the list only)."""
        self.session.set_result(key, result, step)
        if not shown:
            self.documents.update_document(self.session.get(key))
            self.autosave.changed()
            return
        if self.documents.current_key() != key:
            self.documents.select_key(key)
        self.documents.update_document(self.session.get(key))
        self._show_current()
        self.select_mention(select)
        self.autosave.changed()

    def open_next_to_review(self, done: str | None = None) -> None:
        """Open the next document in the list (as sorted and filtered) that still needs review, at its
        first open mention; the status bar says where review moved, or that nothing is left.

        ``done``: the document just reviewed.  Where the list is filtered to what needs review it has
        left the list already, and the row after it became current: that one is next."""
        current = self.documents.current_key()
        if done is not None and current not in (None, done) and self.session.get(current).state in _TO_REVIEW:
            key: str | None = current
        else:
            key = self.documents.next_key(lambda d: d.state in _TO_REVIEW, self.session.get, current)
        if key is None:
            self.statusBar().showMessage("No other document in the list needs review.", 8000)
            return
        finished = done if done is not None else current
        done_name = self.session.get(finished).name if finished else ""
        self.documents.select_key(key)
        if not self.pane.preparing:
            first = self.pane.mentions.find(None, 1, is_open)
            if first is not None:
                self.select_mention(first)
        moved = f"{self.session.get(key).name} opened" + (f"; {done_name} is done" if done_name else "")
        self.statusBar().showMessage(moved + " (Ctrl+Z goes back).", 8000)

    def offer_resume(self, keys: list[str]) -> None:
        """The app stopped during a coding run: offer to code its unfinished documents again."""
        wanted = set(keys)
        documents = [d for d in self.session if d.key in wanted]
        if not documents:
            return
        if self.ask("Resume coding?", f"icdlinker stopped while {len(documents)} document(s) were being coded:\n"
                    + "\n".join(d.name for d in documents[:10]) + "\n\nCode them now?"):
            self._start(documents)  # the coder agreed to replace their results when the run began
            return
        for document in documents:  # no longer coding, on disk too
            self.session.touch(document.key)
        self.autosave.changed()

    def ask(self, title: str, text: str) -> bool:
        """A yes/no question; the one place the window asks one."""
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes

    def _language_chosen(self, row: int) -> None:
        document = self.current_document()
        if document is None:
            return
        language = self.pane.language.itemData(row)
        document.language_fixed = language is not None
        document.language = language or document.language
        self.session.touch(document.key)
        name = LANGUAGE_NAMES.get(document.language or "", "the detected language")
        self._recode_after_change(document, f"in {name}")

    def _edition_chosen(self, row: int) -> None:
        document = self.current_document()
        if document is None:
            return
        document.edition = self.pane.edition.itemData(row)
        self.session.touch(document.key)
        label = document.edition.label if document.edition else "its language's edition"
        self._recode_after_change(document, f"with {label}")

    def _recode_after_change(self, document: SessionDocument, how: str) -> None:
        self.autosave.changed()
        self.pane.show_header(document)
        replaced = "results and review decisions" if _has_decisions(document) else "results"
        if document.result is not None and self.ask(
            "Code again?", f"Code {document.name} again {how}? Its current {replaced} are replaced."
        ):
            self._start([document])

    def _running_changed(self, running: bool) -> None:
        if not running:
            self._refresh_dirty()  # the run's last results are on screen when it reports the end
        self._update_actions()

    # --- dialogs ------------------------------------------------------------------------

    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open documents", "", _DOCUMENT_FILTER)
        if paths:
            self.open_paths([Path(p) for p in paths])

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of documents")
        if folder:
            self.open_paths([Path(folder)])

    def export(self) -> None:
        document = self.current_document()
        dialog = ExportDialog(self, self.settings, document is not None and document.result is not None)
        dialog.accepted.connect(lambda: self.apply_settings(dialog.remembered(self.settings)))  # the next export's
        dialog.accepted.connect(self.autosave.hand_over)  # the audit rows the export reads include the last decision
        dialog.accepted.connect(lambda: export_session(self, self.session, self.current_document(), dialog.choice(),
                                                       self.database))
        self.open_dialog(dialog)

    def edit_settings(self) -> None:
        dialog = SettingsDialog(self, self.settings, self._models())
        dialog.accepted.connect(lambda: self.apply_settings(dialog.result_settings()))
        self.open_dialog(dialog)

    def apply_settings(self, settings: AppSettings) -> None:
        try:
            settings.save()
        except SessionError as error:
            show_error(self, error, "The settings could not be saved")
        self.settings = settings
        self.coding.configure(settings)

    def manage_models(self) -> None:
        settings = self.settings
        dialog = ModelManagerDialog(
            self, self._models(), loaded=lambda: self.coding.coder.model_loaded, context_size=settings.context_size,
            reviewed=self._reviewed_results,
            document_languages=lambda: {d.language for d in self.session if d.language},
            backend=BackendSettings(settings.gpu_layers_value(),  # type: ignore[arg-type]
                                    settings.threads, settings.context_size),
            skip_margin=settings.llm_skip_margin,
            loaded_stage=lambda: self.coding.coder.stage,
        )
        dialog.model_selected.connect(
            lambda model_id: self.apply_settings(self.settings.with_changes(model=model_id))
        )
        self.open_dialog(dialog)

    def _reviewed_results(self) -> list[DocumentResult]:
        """The coder's decisions, the gold a model test measures against."""
        return [d.result for d in self.session if d.result is not None and d.state is DocumentState.REVIEWED]

    def show_site_dictionary(self) -> None:
        """What this workstation's coders taught: search, check, correct, export and import it."""
        self.open_dialog(SiteDictionaryDialog(self, self))

    def show_help(self) -> None:
        self.open_dialog(HelpDialog(self, self.actions_by_menu))

    def open_dialog(self, dialog: QDialog) -> None:
        """Open a non-modal dialog (the coder can keep reading the text); ``self.dialog`` is it, for tests."""
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog = dialog
        dialog.open()

    def _models(self) -> ModelStore:
        if self._store is None:
            self._store = ModelStore()
        return self._store

    # --- saving and closing -------------------------------------------------------------

    def save_session(self) -> None:
        """Write everything now and wait for it (closing; the crash handler calls this too)."""
        self.autosave.save_now()

    def showEvent(self, event: QShowEvent) -> None:
        if not self._shown:  # the window has its size only now
            self._shown = True
            if not restore_splitters(self._splitters()):
                width = self.width()
                self.splitter.setSizes([width * 24 // 100, width * 34 // 100, width * 42 // 100])
        super().showEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._shown:
            save_splitters(self._splitters())
        for dialog in self.findChildren(QDialog):
            if dialog.isVisible():
                dialog.close()  # first: a model test borrowing the loaded model ends cancelled, not cut short
        self.coding.close()
        self.save_session()
        event.accept()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # --- layout and actions -------------------------------------------------------------

    def _splitters(self) -> dict[str, QSplitter]:
        """The dividers the coder may move, by the name they are remembered under."""
        return {"columns": self.splitter, "results": self.pane.right}

    def _build_layout(self) -> None:
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.documents.filter_bar)
        left_layout.addWidget(self.documents, 1)
        for widget in (left, self.pane.middle, self.pane.right):
            self.splitter.addWidget(widget)
        self.splitter.setStretchFactor(1, 1)
        self.setCentralWidget(self.splitter)

    def _build_actions(self) -> Menus:
        """Menus, toolbar and shortcuts; returns the menus' actions for the help page."""
        action = partial(make_action, self)
        file_actions = [
            action("&Open documents…", self.choose_files, QKeySequence.StandardKey.Open),
            action("Open &folder…", self.choose_folder, "Ctrl+Shift+O"),
            action("&Export…", self.export, "Ctrl+E"),
            action("Site &dictionary…", self.show_site_dictionary, "Ctrl+D"),
        ]
        self.remove_action = action("&Remove document", self.remove_current, "Ctrl+Delete")
        file_actions += [self.remove_action, action("&Quit", self.close, QKeySequence.StandardKey.Quit)]
        self.code_new_action = action("&Code new documents", self.code_new, "F5")
        self.code_selected_action = action("Code &selected documents", self.code_selected, "Shift+F5")
        self.cancel_action = action("C&ancel coding", self.coding.cancel, "Escape")
        coding_actions = [self.code_new_action, self.code_selected_action, self.cancel_action]
        undo = self.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcuts(QKeySequence.StandardKey.Undo)
        redo = self.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcuts(QKeySequence.StandardKey.Redo)  # Ctrl+Shift+Z and Ctrl+Y alike
        settings = action("&Settings…", self.edit_settings, QKeySequence.StandardKey.Preferences)
        find = [action("&Find in text…", self.pane.find_bar.start, QKeySequence.StandardKey.Find),
                action("Find &next", self.pane.find_bar.find, QKeySequence.StandardKey.FindNext),
                action("Find pre&vious", lambda: self.pane.find_bar.find(backward=True),
                       QKeySequence.StandardKey.FindPrevious)]
        review_actions = self.review.build_actions(action)
        group = QAction("&Group nested mentions", self, checkable=True, checked=True)
        group.toggled.connect(self.pane.mentions.set_grouped)
        help_actions = [
            action("Keyboard shortcuts and &help", self.show_help, QKeySequence.StandardKey.HelpContents),
            action("&Language models…", self.manage_models),
        ]
        sections = [("&File", file_actions), ("&Edit", [undo, redo, *find, settings]),
                    ("&Review", [*review_actions, group]), ("&Coding", coding_actions), ("&Help", help_actions)]
        toolbar = [[file_actions[0], self.code_new_action, self.cancel_action], review_actions[2:],
                   [undo, file_actions[2]]]
        return install_menus(self, sections, toolbar)

def _has_decisions(document: SessionDocument) -> bool:
    return document.result is not None and any(a.status in DONE_STATUSES for a in document.result.assignments)

