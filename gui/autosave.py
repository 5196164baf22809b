"""Hand every change to the session database at once, so a crash loses at most the last decision.

``changed`` schedules one hand-over for the current burst of changes (the next
turn of the event loop): the session's changed documents are copied and queued
for the database's writer thread, which serialises and commits them.  The UI
thread never waits for the disk, except in ``save_now`` (closing, crashing).
A failing save is shown once, not after every action.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

from engine.core.errors import SessionError
from engine.records.session import ReviewSession
from engine.records.session_db import SessionDatabase
from gui.errors import show_error

__all__ = ["Autosave"]


class Autosave(QObject):
    _failed = Signal(object)  # emitted on the writer thread, shown on the UI thread

    def __init__(self, parent: QWidget, session: ReviewSession, database: SessionDatabase) -> None:
        super().__init__(parent)
        self._parent = parent
        self.session = session
        self.database = database
        self._scheduled = False
        self._failing = False
        self._failed.connect(self._show_failure)
        database.on_error = self._failed.emit

    def changed(self) -> None:
        """The session changed: hand the change over as soon as this burst of events is done."""
        if not self._scheduled:
            self._scheduled = True
            QTimer.singleShot(0, self, self.hand_over)

    def save_now(self) -> bool:
        """Hand over and wait until it is written (closing, the crash handler); False if that failed."""
        self.hand_over()
        try:
            self.database.flush()
        except SessionError as error:
            self._show_failure(error)
            return False
        return True

    def hand_over(self) -> None:
        """Give the writer what changed, now (it writes on its own thread; ``save_now`` waits)."""
        self._scheduled = False
        if self.database.error is None:  # the writer has recovered: a new failure is worth showing
            self._failing = False
        self.database.submit(self.session.take_changes())

    def _show_failure(self, error: SessionError) -> None:
        if not self._failing:
            self._failing = True
            show_error(self._parent, error, "Your work could not be saved")
