"""The read-only document text with its mentions highlighted.

Highlights are extra selections, one per span, so a discontinuous mention is
drawn as its pieces with one colour, and nested mentions paint over their outer
one.  Engine offsets index the Python string; Qt counts UTF-16 units and turns
CRLF into one break, so every offset goes through a ``PositionMap``.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from itertools import accumulate

from PySide6.QtCore import QEvent, QPoint, Qt, Signal
from PySide6.QtGui import QHelpEvent, QMouseEvent, QPalette, QTextCharFormat, QTextCursor, QTextFormat
from PySide6.QtWidgets import QFrame, QPlainTextEdit, QTextEdit, QToolTip, QWidget

from engine.model import Assignment
from gui.presentation import describe, legend_items, mention_format

__all__ = ["MentionLegend", "MentionTextView", "PositionMap"]

_INDEX = QTextFormat.Property.UserProperty  # the assignment index a highlight stands for
_SHIFTING = re.compile("[\r\U00010000-\U0010ffff]")


class PositionMap:
    """Python string index ↔ Qt document position."""

    def __init__(self, text: str) -> None:
        self._qt: list[int] | None = None
        if _SHIFTING.search(text):
            widths = [
                0 if ch == "\r" and text[i + 1 : i + 2] == "\n" else 2 if ord(ch) > 0xFFFF else 1
                for i, ch in enumerate(text)
            ]
            self._qt = [0, *accumulate(widths)]

    def to_qt(self, index: int) -> int:
        return index if self._qt is None else self._qt[index]

    def to_text(self, position: int) -> int:
        return position if self._qt is None else bisect_left(self._qt, position)


class MentionTextView(QPlainTextEdit):
    """Shows one document; ``mention_clicked(index)`` when the coder clicks a highlight."""

    mention_clicked = Signal(int)

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
        self._map = PositionMap("")
        self._assignments: tuple[Assignment, ...] = ()
        self._current: int | None = None

    def show_text(self, text: str | None, placeholder: str = "") -> None:
        """Show ``text`` (kept when unchanged, so the scroll position stays); None shows the placeholder."""
        if text != self._text:
            self._text = text
            self._map = PositionMap(text or "")
            self._assignments, self._current = (), None
            self.setExtraSelections([])
            self.setPlainText(text or "")
        self.setPlaceholderText(placeholder)

    def set_assignments(self, assignments: tuple[Assignment, ...], current: int | None = None) -> None:
        if assignments == self._assignments and current == self._current:
            return
        self._assignments, self._current = assignments, current
        self._highlight()

    def set_current(self, index: int | None) -> None:
        """Mark the current mention and scroll to it."""
        if index == self._current:
            return
        self._current = index
        self._highlight()
        if index is not None and 0 <= index < len(self._assignments):
            cursor = QTextCursor(self.document())
            cursor.setPosition(self._map.to_qt(self._assignments[index].mention.start))
            self.setTextCursor(cursor)
            self.ensureCursorVisible()

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
        if offset is None:
            return []
        covering = [
            i for i, a in enumerate(self._assignments)
            if any(span.start <= offset < span.end for span in a.mention.spans)
        ]
        return sorted(covering, key=self._length)

    def _length(self, index: int) -> int:
        mention = self._assignments[index].mention
        return mention.end - mention.start

    def _highlight(self) -> None:
        """Outer mentions first, so nested ones paint over them; the current one last."""
        order = sorted(range(len(self._assignments)), key=lambda i: (i == self._current, -self._length(i)))
        selections = []
        for index in order:
            assignment = self._assignments[index]
            fmt = mention_format(assignment.stage, assignment.status, index == self._current)
            fmt.setProperty(_INDEX, index)
            for span in assignment.mention.spans:
                selection = QTextEdit.ExtraSelection()
                cursor = QTextCursor(self.document())
                cursor.setPosition(self._map.to_qt(span.start))
                cursor.setPosition(self._map.to_qt(span.end), QTextCursor.MoveMode.KeepAnchor)
                selection.cursor = cursor
                selection.format = fmt
                selections.append(selection)
        self.setExtraSelections(selections)


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
        for position, (label, fmt) in enumerate(items):
            if position == 0:
                cursor.insertText("Stage ", plain)
            elif position == len(items) - 4:
                cursor.insertText("     Status ", plain)
            else:
                cursor.insertText(" ", plain)
            cursor.insertText(f" {label} ", fmt)
        self.setFixedHeight(self.fontMetrics().height() * 3)  # room to wrap onto a second line
        self.setToolTip("Background: which stage proposed the code. Underline: where review stands.")
