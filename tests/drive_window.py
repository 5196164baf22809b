"""A child process for the kill -9 test: the real window, offscreen, driven as a coder would, until killed.

    python tests/drive_window.py review|code|finish SEED FOLDER

It starts the way the app does (``gui.app.open_window``) and answers every question
yes, printing it (``ASK <title> <text>``).  Then:

* ``review``: once no run is going on, accepts or rejects mention after mention by key
  (the window moves on by itself), switching documents, and prints ``DECISION [key,
  index, status]`` after each, every 25 ms;
* ``code``: codes every document of ``FOLDER`` again (or resumes the interrupted run);
* ``finish``: waits for a resumed run to end, prints ``DONE`` and quits.

``READY`` marks the start of what the parent kills at a random moment.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from gui.app import application, open_window


def main() -> None:
    mode, seed, folder = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])

    def yes(parent: object, title: str, text: str, *args: object) -> QMessageBox.StandardButton:
        print("ASK", title, json.dumps(text), flush=True)
        return QMessageBox.StandardButton.Yes

    QMessageBox.question = yes  # type: ignore[assignment]
    app = application()
    window = open_window()
    window.show()
    window.activateWindow()
    if not window.session.documents:
        window.open_paths([folder])
    rng = random.Random(seed)

    def review() -> Iterator[None]:
        while window.coding.is_running():
            yield
        print("READY", flush=True)
        documents = [d for d in window.session if d.result is not None and d.result.assignments]
        for document in rng.sample(documents, len(documents)):
            window.documents.select_key(document.key)
            window.pane.mentions.setFocus()
            yield
            while window.current_index is not None and document.result is not None:
                index = window.current_index
                has_code = document.result.assignments[index].code is not None
                key = Qt.Key.Key_A if has_code and rng.random() < 0.7 else Qt.Key.Key_R
                QTest.keyClick(window.focusWidget(), key)
                status = document.result.assignments[index].status.value
                print("DECISION", json.dumps([document.key, index, status]), flush=True)
                if window.current_document() is not document or window.current_index == index:
                    break  # the document's last decision opened the next one, or the last mention stays
                yield

    def code() -> Iterator[None]:
        if not window.coding.is_running():
            window.code(list(window.session))
        print("READY", flush=True)
        while True:
            yield

    def finish() -> Iterator[None]:
        while window.coding.is_running():
            yield
        window.close()
        print("DONE", flush=True)
        app.quit()
        yield

    steps = {"review": review, "code": code, "finish": finish}[mode]()
    timer = QTimer(interval=25)
    timer.timeout.connect(lambda: next(steps, None))
    QTimer.singleShot(0, timer.start)  # after the window's offer to resume an interrupted run
    sys.exit(app.exec())


if __name__ == "__main__":
    main()
