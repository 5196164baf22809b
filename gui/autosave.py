"""Save the review session shortly after every change, so a crash loses seconds, not a morning.

A change starts a short timer unless one is already running: while the model
fills in results every few milliseconds the session is still saved every
couple of seconds, not postponed until it goes quiet.  ``ReviewSession.save``
writes atomically.  A failing save is shown once, not every two seconds.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QWidget

from engine.errors import SessionError
from engine.session import ReviewSession
from gui.errors import show_error

__all__ = ["Autosave"]

DELAY_MS = 1500


class Autosave(QObject):
    def __init__(self, parent: QWidget, session: ReviewSession, path: Path, delay_ms: int = DELAY_MS) -> None:
        super().__init__(parent)
        self._parent = parent
        self.session = session
        self.path = path
        self._saved_revision = session.revision
        self._failing = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self.save_now)

    def changed(self) -> None:
        """The session changed: save it within ``delay_ms``."""
        if not self._timer.isActive():
            self._timer.start()

    def save_now(self) -> bool:
        """Save if anything changed since the last save; False if saving failed."""
        self._timer.stop()
        if self.session.revision == self._saved_revision:
            return True
        revision = self.session.revision
        try:
            self.session.save(self.path)
        except SessionError as error:
            if not self._failing:
                self._failing = True
                show_error(self._parent, error, "Your work could not be saved")
            return False
        self._failing = False
        self._saved_revision = revision
        return True
