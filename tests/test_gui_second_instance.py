"""A second window on the same session is refused with a message; a killed first window leaves no lock.

The first window is a real second process holding the session's lock, as an
icdlinker already open on the workstation does.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox

from engine.records.session import default_session_path
from engine.records.session_lock import claim_session
from gui import app
from gui.main_window import MainWindow

ROOT = Path(__file__).resolve().parent.parent
HOLDER = (
    "import sys; from pathlib import Path; from engine.records.session_lock import claim_session; "
    "lock = claim_session(Path(sys.argv[1])); print('held', flush=True); sys.stdin.read()"
)


def test_a_second_window_on_an_open_session_is_refused_and_a_killed_one_frees_it(qapp, messages, user_dirs) -> None:
    path = default_session_path()
    first = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], cwd=ROOT, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert first.stdout.readline().strip() == "held"
        boxes: list[QMessageBox] = []

        def close_the_message() -> None:  # the coder reads it and presses OK
            shown = [w for w in qapp.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
            if not shown:
                QTimer.singleShot(20, close_the_message)
                return
            boxes.extend(shown)
            shown[0].accept()

        QTimer.singleShot(0, close_the_message)
        assert app.run([]) == 1
        assert boxes, "no message was shown"
        assert "already open on this session" in messages[-1] and "ICD-E405" in messages[-1]
        assert not [w for w in qapp.topLevelWidgets() if isinstance(w, MainWindow)], "a second window was opened"
        assert not path.exists(), "the refused window touched the session database"
    finally:
        first.kill()
        first.wait(timeout=10)
    # kill -9 of the first window: the operating system dropped its lock
    lock = claim_session(path)
    assert lock is not None and lock.is_locked
    lock.release()
