"""The coder's review commands: move between mentions, accept, reject, change, add, delete.

Each edit is an ``engine.records.review`` call that returns a new result; the old and
new results go on the host window's undo stack, so Ctrl+Z restores exactly what was
there.  Doing, undoing and redoing each hand a ``ReviewStep`` to the session
for its audit log.  A review error (no code to accept, an invalid code) is shown, never raised.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import QDialog, QMessageBox, QPushButton, QWidget

from engine.core.codes import Edition
from engine.core.errors import ReviewError
from engine.core.model import DocumentResult, Mention, Stage
from engine.records.audit import Action, ReviewStep, Step
from engine.records.review import (
    accept,
    accept_stage,
    add_mention,
    change_code,
    choose_candidate,
    code_everywhere,
    code_everywhere_in,
    coded_edition,
    confirm_no_mentions,
    delete,
    is_open,
    is_reviewed,
    pending_elsewhere,
    pending_occurrences,
    reject,
)
from engine.records.session import ReviewSession, SessionDocument
from engine.records.session_db import SessionDatabase
from engine.records.settings import AppSettings
from engine.terms.catalog import Catalog
from gui.code_picker import CodePickerDialog
from gui.document_pane import DocumentPane
from gui.errors import show_error
from gui.worker import BackgroundOp, TaskState, heavy_op

__all__ = ["ReviewActions", "ReviewHost"]

_LOOSE = frozenset(" \t\r\n.,;:")
MakeAction = Callable[..., QAction]  # (text, slot, shortcut) -> an action of the window


class ReviewHost(Protocol):
    """What the review commands need of the window that holds them (the main window is one)."""

    session: ReviewSession
    database: SessionDatabase
    settings: AppSettings
    undo_stack: QUndoStack
    pane: DocumentPane

    @property
    def current_index(self) -> int | None: ...
    def current_document(self) -> SessionDocument | None: ...
    def select_mention(self, index: int | None) -> None: ...
    def open_dialog(self, dialog: QDialog) -> None: ...
    def apply_result(self, key: str, result: DocumentResult, select: int | None,
                     step: ReviewStep | None = None, shown: bool = True) -> None: ...
    def open_next_to_review(self, done: str | None = None) -> None: ...


class _ResultChange(QUndoCommand):
    """One review action; doing, undoing and redoing it each leave an audit row.

    A step of an action on many documents (``_Together``) is applied without being shown
    (``shown``), except the current document's."""

    def __init__(self, host: ReviewHost, key: str, before: DocumentResult, after: DocumentResult, text: str,
                 action: Action, select_before: int | None, select_after: int | None,
                 shown: bool = True) -> None:
        super().__init__(text)
        self._host, self._key, self._action, self._shown = host, key, action, shown
        self._before, self._after = (before, select_before), (after, select_after)
        self._step = Step.DO  # QUndoStack.push calls redo() once: that is the action itself

    def redo(self) -> None:
        self._apply(self._before[0], *self._after, self._step)
        self._step = Step.REDO

    def undo(self) -> None:
        self._apply(self._after[0], *self._before, Step.UNDO)

    def _apply(self, old: DocumentResult, new: DocumentResult, select: int | None, step: Step) -> None:
        coder = self._host.settings.coder
        self._host.apply_result(self._key, new, select,
                                ReviewStep(self._key, self._action, step, old, new, coder, datetime.now(UTC)),
                                self._shown)


class _Together(QUndoCommand):
    """Review steps on several documents as one undo step (each still its own audit step).

    Held in a Python list, not as Qt children: a child command's Python side was collected and
    Qt then called a deleted object."""

    def __init__(self, text: str, steps: list[_ResultChange]) -> None:
        super().__init__(text)
        self._steps = steps

    def redo(self) -> None:
        for step in self._steps:
            step.redo()

    def undo(self) -> None:
        for step in reversed(self._steps):
            step.undo()


