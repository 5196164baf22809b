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
from PySide6.QtWidgets import QDialog, QWidget

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
    delete,
    reject,
)
from engine.records.session import ReviewSession, SessionDocument
from engine.records.session_db import SessionDatabase
from engine.records.settings import AppSettings
from engine.terms.catalog import Catalog
from engine.terms.dictionary import DEFAULT_EDITIONS
from gui.code_picker import CodePickerDialog
from gui.document_pane import DocumentPane
from gui.errors import show_error

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
                     step: ReviewStep | None = None) -> None: ...


class _ResultChange(QUndoCommand):
    """One review action; doing, undoing and redoing it each leave an audit row."""

    def __init__(self, host: ReviewHost, key: str, before: DocumentResult, after: DocumentResult, text: str,
                 action: Action, select_before: int | None, select_after: int | None) -> None:
        super().__init__(text)
        self._host, self._key, self._action = host, key, action
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
                                  ReviewStep(self._key, self._action, step, old, new, coder, datetime.now(UTC)))


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
        add = action("Add &mention from selection…", self.add_mention, "M")
        remove = action("&Delete mention", self.delete, QKeySequence.StandardKey.Delete)
        self.mention_actions.append(remove)
        accept_all = action("Accept all &dictionary and site results", self.accept_dictionary, "Shift+A")
        self.document_actions = [*navigation, add, accept_all]
        return [*navigation, *self.mention_actions[:3], add, remove, accept_all]

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

    def add_mention(self) -> None:
        """Add the selected words as a mention the pipeline missed, with a code from the picker."""
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
        edition = _edition(self.host.session.get(key).edition, result)
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

        picker.accepted.connect(chosen)
        self.host.open_dialog(picker)

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


def _edition(chosen: Edition | None, result: DocumentResult) -> Edition:
    """The edition the document is coded in: the coder's choice, its results', else its language's."""
    if chosen is not None:
        return chosen
    if result.assignments:
        return result.assignments[0].edition
    return DEFAULT_EDITIONS.get(result.document.language, Edition.WHO)
