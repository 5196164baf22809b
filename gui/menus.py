"""The window's menus and toolbar from one list of actions, so menus, shortcuts and the help page agree."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QToolBar, QWidget

__all__ = ["Menus", "Shortcut", "install_menus", "make_action", "tooltip"]

Shortcut = QKeySequence | QKeySequence.StandardKey | str
Menus = list[tuple[str, list[QAction]]]  # (menu title, its actions)


def make_action(parent: QWidget, text: str, slot: Callable[[], object], shortcut: Shortcut | None = None) -> QAction:
    created = QAction(text, parent)
    if shortcut is not None:
        created.setShortcut(QKeySequence(shortcut))
    created.triggered.connect(slot)
    return created


def tooltip(action: QAction) -> str:
    """The action's words with its shortcut, as the toolbar shows them on hover: "Accept (A)"."""
    words = action.text().replace("&", "").removesuffix("…")
    keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    return f"{words} ({keys})" if keys else words


def install_menus(window: QMainWindow, sections: Menus, toolbar: list[list[QAction]]) -> Menus:
    """Put ``sections`` in the menu bar and ``toolbar``'s groups (separated) in the toolbar.

    Every action is added to the window too, so its shortcut works wherever the focus is.
    Returns the menus without their ``&`` accelerators, for the help page.
    """
    for title, actions in sections:
        for action in actions:
            action.setToolTip(tooltip(action))
        menu = window.menuBar().addMenu(title)
        menu.addActions(actions)
        window.addActions(actions)
    bar = QToolBar("Main")
    bar.setObjectName("main-toolbar")
    bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    for number, group in enumerate(toolbar):
        if number:
            bar.addSeparator()
        bar.addActions(group)
    window.addToolBar(bar)
    return [(title.replace("&", ""), actions) for title, actions in sections]
