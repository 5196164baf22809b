"""The read-only document text with its mentions highlighted.

Highlights are extra selections, one per span, so a discontinuous mention is
drawn as its pieces with one colour, and nested mentions paint over their outer
one.  Only the mentions on screen and a margin around it get one: a document of
many megabytes has tens of thousands of mentions, and Qt walks every extra
selection for each paint and each change.  Scrolling past the margin moves them.

A long text goes into the widget a slice at a time between events (``loaded``
when all is in), so the window keeps answering while a 20 MB document arrives.
Engine offsets index the Python string; Qt counts UTF-16 units, turns CRLF into
one break, and gets a break of ours in a line too long to lay out at once, so
every offset goes through a ``PositionMap``.
"""

from __future__ import annotations

import re
import time
from bisect import bisect_left, bisect_right

from PySide6.QtCore import QEvent, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import (
    QHelpEvent,
    QMouseEvent,
    QPalette,
    QResizeEvent,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
)
from PySide6.QtWidgets import QFrame, QPlainTextEdit, QTextEdit, QToolTip, QWidget

from engine.core.model import Assignment, ReviewStatus, Stage
from gui.mention_index import MentionIndex
from gui.presentation import STAGE_COLORS, describe, is_morphology_mention, legend_items, mention_format

__all__ = ["MentionLegend", "MentionTextView", "PositionMap"]

_INDEX = QTextFormat.Property.UserProperty  # the assignment index a highlight stands for
_SHIFTING = re.compile("\r(?=\n)|[\U00010000-\U0010ffff]")
SLICE = 64 * 1024  # characters put into the widget at a time; a line longer than this is broken
SLICE_BUDGET_S = 0.012  # how long one turn of loading may hold the UI thread
MARGIN = 8_000  # characters above and below the screen whose mentions are highlighted too


class PositionMap:
    """Python string index ↔ Qt document position, built slice by slice as the text is loaded.

    Qt positions differ from string indices only after a CR of a CRLF (one unit
    less), an astral character (one more) or a break we inserted (one more): the
    map keeps those shifts, sorted, and answers by bisection.
    """

    def __init__(self, text: str = "") -> None:
        self._length = 0
        self._at: list[int] = []  # the first string index each shift applies to
        self._shift: list[int] = []  # the total shift from there on
        self._last_qt: list[int] = []  # the last Qt position before each shift
        self.extend(text)

    def extend(self, text: str, broken: bool = False) -> None:
        """Map ``text`` appended to what is mapped already; ``broken``: Qt got a break after it."""
        base = self._length
        for match in _SHIFTING.finditer(text):
            self._add(base + match.end(), -1 if match.group() == "\r" else 1)
        self._length += len(text)
        if broken:
            self._add(self._length, 1)

    def to_qt(self, index: int) -> int:
        count = bisect_right(self._at, index)
        return index + (self._shift[count - 1] if count else 0)

    def to_text(self, position: int) -> int:
        """The first string index at or after Qt ``position``."""
        count = bisect_left(self._last_qt, position)
        if not count:
            return position
        return max(self._at[count - 1], position - self._shift[count - 1])

    def _add(self, at: int, delta: int) -> None:
        before = self._shift[-1] if self._shift else 0
        if self._at and self._at[-1] == at:  # an astral character right before our break
            self._shift[-1] += delta
            return
        self._at.append(at)
        self._last_qt.append(at - 1 + before)
        self._shift.append(before + delta)


