"""The small progress/cancel object every long-running engine call takes.

Work functions report through it and poll it; they never touch a UI.  The CLI
passes a tqdm-backed one, the GUI one that emits Qt signals.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

__all__ = ["CancelToken", "Cancelled", "Progress", "checkpoint"]


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


def checkpoint(progress: Progress | None) -> Callable[[], None]:
    """A function that raises Cancelled once ``progress`` is cancelled.

    Long loops inside one document (scanning, matching, linking) call it
    often, so a cancel takes effect within milliseconds, not at the next document.
    """

    def check() -> None:
        if progress is not None and progress.cancelled():
            raise Cancelled()

    return check
