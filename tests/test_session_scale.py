"""The session at a coder's scale: a 2,751-document window that never stalls, and kill -9 at any moment.

The 2,751 CodiEsp background documents are coded once per test session by the
real pipeline (about 10 s here) and written into a session database that each
test copies into its own data folder; the window opens it the way the app does
(``gui.app.open_window``).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from engine.records.session import default_session_path
from engine.records.session_db import open_session
from gui.app import open_window
from gui.main_window import MainWindow
from tests.big_session import BACKGROUND, coded_session, session_database
from tests.heartbeat import GAP_S, Heartbeat

pytestmark = [
    pytest.mark.usefixtures("messages"),
    pytest.mark.skipif(not BACKGROUND.is_dir(), reason="the CodiEsp background documents are not here"),
]

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def big_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 2,751 background documents, coded, in a session database (built once per test session)."""
    session = coded_session()
    assert len(session) == 2751 and all(d.result is not None for d in session)
    return session_database(tmp_path_factory.mktemp("big-session") / "session.sqlite3", session)


@pytest.fixture
def big_window(qtbot: QtBot, big_database: Path) -> Iterator[MainWindow]:
    """The app's own start on a copy of the big session, shown and active."""
    default_session_path().parent.mkdir(parents=True)
    shutil.copy(big_database, default_session_path())
    window = open_window()
    qtbot.addWidget(window)
    with qtbot.waitActive(window):
        window.show()
        window.activateWindow()
    qtbot.wait(200)  # the first paint (fonts are loaded once per process) is not part of what is measured
    yield window
    if window.coding.is_running():
        with qtbot.waitSignal(window.coding.running_changed, timeout=60_000):
            window.coding.cancel()


def test_a_2751_document_session_never_stalls_the_ui_while_reviewing_and_coding(
    qtbot: QtBot, big_window: MainWindow, tmp_path: Path
) -> None:
    """Dozens of review actions by key on documents across the list (switching with the arrow keys,
    undo included), each followed by a short pause in which its save happens, then a coding run of
    20 new documents: no gap of the heartbeat over 100 ms while reviewing or while coding."""
    window = big_window
    assert len(window.session) == 2751
    heartbeat = Heartbeat(window)
    keys = {"A": Qt.Key.Key_A, "R": Qt.Key.Key_R, "J": Qt.Key.Key_J, "Z": Qt.Key.Key_Z,
            "Down": Qt.Key.Key_Down, "PageDown": Qt.Key.Key_PageDown}
    actions = 0
    for turn in range(12):
        window.documents.setFocus()
        QTest.keyClick(window.documents, keys["PageDown" if turn % 3 == 0 else "Down"])  # another document
        qtbot.wait(20)
        document = window.current_document()
        assert document is not None and document.result is not None
        window.pane.mentions.setFocus()
        for key, modifier in [("A", None), ("R", None), ("J", None), ("A", None),
                              ("Z", Qt.KeyboardModifier.ControlModifier)]:
            if window.current_index is None:
                break
            QTest.keyClick(window.focusWidget(), keys[key], modifier or Qt.KeyboardModifier.NoModifier)
            actions += key != "J"
            qtbot.wait(30)  # right after the action: its hand-over and the writer's commit happen here
    reviewing = heartbeat.report("2,751 documents, reviewing")
    window.save_session()
    with sqlite3.connect(default_session_path()) as connection:
        decided = connection.execute("SELECT count(*) FROM decisions").fetchone()[0]
    assert decided >= actions - 12  # an accept that changes nothing writes no row

    folder = tmp_path / "new"
    folder.mkdir()
    for source in sorted(BACKGROUND.glob("*.txt"))[:20]:
        (folder / f"nuevo-{source.name}").write_bytes(source.read_bytes())
    heartbeat = Heartbeat(window)  # from the coder's drop of a folder: copying it in is not the window's work
    window.open_paths([folder])
    qtbot.wait(50)  # then F5: two actions of the coder, not one
    with qtbot.waitSignal(window.coding.running_changed, timeout=120_000,
                          check_params_cb=lambda running: not running):
        window.code_new()
    coding = heartbeat.report("2,751 documents, coding")
    assert len(window.session) == 2771 and all(d.result is not None for d in window.session)
    assert actions >= 36
    assert reviewing[1] <= GAP_S
    # While coding, the tables paint with one call into Python per cell (gui/code_table.py), and the
    # worker gives way while the window paints (gui.worker.ui_first): 80-94 ms here before it did.
    assert coding[1] <= GAP_S