class MentionTextView(QPlainTextEdit):
    """Shows one document; ``mention_clicked(index)`` when the coder clicks a highlight."""

    mention_clicked = Signal(int)
    loaded = Signal()  # the whole text is in the widget

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setUndoRedoEnabled(False)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setMouseTracking(True)
        font = self.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)  # read all day: a little larger than the UI
        self.setFont(font)
        self._text: str | None = None
        self._map = PositionMap()
        self._loaded = 0  # characters of the text in the widget so far
        self._loader = QTimer(self)
        self._loader.setSingleShot(True)
        self._loader.timeout.connect(self._load_more)
        self._assignments: tuple[Assignment, ...] = ()
        self._index = MentionIndex(())
        self._current: int | None = None
        self._scroll_pending = False  # the current mention is not in the widget yet: scroll when it is
        self._band = (0, 0)  # the text range whose mentions are highlighted now
        self._formats: dict[tuple[Stage | None, ReviewStatus, bool, bool], QTextCharFormat] = {}
        # (mention, span start) → (what it was drawn for, its selection): kept while unchanged
        self._drawn: dict[tuple[int, int], tuple[object, QTextEdit.ExtraSelection]] = {}
        self.verticalScrollBar().valueChanged.connect(self._follow_screen)

    def show_text(self, text: str | None, placeholder: str = "") -> None:
        """Show ``text`` (kept when unchanged, so the scroll position stays); None shows the placeholder."""
        if text != self._text:
            self._loader.stop()
            # Clear the widget before dropping the selections that drew it: the other order crashed
            # (SIGSEGV) after ~200 document switches in tests/test_long_session.py.
            self.setExtraSelections([])
            self.setPlainText("")
            self._text = text
            self._map = PositionMap()
            self._loaded = 0
            self._assignments, self._index, self._current, self._band = (), MentionIndex(()), None, (0, 0)
            self._scroll_pending, self._drawn = False, {}
            self._load_more()
        if placeholder != self.placeholderText():
            self.setPlaceholderText(placeholder)
            # Qt repaints only when the placeholder appears or disappears: one document's message
            # replaced by another's stayed on screen (broken.pdf's error shown for empty.txt).
            self.viewport().update()

    def find(self, words: str, backward: bool = False) -> tuple[int, int, int, int] | None:
        """Select the next (or previous) place ``words`` occur, case-insensitively, wrapping round.

        Returns (start, end, which, how many) in the Python string, or None if they are nowhere
        (or only in the part of a long text that is not loaded yet).  The selection is what
        "Add mention" takes, so a term found can be added as a missed mention at once.
        """
        words = words.strip()
        if not self._text or not words:
            return None
        pattern = re.compile(re.escape(words), re.IGNORECASE)
        cursor = self.textCursor()
        start, end = (self._map.to_text(p) for p in (cursor.selectionStart(), cursor.selectionEnd()))
        if backward:
            spans = ([m.span() for m in pattern.finditer(self._text, 0, start)]
                     or [m.span() for m in pattern.finditer(self._text)])  # wrapped round to the end
            span = spans[-1] if spans else None
        else:
            match = pattern.search(self._text, end) or pattern.search(self._text)
            span = match.span() if match else None
        if span is None or span[1] > self._loaded:
            return None
        selection = QTextCursor(self.document())
        selection.setPosition(self._map.to_qt(span[0]))
        selection.setPosition(self._map.to_qt(span[1]), QTextCursor.MoveMode.KeepAnchor)
        self.setTextCursor(selection)
        self.ensureCursorVisible()
        which = sum(1 for _ in pattern.finditer(self._text, 0, span[0])) + 1
        return span[0], span[1], which, which + sum(1 for _ in pattern.finditer(self._text, span[1]))

    def is_loading(self) -> bool:
        return self._text is not None and self._loaded < len(self._text)

    def set_assignments(self, assignments: tuple[Assignment, ...], current: int | None = None,
                        index: MentionIndex | None = None) -> None:
        """Highlight these results (``index``: their mentions' index, if the caller has it)."""
        if assignments == self._assignments and current == self._current:
            return
        self._assignments, self._current = assignments, current
        index = MentionIndex.following(self._index, assignments) if index is None else index
        if index is not self._index:
            self._index, self._drawn = index, {}
        self._highlight()

    def set_current(self, index: int | None) -> None:
        """Mark the current mention and scroll to it (once its part of the text is in)."""
        if index == self._current:
            return
        self._current = index
        self._scroll_to_current()
        self._highlight()

    def selected_span(self) -> tuple[int, int] | None:
        """The selected text as a (start, end) span of the document, or None."""
        cursor = self.textCursor()
        if not cursor.hasSelection():
            return None
        return self._map.to_text(cursor.selectionStart()), self._map.to_text(cursor.selectionEnd())

    def highlights(self) -> dict[int, list[tuple[int, int]]]:
        """Each highlighted assignment's spans, read back from the extra selections (for tests)."""
        found: dict[int, list[tuple[int, int]]] = {}
        for selection in self.extraSelections():
            index = selection.format.property(_INDEX)
            spans = found.setdefault(index, [])
            spans.append((self._map.to_text(selection.cursor.selectionStart()),
                          self._map.to_text(selection.cursor.selectionEnd())))
        return {index: sorted(spans) for index, spans in found.items()}

    def highlighted_range(self) -> tuple[int, int]:
        """The text range whose mentions are highlighted: the screen and a margin (all of a short text)."""
        return self._band

    def mention_at(self, point: QPoint) -> int | None:
        """The innermost mention under ``point`` (viewport coordinates)."""
        covering = self._covering(self._offset_at(point))
        return covering[0] if covering else None

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            self._show_tooltip(event)
            return True
        return super().event(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        if not self.textCursor().hasSelection():
            index = self.mention_at(event.position().toPoint())
            if index is not None:
                self.mention_clicked.emit(index)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._follow_screen()

    def _load_more(self) -> None:
        """Put slices of the text into the widget for up to SLICE_BUDGET_S, then let events run."""
        text = self._text or ""
        started, before = time.perf_counter(), self._loaded
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        while self._loaded < len(text) and time.perf_counter() - started < SLICE_BUDGET_S:
            end, broken = _slice_end(text, self._loaded)
            piece = text[self._loaded : end]
            cursor.insertText(piece + "\n" if broken else piece)
            self._map.extend(piece, broken)
            self._loaded = end
        if before == 0:
            self.moveCursor(QTextCursor.MoveOperation.Start)  # the view's cursor moved with the insertion
        if self._loaded < len(text):
            self._loader.start(0)
        else:
            self.loaded.emit()
        if self._scroll_pending:
            self._scroll_to_current()
        if self._band[1] >= before:  # the highlights stopped where the text did
            self._highlight()

    def _show_tooltip(self, event: QHelpEvent) -> None:
        covering = self._covering(self._offset_at(self.viewport().mapFromGlobal(event.globalPos())))
        if not covering:
            QToolTip.hideText()
            return
        html = "<hr>".join(describe(self._assignments[i]) for i in covering)
        QToolTip.showText(event.globalPos(), html, self)

    def _offset_at(self, point: QPoint) -> int | None:
        """The document offset of the character under ``point``."""
        if self._text is None:
            return None
        cursor = self.cursorForPosition(point)
        position = cursor.position()
        if self.cursorRect(cursor).center().x() > point.x():
            position -= 1  # the point is on the character before the nearest gap
        return self._map.to_text(max(position, 0))

    def _covering(self, offset: int | None) -> list[int]:
        """Mentions with a span over ``offset``, innermost first."""
        return [] if offset is None else self._index.covering(offset)

    def _current_position(self) -> int | None:
        """Where the current mention starts, if it is in the widget yet."""
        if self._current is None or not 0 <= self._current < len(self._assignments):
            return None
        start = self._assignments[self._current].mention.start
        return start if start < self._loaded else None

    def _scroll_to_current(self) -> None:
        position = self._current_position()
        self._scroll_pending = position is None and self._current is not None
        if position is not None:
            cursor = QTextCursor(self.document())
            cursor.setPosition(self._map.to_qt(position))
            self.setTextCursor(cursor)
            self.ensureCursorVisible()

    def _screen(self) -> tuple[int, int]:
        """The text range on screen."""
        top = self.firstVisibleBlock().position()
        corner = self.viewport().rect().bottomRight()
        bottom = self.cursorForPosition(corner).position() + 1
        return self._map.to_text(top), self._map.to_text(bottom)

    def _follow_screen(self, *_: object, force: bool = False) -> None:
        """Highlight the mentions around the screen again once it leaves the highlighted range."""
        top, bottom = self._screen()
        start, end = self._band
        if force or top < start or bottom > end:
            self._highlight()

    def _highlight(self) -> None:
        """Outer mentions first, so nested ones paint over them; the current one last.

        A mention's selections are kept while its result and whether it is current stay the
        same, so a keypress builds the one or two that changed, not all on screen.
        """
        top, bottom = self._screen()
        self._band = (max(0, top - MARGIN), min(self._loaded, bottom + MARGIN))
        spans = self._index.spans_between(*self._band)
        spans.sort(key=lambda span: (span[2] == self._current, -self._index.length(span[2])))
        kept, self._drawn = self._drawn, {}
        selections = []
        for start, end, index in spans:
            key = (self._assignments[index], index == self._current, start, end)
            drawn = kept.get((index, start))
            fresh = drawn is None or drawn[0] != key
            selection = self._selection(index, start, end) if fresh else drawn[1]  # type: ignore[index]
            if end <= self._loaded:  # a span cut at the end of the text so far is drawn again when more comes
                self._drawn[index, start] = key, selection
            selections.append(selection)
        self.setExtraSelections(selections)

    def _selection(self, index: int, start: int, end: int) -> QTextEdit.ExtraSelection:
        assignment = self._assignments[index]
        selection = QTextEdit.ExtraSelection()
        cursor = QTextCursor(self.document())
        cursor.setPosition(self._map.to_qt(start))
        cursor.setPosition(self._map.to_qt(min(end, self._loaded)), QTextCursor.MoveMode.KeepAnchor)
        selection.cursor = cursor
        selection.format = self._format(assignment, index)
        return selection

    def _format(self, assignment: Assignment, index: int) -> QTextCharFormat:
        key = (assignment.stage, assignment.status, index == self._current, is_morphology_mention(assignment))
        if key not in self._formats:
            self._formats[key] = mention_format(*key)
        fmt = QTextCharFormat(self._formats[key])
        fmt.setProperty(_INDEX, index)
        return fmt

def _slice_end(text: str, start: int) -> tuple[int, bool]:
    """Where the slice from ``start`` ends (after a line break), and whether Qt needs a break of ours there.

    A line longer than a slice (a whole file on one line) is cut at a space: Qt
    lays out a line at once, and a line of megabytes would take minutes.
    """
    limit = start + SLICE
    if limit >= len(text):
        return len(text), False
    newline = text.rfind("\n", start, limit + 1)
    if newline >= 0:
        return newline + 1, False
    space = text.rfind(" ", start + SLICE // 2, limit)
    return (space + 1 if space >= 0 else limit), True


class MentionLegend(QPlainTextEdit):
    """One line under the text: the stage colours and status styles, drawn exactly as in the text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.viewport().setBackgroundRole(QPalette.ColorRole.Window)
        cursor = QTextCursor(self.document())
        plain = QTextCharFormat()
        items = legend_items()
        headings = {0: "Stage ", len(STAGE_COLORS): "     Status ", len(items) - 1: "     Classification "}
        for position, (label, fmt) in enumerate(items):
            cursor.insertText(headings.get(position, " "), plain)
            cursor.insertText(f" {label} ", fmt)
        self.setFixedHeight(self.fontMetrics().height() * 3)  # room to wrap onto a second line
        self.setToolTip("Background: which stage proposed the code. Underline: where review stands. "
                        "A line over brown words: an ICD-O-3 morphology mention.")
