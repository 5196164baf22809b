"""The one way to run background work: the op on a QThread, every callback on the UI thread.

Modelled on Anki's QueryOp and Orange's TaskState.  The op is a plain function
that takes a ``TaskState`` (an ``engine.core.progress.Progress``): it reports and
polls for cancellation through it and must never touch a widget.
"""

from __future__ import annotations

import functools
import gc
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Signal
from PySide6.QtWidgets import QWidget

from engine.core.progress import Cancelled, set_give_way
from gui.errors import show_error

__all__ = ["BackgroundOp", "TaskState", "cancel_all", "heavy_op", "ui_first"]

T = TypeVar("T")

# More new objects than this after an op: it built things that live as long as the window (a
# million for the loaded dictionaries, 100,000 for a long list of rows) rather than just working.
_LOADED = 100_000
# Python passes the GIL to a waiting thread only every switch interval (5 ms by default),
# and a repaint needs it once per call into Python: the tables are Python models, asked once
# per visible cell (gui/code_table.py), each call waiting for a busy worker to let go.  50 µs
# keeps repaints well under the 100 ms bound; the worker pays only while the window is
# painting, since the interval matters only when a thread waits.
_SWITCH_INTERVAL_S = 0.00005
_POLL_MS = 50  # progress and partial results reach the UI at most 20 times a second
_UI_TURN_S = 0.05  # the longest workers wait for one piece of the window's work (``ui_first``)

_running: set[BackgroundOp[Any]] = set()  # keeps each op and its QThread alive until it has finished
_quit_hooked: list[QCoreApplication] = []


class TaskState:
    """What the op reports through and polls; safe to call from the worker thread.

    The worker only records; the UI thread collects every 50 ms.  So the worker
    never waits on the UI, a burst of updates coalesces, an unchanged value is
    not reported again, and the last value is never lost.
    """

    def __init__(self) -> None:
        self._cancel = threading.Event()
        self._progress: tuple[int, int, str] | None = None  # one attribute store: atomic, no lock needed
        self._reported: tuple[int, int, str] | None = None
        self._partials: deque[object] = deque()

    def update(self, done: int, total: int, message: str) -> None:
        self._progress = (done, total, message)

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def partial(self, value: object) -> None:
        """A partial result (e.g. one linked mention); each is delivered, in order, on the UI thread."""
        self._partials.append(value)

    def _new_progress(self) -> tuple[int, int, str] | None:
        progress = self._progress
        if progress == self._reported:
            return None
        self._reported = progress
        return progress

    def _take_partials(self) -> list[object]:
        return [self._partials.popleft() for _ in range(len(self._partials))]


class _UiTurn:
    """Workers wait at their checkpoints while the window does the work it has just begun.

    Python threads have no priority: each of a paint's calls into Python waited for the busy
    worker to hand over the GIL (140-290 µs), and a few hundred of them made pauses of 80 ms
    while coding.  Work on the UI thread that must not wait (a paint's first call into
    Python, results arriving) calls ``ui_first``; from then until the UI thread's event queue
    has gone past that work (a zero timer posted behind it), a worker reaching
    ``engine.core.progress.give_way`` (every checkpoint of the engine's long loops) waits with
    the GIL released, at most ``_UI_TURN_S`` in all.  Only ops' threads wait: the session
    database's writer must commit each decision at once.  (The event dispatcher's awake and
    aboutToBlock signals cannot bracket this: a timer's slot runs after aboutToBlock.)
    """

    def __init__(self) -> None:
        self._free = threading.Event()
        self._free.set()
        self._since = 0.0
        self._worker = threading.local()  # ``giving_way`` is true on an op's thread only

    def claim(self) -> None:
        if self._free.is_set():
            self._since = time.monotonic()
            self._free.clear()
            QTimer.singleShot(0, self._free.set)

    def enroll(self) -> None:
        """The calling thread (an op's) gives way from now on."""
        self._worker.giving_way = True

    def wait(self) -> None:
        if not self._free.is_set() and getattr(self._worker, "giving_way", False):
            left = self._since + _UI_TURN_S - time.monotonic()
            if left > 0:
                self._free.wait(left)


_ui_turn = _UiTurn()
set_give_way(_ui_turn.wait)


def ui_first() -> None:
    """On the UI thread, as work begins that must not wait for a worker (see ``_UiTurn``)."""
    _ui_turn.claim()