KILL_LOOP_S = 75


def test_kill_9_at_random_moments_loses_at_most_the_last_decision_and_offers_to_resume(
    tmp_path: Path, user_dirs: Path
) -> None:
    """The real window in a child process (``tests/drive_window.py``), reviewing by key or coding,
    killed with SIGKILL at a random moment, again and again for about a minute.  After every kill:
    the database opens (nothing set aside), every decision the child reported is on disk except at
    most the last, and a run that was coding is offered at the next start and coded again."""
    folder = tmp_path / "documents"
    folder.mkdir()
    for source in sorted(BACKGROUND.glob("*.txt"))[:300]:
        (folder / source.name).write_bytes(source.read_bytes())
    default_session_path().parent.mkdir(parents=True)
    session_database(default_session_path(), coded_session(folder))
    rng = random.Random(20261201)
    deadline = time.monotonic() + KILL_LOOP_S
    kills = {"review": 0, "code": 0}
    resumed = decisions = 0
    iteration = 0
    while time.monotonic() < deadline or min(kills.values()) < 3:
        mode = "review" if iteration % 2 == 0 else "code"
        interrupted = _coding_keys()
        lines = _run_and_kill(["review" if mode == "review" else "code", str(iteration), str(folder)],
                              rng.uniform(0.05, 1.0 if mode == "review" else 3.0))
        kills[mode] += 1
        opened = open_session()
        opened.database.close()
        assert opened.problem is None, opened.problem
        assert len(opened.session) == 300
        asked = [line for line in lines if line.startswith("ASK Resume coding?")]
        if interrupted:  # the child got as far as READY, so it had been asked already
            assert asked and f"while {len(interrupted)} document(s)" in asked[0], (interrupted, lines[:5])
            resumed += 1
        else:
            assert not asked
        if mode == "review":
            reported = [json.loads(line.split(" ", 1)[1]) for line in lines if line.startswith("DECISION")]
            lost = [n for n, (key, index, status) in enumerate(reported)
                    if opened.session.get(key).result.assignments[index].status.value != status]  # type: ignore[union-attr]
            assert lost in ([], [len(reported) - 1]), (lost, len(reported))
            decisions += len(reported)
        iteration += 1

    done = subprocess.run(_child("finish", "0", str(folder)), cwd=ROOT, env=_env(), capture_output=True,
                          text=True, timeout=180, check=False)
    assert done.returncode == 0 and "DONE" in done.stdout, done.stderr[-2000:]
    final = open_session()
    final.database.close()
    assert final.problem is None and final.interrupted == [] and not _coding_keys()
    assert all(d.result is not None and not d.unfinished for d in final.session)
    print(f"\nkill -9 loop: {kills['review']} kills while reviewing ({decisions} decisions reported), "
          f"{kills['code']} while coding, {resumed} interrupted runs offered and resumed")
    assert decisions >= 20 and resumed >= 1


def _child(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "tests" / "drive_window.py"), *args]


def _env() -> dict[str, str]:
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}


def _run_and_kill(args: list[str], after_ready_s: float) -> list[str]:
    """Start the child, let it run ``after_ready_s`` past READY, SIGKILL it; its output lines."""
    child = subprocess.Popen(_child(*args), cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("READY"):
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(120), f"the child never got ready: {lines[-5:]}"
        time.sleep(after_ready_s)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        reader.join(30)
    return lines


def _coding_keys() -> list[bytes]:
    """Rows the database marks as being coded (read without opening a session)."""
    with sqlite3.connect(f"file:{default_session_path()}?mode=ro", uri=True) as connection:
        return [key for (key,) in connection.execute("SELECT key FROM documents WHERE coding = 1")]
