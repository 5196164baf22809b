"""The small progress/cancel object every long-running engine call takes.

Work functions report through it and poll it; they never touch a UI.  The CLI
passes a tqdm-backed one, the GUI one that emits Qt signals.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

__all__ = ["CancelToken", "Cancelled", "Progress", "checkpoint", "give_way", "set_give_way"]


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


def _no_turn() -> None:
    """No interactive thread waits for the interpreter (the command line)."""


_give_way: list[Callable[[], None]] = [_no_turn]


def give_way() -> None:
    """Let an interactive thread run first, if one is handling events now.

    Called inside long loops (and by every ``checkpoint``): Python threads have no
    priority, so the window registers (``set_give_way``) how a worker waits while
    its UI thread is busy.  A no-op on the command line.
    """
    _give_way[0]()


def set_give_way(turn: Callable[[], None]) -> None:
    """Install what ``give_way`` does (the window's UI thread, gui/worker.py)."""
    _give_way[0] = turn


def checkpoint(progress: Progress | None) -> Callable[[], None]:
    """A function that raises Cancelled once ``progress`` is cancelled, and gives way (``give_way``).

    Long loops inside one document (scanning, matching, linking) call it
    often, so a cancel takes effect within milliseconds, not at the next document.
    """

    def check() -> None:
        give_way()
        if progress is not None and progress.cancelled():
            raise Cancelled()

    return check
