"""gui.worker runs ops off the UI thread; gui.errors turns failures into what the coder sees."""

from __future__ import annotations

import faulthandler
import functools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from engine.core.errors import ExportError, ModelFileError
from engine.core.progress import Cancelled
from gui import errors
from gui.worker import BackgroundOp, TaskState, cancel_all, ui_first

pytestmark = pytest.mark.usefixtures("messages")


@pytest.fixture
def parent(qtbot: QtBot) -> QWidget:
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


def _until_cancelled(state: TaskState) -> None:
    while not state.cancelled():
        time.sleep(0.005)
    raise Cancelled


def test_success_reports_the_result_then_finishes(qtbot: QtBot, parent: QWidget) -> None:
    events: list[object] = []
    op = BackgroundOp(parent, lambda state: threading.current_thread() is threading.main_thread(),
                      success=events.append, failure=events.append)
    op.finished.connect(lambda: events.append("finished"))
    with qtbot.waitSignal(op.finished):
        assert op.run() is op
        assert op.is_running()
    assert events == [False, "finished"]  # the op ran off the UI thread
    assert not op.is_running()


def test_an_engine_error_goes_to_failure(qtbot: QtBot, parent: QWidget) -> None:
    def op(state: TaskState) -> None:
        raise ExportError("could not write out.csv: disk full")

    failures: list[BaseException] = []
    with qtbot.waitSignal(BackgroundOp(parent, op, failure=failures.append).run().finished):
        pass
    assert [type(f) for f in failures] == [ExportError]


def test_by_default_a_failure_is_shown_with_its_code_and_hint(
    qtbot: QtBot, parent: QWidget, messages: list[str]
) -> None:
    def op(state: TaskState) -> None:
        raise ModelFileError("model.gguf is not a GGUF file")

    with qtbot.waitSignal(BackgroundOp(parent, op).run().finished):
        pass
    assert len(messages) == 1
    assert "model.gguf is not a GGUF file" in messages[0]
    assert ModelFileError.code in messages[0] and ModelFileError.hint in messages[0]


def test_an_unexpected_exception_is_shown_with_its_crash_log(
    qtbot: QtBot, parent: QWidget, messages: list[str], user_dirs: Path
) -> None:
    mention = "neumonía basal derecha"  # a document's text: patient data

    def op(state: TaskState) -> None:
        try:
            {}[mention]
        except KeyError as error:
            raise ValueError(f"no code for {mention}") from error

    with qtbot.waitSignal(BackgroundOp(parent, op).run().finished):
        pass
    [crash_log] = (user_dirs / "log").glob("crash-*.log")
    assert messages[0].startswith("Unexpected error") and str(crash_log) in messages[0]
    assert "neumonía" in messages[0]  # the coder may see it on screen...
    text = crash_log.read_text(encoding="utf-8")
    assert "neumon" not in text  # ...but the file that goes to IT never holds document text
    assert "builtins.KeyError: <message of 24 characters left out" in text and "which led to:" in text
    assert "builtins.ValueError: <message of" in text and "in op" in text and "python:" in text
    assert crash_log.stat().st_mode & 0o777 == 0o600
    assert (user_dirs / "log").stat().st_mode & 0o777 == 0o700


def test_cancel_reports_cancelled_not_failure(qtbot: QtBot, parent: QWidget) -> None:
    events: list[object] = []
    op = BackgroundOp(parent, _until_cancelled, success=events.append, failure=events.append,
                      cancelled=lambda: events.append("cancelled"))
    with qtbot.waitSignal(op.finished):
        op.run()
        op.cancel()
    assert events == ["cancelled"]


def test_partial_values_arrive_in_order_before_the_result(qtbot: QtBot, parent: QWidget) -> None:
    def op(state: TaskState) -> str:
        for i in range(300):
            state.partial(i)
            if i % 50 == 0:
                time.sleep(0.02)  # spread over several UI polls
        return "done"

    events: list[object] = []
    op_ = BackgroundOp(parent, op, partial=events.append, success=events.append)
    with qtbot.waitSignal(op_.run().finished):
        pass
    assert events == [*range(300), "done"]


def test_progress_is_throttled_and_its_last_value_kept(qtbot: QtBot, parent: QWidget) -> None:
    def op(state: TaskState) -> float:
        started = time.monotonic()
        for i in range(1, 101):
            state.update(i, 100, "linking")
            state.update(i, 100, "linking")
            time.sleep(0.003)
        return time.monotonic() - started

    reports: list[tuple[int, int, str]] = []
    seconds: list[float] = []
    op_ = BackgroundOp(parent, op, progress=lambda *args: reports.append(args), success=seconds.append)
    with qtbot.waitSignal(op_.run().finished):
        pass
    assert 1 <= len(reports) <= seconds[0] * 20 + 2  # about 20 a second, not 200 calls
    assert reports[-1] == (100, 100, "linking")
    assert all(a[0] < b[0] for a, b in zip(reports, reports[1:], strict=False))  # each report is new


def test_the_ui_thread_stays_responsive(qtbot: QtBot, parent: QWidget) -> None:
    ticks: list[float] = []
    timer = QTimer(parent)
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    with qtbot.waitSignal(BackgroundOp(parent, lambda state: time.sleep(0.4)).run().finished):
        pass
    timer.stop()
    assert len(ticks) >= 10


def test_destroying_the_parent_cancels_and_skips_callbacks(qtbot: QtBot) -> None:
    parent = QWidget()
    events: list[object] = []
    op = BackgroundOp(parent, _until_cancelled, cancelled=lambda: events.append("cancelled")).run()
    with qtbot.waitSignal(op.finished):
        parent.deleteLater()
    assert events == []