class BackgroundOp(QObject, Generic[T]):
    """Runs ``op(state)`` on a QThread and reports back on the UI thread.

    Exactly one of ``success(result)``, ``failure(error)`` (default: the error
    shown by ``gui.errors.show_error``) or ``cancelled()`` runs, after every
    partial result and the last progress, then ``finished`` is emitted.  If the
    parent is destroyed the op is cancelled and its callbacks are skipped.
    """

    finished = Signal()

    def __init__(
        self,
        parent: QObject,
        op: Callable[[TaskState], T],
        *,
        success: Callable[[T], None] | None = None,
        failure: Callable[[BaseException], None] | None = None,
        partial: Callable[[object], None] | None = None,
        progress: Callable[[int, int, str], None] | None = None,
        cancelled: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()  # not a Qt child: the parent's destruction must not destroy a running QThread
        self._parent = parent
        self._op = op
        self._success = success
        self._failure = failure or self._show_failure
        self._partial = partial
        self._progress = progress
        self._cancelled = cancelled
        self._state = TaskState()
        self._thread = _Thread(self._work)
        self._thread.finished.connect(self._complete)  # queued: emitted by the worker thread
        self._poll = QTimer(self)
        self._poll.setInterval(_POLL_MS)
        self._poll.timeout.connect(self._deliver_reports)
        self._report: tuple[Callable[..., None] | None, tuple[Any, ...]] = (None, ())
        self._active = False
        parent.destroyed.connect(self.cancel)

    def run(self) -> BackgroundOp[T]:
        """Start the op on its own thread; returns self."""
        _hook_quit()
        _running.add(self)
        self._active = True
        self._poll.start()
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the op to stop: ``TaskState.cancelled()`` turns true, and engine code raises ``Cancelled``."""
        self._state._cancel.set()

    def is_running(self) -> bool:
        return self._active

    def _work(self) -> None:
        """On the worker thread: run the op and remember which callback reports its outcome."""
        _ui_turn.enroll()
        try:
            result = self._op(self._state)
        except Cancelled:
            self._report = (self._cancelled, ())
        except BaseException as error:  # every failure reaches the coder, none is lost with the thread
            self._report = (self._failure, (error,))
        else:
            self._report = (self._success, (result,))

    def _complete(self) -> None:
        if not self._stop():  # cancel_all already stopped it: the app is quitting
            return
        self._deliver_reports()
        callback, args = self._report
        try:
            if callback is not None and shiboken6.isValid(self._parent):
                callback(*args)
        finally:  # a callback that raised (a bug, for the crash handler) must not leave its caller waiting
            self.finished.emit()

    def _stop(self) -> bool:
        """Wait for the thread and stop polling; false if it had already been stopped."""
        if not self._active:
            return False
        self._active = False
        self._thread.wait()
        self._poll.stop()
        # Released from the event loop, not from inside this op's own slot.
        QTimer.singleShot(0, functools.partial(_running.discard, self))
        return True

    def _deliver_reports(self) -> None:
        if not shiboken6.isValid(self._parent):
            return
        progress = self._state._new_progress()
        partials = self._state._take_partials()
        if progress is not None or partials:
            ui_first()
        if progress is not None and self._progress is not None:
            self._progress(*progress)
        for value in partials:
            if self._partial is not None:
                self._partial(value)

    def _show_failure(self, error: BaseException) -> None:
        show_error(self._parent.window() if isinstance(self._parent, QWidget) else None, error)


@contextmanager
def heavy_op() -> Iterator[None]:
    """Around an op that runs Python for seconds and builds many objects (a coding run, 50,000 rows).

    The GIL passes to the UI thread every 50 µs instead of every 5 ms: a repaint needs it once
    per call into Python (the tables are Python models), and each call would otherwise wait for
    the busy worker to let go (350 ms paints at 1 ms); the worker pays only while the window
    paints.  Python's cyclic GC is paused: a full collection over what the op builds holds the
    interpreter, and so the window, for 100 ms or more; what it built and keeps is then left
    out of later collections.  Ops may overlap: the last one to end puts both back.
    """
    with _heavy.lock:
        _heavy.running += 1
        if _heavy.running == 1:
            _heavy.switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(_SWITCH_INTERVAL_S)
            gc.disable()
    try:
        yield
    finally:
        with _heavy.lock:
            _heavy.running -= 1
            if not _heavy.running:
                if gc.get_count()[0] > _LOADED:
                    gc.freeze()
                gc.enable()
                sys.setswitchinterval(_heavy.switch_interval)


class _HeavyOps:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.switch_interval = sys.getswitchinterval()


_heavy = _HeavyOps()


class _Thread(QThread):
    def __init__(self, job: Callable[[], None]) -> None:
        super().__init__()
        self._job = job

    def run(self) -> None:
        self._job()


def cancel_all() -> None:
    """Cancel every running op and wait for its thread, reporting nothing: the app is quitting.

    Connected to ``aboutToQuit`` by the first op, so a closing app never destroys a running thread.
    """
    for op in list(_running):
        op.cancel()
    for op in list(_running):
        op._stop()


def _hook_quit() -> None:
    app = QCoreApplication.instance()
    if app is not None and app not in _quit_hooked:
        app.aboutToQuit.connect(cancel_all)
        _quit_hooked.append(app)
