"""The review window on big documents: show time and time per review action, against a 5 KB one.

    QT_QPA_PLATFORM=offscreen python benchmarks/window_big_document.py [--sizes 0.005 1 5 20] [--codiesp DIR]

Each size is real clinical text (CodiEsp train, then background; the samples
where CodiEsp is not there) coded by the real pipeline, shown in the real
window offscreen, then reviewed: next, previous, accept, reject, undo, five of
each.  Prints the time until the text, table and highlights are all in, the
longest the UI thread was blocked while showing (a 10 ms heartbeat), the mean
time per action, and each figure's ratio against the 5 KB document of the same
run (machines here are noisy: read the ratios).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_USER = tempfile.mkdtemp(prefix="icdlinker-bench-")
for _name in ("DATA", "CONFIG", "MODELS", "LOG"):  # never the real session
    os.environ[f"ICDLINKER_{_name}_DIR"] = f"{_USER}/{_name.lower()}"

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from engine.core.model import DocumentResult
from engine.records.session import ReviewSession, SessionDocument
from engine.records.settings import AppSettings
from gui.main_window import MainWindow
from tests import big_document

ROUNDS = 5


def _wait(app: QApplication, done: object) -> None:
    while not done():  # type: ignore[operator]
        app.processEvents()


def measure(app: QApplication, result: DocumentResult) -> dict[str, float]:
    window = MainWindow(ReviewSession(), AppSettings())
    window.show()
    end = time.perf_counter() + 0.3
    _wait(app, lambda: time.perf_counter() > end)  # first paint, fonts
    document = SessionDocument(result.document.id, None)
    window.session.documents.append(document)
    window.session.set_result(document.key, result)
    window.documents.set_documents(window.session.documents)
    beats: list[float] = []
    heartbeat = QTimer(window)
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(lambda: beats.append(time.perf_counter()))
    heartbeat.start()
    started = time.perf_counter()
    beats.append(started)
    window.documents.select_key(document.key)
    _wait(app, lambda: not window.pane.text.is_loading() and window.review.mention_actions[0].isEnabled())
    figures = {"show": time.perf_counter() - started}
    beats.append(time.perf_counter())
    heartbeat.stop()
    figures["show gap"] = max(b - a for a, b in pairwise(beats))
    actions = {"next": window.review.next, "previous": window.review.previous, "accept": window.review.accept,
               "reject": window.review.reject, "undo": window.undo_stack.undo}
    for name, action in actions.items():
        spent = 0.0
        for _ in range(ROUNDS):
            started = time.perf_counter()
            action()
            app.processEvents()
            spent += time.perf_counter() - started
            if name in ("accept", "reject"):
                window.review.previous()  # stay among the first mentions
        figures[name] = spent / ROUNDS
    window.close()
    window.deleteLater()
    app.processEvents()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=float, default=[0.005, 1, 5, 20], help="megabytes")
    parser.add_argument("--codiesp", type=Path, default=big_document.CODIESP)
    args = parser.parse_args()
    big_document.CODIESP = args.codiesp
    app = QApplication.instance() or QApplication([])
    rows = []
    for size in args.sizes:
        text = big_document.clinical_text(int(size * 1_000_000))
        started = time.perf_counter()
        result = big_document.coded(text)
        coding = time.perf_counter() - started
        rows.append((size, len(result.assignments), coding, measure(app, result)))
    peer = rows[0][3]
    columns = list(peer)
    print(f"{'size':>8} {'mentions':>9} {'coding':>8} " + " ".join(f"{c + ' ms':>16}" for c in columns))
    for size, mentions, coding, figures in rows:
        cells = " ".join(f"{figures[c] * 1000:>8.0f} ({figures[c] / peer[c]:>4.1f}x)" for c in columns)
        print(f"{size:>6g}MB {mentions:>9} {coding:>7.1f}s {cells}")
    print(f"(x: against the {args.sizes[0]:g} MB document of the same run)")


if __name__ == "__main__":
    main()