class ReviewActions:
    """Acts on the host's current document and mention; dialogs and messages open over ``parent``."""

    def __init__(self, host: ReviewHost, parent: QWidget) -> None:
        self.host, self.parent = host, parent
        self.document_actions: list[QAction] = []  # need a coded document
        self.mention_actions: list[QAction] = []  # need a current mention too
        host.pane.candidates.chosen.connect(self.choose_candidate)

    def build_actions(self, action: MakeAction) -> list[QAction]:
        navigation = [
            action("&Next mention", self.next, "J"),
            action("&Previous mention", self.previous, "K"),
        ]
        self.mention_actions = [
            action("&Accept", self.accept, "A"),
            action("&Reject", self.reject, "R"),
            action("&Change code…", self.change_code, "C"),
        ]
        add = action("Add &mention from selection…", lambda: self.add_mention(), "M")  # not triggered's bool
        self.add_morphology_action = action("Add ICD-O-3 &morphology from selection…",
                                            lambda: self.add_mention(Edition.ICDO3), "Shift+M")
        remove = action("&Delete mention", self.delete, QKeySequence.StandardKey.Delete)
        self.mention_actions.append(remove)
        accept_all = action("Accept all &dictionary and site results", self.accept_dictionary, "Shift+A")
        next_open = action("Next &open mention (then the next document)", self.next_open, "N")
        self.confirm_action = action("C&onfirm: no mentions, nothing to code", self.confirm_no_mentions,
                                     "Ctrl+Return")
        self.document_actions = [*navigation, add, accept_all, self.add_morphology_action]
        return [*navigation, next_open, *self.mention_actions[:3], add, remove, accept_all,
                self.confirm_action, self.add_morphology_action]

    def next_open(self) -> None:
        """The next mention without a decision (wrapping round); once none is left, the next
        document to review."""
        if self.host.current_document() is not None and not self.host.pane.preparing:
            mentions = self.host.pane.mentions
            found = mentions.find(self.host.current_index, 1, is_open)
            if found is None:  # one skipped above the current mention
                found = mentions.find(None, 1, is_open)
            if found is not None:
                self.host.select_mention(found)
                return
        self.host.open_next_to_review()

    def confirm_no_mentions(self) -> None:
        """A document in which nothing was found: the coder read it and confirms there is nothing to code."""
        reviewable = self._reviewable()
        if reviewable is not None:
            self._edit(*reviewable, "Confirm no mentions", Action.CONFIRM_NO_MENTIONS, confirm_no_mentions,
                       None)

    def next(self) -> None:
        self.host.select_mention(self.host.pane.mentions.neighbour(self.host.current_index, 1))

    def previous(self) -> None:
        self.host.select_mention(self.host.pane.mentions.neighbour(self.host.current_index, -1))

    def accept(self) -> None:
        self._on_current("Accept", Action.ACCEPT, accept, self._following())

    def reject(self) -> None:
        self._on_current("Reject", Action.REJECT, reject, self._following())

    def delete(self) -> None:
        """Delete the current mention; the one after it (or before, at the end) becomes current."""
        reviewable, index = self._reviewable(), self.host.current_index
        if reviewable is not None and index is not None:
            last = len(reviewable[1].assignments) - 1
            after = index if index < last else index - 1 if index else None
            self._on_current("Delete mention", Action.DELETE, delete, after)

    def accept_dictionary(self) -> None:
        """Accept every open result a dictionary settled: the bundled one's and the site's (conflicts stay open)."""
        reviewable = self._reviewable()
        if reviewable is not None:
            key, result = reviewable
            accepted = accept_stage(accept_stage(result, Stage.DICTIONARY), Stage.SITE)
            self._push(key, result, accepted, "Accept dictionary and site results", Action.ACCEPT_ALL,
                       self.host.current_index)

    def change_code(self) -> None:
        reviewable, index = self._reviewable(), self.host.current_index
        if reviewable is None or index is None:
            return
        key, result = reviewable
        assignment = result.assignments[index]
        picker = CodePickerDialog(self.parent, assignment.edition, result.document.language,
                                  query=assignment.mention.text, current=assignment.code,
                                  version=self.host.settings.cm_version,
                                  learned=self._learned(result.document.language, assignment.edition))

        def chosen() -> None:
            code, now = picker.chosen_code(), self._result(key)
            if code is None or now is None or not _still_at(now, index, assignment.mention):
                return  # re-coded while the picker was open: the mention is not there any more
            catalog = Catalog.bundled(assignment.edition)
            self._edit(key, now, "Change code", Action.CHANGE_CODE, lambda r: change_code(r, index, code, catalog),
                       index)
            self._offer_everywhere(key, assignment.mention.text, code, catalog, Action.CHANGE_CODE, index)

        picker.accepted.connect(chosen)
        self.host.open_dialog(picker)

    def choose_candidate(self, code: str) -> None:
        """The coder clicked one of the current mention's candidates: apply it as one review step."""
        reviewable, index = self._reviewable(), self.host.current_index
        if reviewable is None or index is None or self.host.pane.preparing:
            return
        key, result = reviewable
        catalog = Catalog.bundled(result.assignments[index].edition)
        action = Action.ACCEPT if result.assignments[index].code == code else Action.CHANGE_CODE
        self._edit(key, result, f"Choose candidate {code}", action,
                   lambda r: choose_candidate(r, index, code, catalog), index)

    def add_mention(self, edition: Edition | None = None) -> None:
        """Add the selected words as a mention the pipeline missed, with a code from the picker
        (of ``edition``; None: the document's ICD-10 edition)."""
        reviewable, selected = self._reviewable(), self.host.pane.text.selected_span()
        if reviewable is None:
            return
        key, result = reviewable
        text = result.document.text
        span = _trimmed(text, selected) if selected else None
        if span is None:
            show_error(self.parent, ReviewError("select the words of the missed mention in the text first"),
                       "Add mention")
            return
        edition = edition or coded_edition(self.host.session.get(key).edition, result)
        picker = CodePickerDialog(self.parent, edition, result.document.language, query=text[slice(*span)],
                                  version=self.host.settings.cm_version,
                                  learned=self._learned(result.document.language, edition))

        def chosen() -> None:
            code, now = picker.chosen_code(), self._result(key)
            if code is None or now is None or now.document.text != text:
                return
            catalog = Catalog.bundled(edition)

            def added(after: DocumentResult) -> int:
                return next(i for i, a in enumerate(after.assignments)
                            if (a.mention.start, a.mention.end, a.code) == (*span, code))

            self._edit(key, now, "Add mention", Action.ADD_MENTION, lambda r: add_mention(r, [span], code, catalog),
                       added)
            self._offer_everywhere(key, text[slice(*span)], code, catalog, Action.ADD_MENTION, None)

        picker.accepted.connect(chosen)
        self.host.open_dialog(picker)

    def _offer_everywhere(self, key: str, term: str, code: str, catalog: Catalog, action: Action,
                          select: int | None) -> None:
        """After one mention got ``code``: offer it to every other occurrence of the term, in this document
        and in the other open documents of the same language and edition (one undoable step).  The other
        documents are searched off the UI thread: the question comes once they are."""
        now = self._result(key)
        if now is None:
            return
        language, edition = now.document.language, catalog.edition
        here = sum(map(len, pending_occurrences(now, term, code, edition)))
        others = [(d.key, d.edition, d.result) for d in self.host.session
                  if d.key != key and not d.coding and d.result is not None]

        def search(state: TaskState) -> dict[str, int]:
            with heavy_op():
                return pending_elsewhere(others, language, term, code, edition)

        BackgroundOp(self.parent, search, success=lambda elsewhere: self._ask_everywhere(
            key, term, code, catalog, action, select, here, elsewhere)).run()

    def _ask_everywhere(self, key: str, term: str, code: str, catalog: Catalog, action: Action, select: int | None,
                        here: int, elsewhere: dict[str, int]) -> None:
        if not here and not elsewhere:
            return
        places = [f"{here} more time(s) in this document"] if here else []
        if elsewhere:
            places.append(f"{sum(elsewhere.values())} time(s) in {len(elsewhere)} other open document(s)")
        question = QMessageBox(QMessageBox.Icon.Question, "Apply to every occurrence?",
                               f"“{term}” occurs {' and '.join(places)} without {code}. "
                               f"Give them {code} too?",
                               parent=self.parent)
        question.addButton("Only this mention", QMessageBox.ButtonRole.RejectRole)
        scopes: dict[QPushButton, list[str]] = {}
        role = QMessageBox.ButtonRole.AcceptRole
        if here:
            scopes[question.addButton("Every occurrence in this document", role)] = [key]
        if elsewhere:
            scopes[question.addButton("…and in the open documents", role)] = [key, *elsewhere]
        question.buttonClicked.connect(
            lambda button: self._apply_everywhere(scopes[button], term, code, catalog, action, select)
            if button in scopes else None)
        self.host.open_dialog(question)

    def _apply_everywhere(self, keys: list[str], term: str, code: str, catalog: Catalog, action: Action,
                          select: int | None) -> None:
        """One undo step of one review step per document: the audit log and the site learn each.  The
        documents are recoded off the UI thread; one the coder changed meanwhile is recoded again from
        what it holds now."""
        before = {key: result for key in keys if (result := self._result(key)) is not None}

        def recode(state: TaskState) -> dict[str, DocumentResult]:
            with heavy_op():
                return code_everywhere_in(before, term, code, catalog)

        BackgroundOp(self.parent, recode, success=lambda after: self._push_everywhere(
            before, after, term, code, catalog, action, select)).run()

    def _push_everywhere(self, before: dict[str, DocumentResult], after: dict[str, DocumentResult], term: str,
                         code: str, catalog: Catalog, action: Action, select: int | None) -> None:
        current = self.host.current_document()
        text, steps = f"Give {code} to every “{term}”", []
        for key, was in before.items():
            now = self._result(key)
            if now is None:
                continue
            try:
                changed = after.get(key, now) if now is was else code_everywhere(now, term, code, catalog)
            except ReviewError as error:
                show_error(self.parent, error, "Apply to every occurrence")
                return
            if changed is not now:
                shown = current is not None and key == current.key
                steps.append(_ResultChange(self.host, key, now, changed, text, action,
                                           select if shown else None, select if shown else None, shown))
        if steps:
            self.host.undo_stack.push(_Together(text, steps))

    def _on_current(self, text: str, action: Action, change: Callable[[DocumentResult, int], DocumentResult],
                    select: int | None) -> None:
        reviewable, index = self._reviewable(), self.host.current_index
        if reviewable is not None and index is not None:
            self._edit(*reviewable, text, action, lambda result: change(result, index), select)

    def _following(self) -> int | None:
        """The mention after the current one: review moves on by itself, as in MedCATtrainer."""
        return self.host.pane.mentions.neighbour(self.host.current_index, 1)

    def _edit(self, key: str, before: DocumentResult, text: str, action: Action,
              change: Callable[[DocumentResult], DocumentResult],
              select: int | None | Callable[[DocumentResult], int | None]) -> None:
        """Apply ``change`` as one undoable step; ``select`` is the mention to show after it."""
        try:
            after = change(before)
        except ReviewError as error:
            show_error(self.parent, error, text)
            return
        self._push(key, before, after, text, action, select(after) if callable(select) else select)

    def _push(self, key: str, before: DocumentResult, after: DocumentResult, text: str, action: Action,
              select: int | None) -> None:
        self.host.undo_stack.push(
            _ResultChange(self.host, key, before, after, text, action, self.host.current_index, select)
        )
        if is_reviewed(after) and not is_reviewed(before):  # the document's last decision: on to the next
            self.host.open_next_to_review(key)

    def _learned(self, language: str, edition: Edition) -> dict[str, int]:
        """What this site's coders chose, per code, for the picker's ranking."""
        return dict(self.host.database.site.get(language, edition).code_counts())

    def _reviewable(self) -> tuple[str, DocumentResult] | None:
        """The current document's key and result, if it can be reviewed now (coded, not being coded)."""
        document = self.host.current_document()
        if document is None or document.result is None or document.coding:
            return None
        return document.key, document.result

    def _result(self, key: str) -> DocumentResult | None:
        """The document's result now (a picker may have been open for a while), if it is reviewable."""
        try:
            document = self.host.session.get(key)
        except KeyError:  # removed meanwhile
            return None
        return None if document.coding else document.result


def _still_at(result: DocumentResult, index: int, mention: Mention) -> bool:
    return index < len(result.assignments) and result.assignments[index].mention == mention


def _trimmed(text: str, span: tuple[int, int]) -> tuple[int, int] | None:
    """The span without the spaces and punctuation a mouse selection tends to catch; None if empty."""
    start, end = span
    while start < end and text[start] in _LOOSE:
        start += 1
    while end > start and text[end - 1] in _LOOSE:
        end -= 1
    return (start, end) if start < end else None
