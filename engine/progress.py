"""The small progress/cancel object every long-running engine call takes.

Work functions report through it and poll it; they never touch a UI.  The CLI
passes a tqdm-backed one, the GUI one that emits Qt signals.
"""

from __future__ import annotations

import threading
from typing import Protocol

__all__ = ["Cancelled", "CancelToken", "Progress"]


class Cancelled(Exception):
    """Raised inside a work function when the user cancelled."""


class Progress(Protocol):
    def update(self, done: int, total: int, message: str) -> None: ...

    def cancelled(self) -> bool: ...


class CancelToken:
    """A thread-safe Progress that records nothing and can be cancelled."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    def cancelled(self) -> bool:
        return self._event.is_set()

    def update(self, done: int, total: int, message: str) -> None:
        """Nothing to show."""