def test_cancel_all_cancels_and_waits_for_running_ops(qtbot: QtBot, parent: QWidget) -> None:
    events: list[object] = []
    ops = [BackgroundOp(parent, _until_cancelled, cancelled=lambda: events.append("cancelled")).run()
           for _ in range(2)]
    cancel_all()
    assert not any(op.is_running() or op._thread.isRunning() for op in ops)
    assert events == []  # the app is quitting: nothing is reported


QUITTING_APP = """
import time
from PySide6.QtCore import QCoreApplication, QObject, QTimer
from engine.core.progress import Cancelled
from gui.worker import BackgroundOp

app = QCoreApplication([])
seen = []

def op(state):
    while not state.cancelled():
        time.sleep(0.005)
    seen.append("saw the cancel")
    raise Cancelled

owner = QObject()
QTimer.singleShot(0, BackgroundOp(owner, op).run)
QTimer.singleShot(200, app.quit)
app.exec()
print(seen)
"""


def test_an_app_quitting_with_an_op_running_cancels_it_and_waits() -> None:
    """Without the aboutToQuit hook Qt aborts: "QThread: Destroyed while thread is still running"."""
    out = subprocess.run([sys.executable, "-c", QUITTING_APP], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).parent.parent, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert (out.returncode, out.stdout, out.stderr) == (0, "['saw the cancel']\n", "")


def test_an_engine_error_shows_title_message_hint_and_code(parent: QWidget, messages: list[str]) -> None:
    errors.show_error(parent, ExportError("could not write out.csv: read-only folder"), "Export failed")
    assert messages == [
        f"Export failed\ncould not write out.csv: read-only folder\n{ExportError.hint}"
        "\n\nError code: ICD-E403"
    ]
    [box] = parent.findChildren(QMessageBox)
    assert box.isVisible() and box.windowTitle() == "Export failed" and "ICD-E403" in box.informativeText()


def test_show_info_uses_the_same_path(messages: list[str]) -> None:
    errors.show_info(None, "Exported 42 rows to out.csv")
    assert messages == ["icdlinker\nExported 42 rows to out.csv"]


@pytest.fixture
def crash_hooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The crash handler replaces process-wide hooks: give them back after the test."""
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    yield
    faulthandler.enable(2)  # stderr, as pytest had it


@pytest.mark.usefixtures("crash_hooks")
def test_an_uncaught_exception_writes_a_crash_log_saves_work_and_tells_the_coder(
    tmp_path: Path, messages: list[str]
) -> None:
    saved: list[bool] = []
    folder = errors.install_crash_handler(lambda: saved.append(True), tmp_path / "crash")
    assert folder == tmp_path / "crash" and (folder / "faulthandler.log").exists()
    try:
        raise ZeroDivisionError("division by zero in a slot")
    except ZeroDivisionError as error:
        sys.excepthook(type(error), error, error.__traceback__)
    [crash_log] = folder.glob("crash-*.log")
    assert "builtins.ZeroDivisionError: <message of 26 characters" in crash_log.read_text(encoding="utf-8")
    assert (folder / "faulthandler.log").stat().st_mode & 0o777 == 0o600
    assert saved == [True]
    assert messages[0].startswith("Unexpected error") and str(crash_log) in messages[0]


@pytest.mark.usefixtures("crash_hooks")
def test_a_crash_in_a_thread_is_reported_on_the_ui_thread_even_if_saving_fails(
    qtbot: QtBot, tmp_path: Path, messages: list[str]
) -> None:
    calls: list[bool] = []

    def save_work() -> None:
        calls.append(threading.current_thread() is threading.main_thread())
        raise OSError("disk full")

    errors.install_crash_handler(save_work, tmp_path)

    def boom() -> None:
        raise RuntimeError("thread crash")

    thread = threading.Thread(target=boom)
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: len(messages) == 1)
    assert calls == [True]
    assert "RuntimeError: thread crash" in messages[0]
    assert len(list(tmp_path.glob("crash-*.log"))) == 1


def test_a_worker_gives_way_while_the_ui_thread_does_work_it_began_with_ui_first(
    qtbot: QtBot, parent: QWidget
) -> None:
    """A worker looping through ``give_way`` (as every engine checkpoint does) waits while the UI
    thread does work it began with ``ui_first`` (as a paint does), and runs as soon as that work
    is over.  The same slot without ``ui_first`` lets the worker run in each of its pauses (each
    of a paint's calls into Python is such a pause, the GIL being handed over)."""
    from engine.core.progress import give_way

    turns = [0]

    def op(state: TaskState) -> None:
        while not state.cancelled():
            give_way()
            turns[0] += 1
        raise Cancelled

    seen: dict[bool, list[int]] = {True: [], False: []}

    def slot(first: bool) -> None:
        if first:
            ui_first()
        before = turns[0]
        for _ in range(10):
            time.sleep(0.0005)  # the GIL is let go and taken back
        seen[first].append(turns[0] - before)

    running = BackgroundOp(parent, op).run()
    try:
        qtbot.waitUntil(lambda: turns[0] > 1000)
        for first in (True, False) * 3:
            QTimer.singleShot(0, functools.partial(slot, first))
            qtbot.wait(20)
        worked = turns[0]
        qtbot.wait(50)
        assert turns[0] - worked > 1000  # the UI thread's turn is over: the worker runs again
    finally:
        with qtbot.waitSignal(running.finished):
            running.cancel()
    assert len(seen[True]) == len(seen[False]) == 3
    assert min(seen[True]) <= 2 and min(seen[False]) > 100, seen
