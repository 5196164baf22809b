"""Save time per review action and start-up time for a 2,751-document session: database vs whole JSON.

    QT_QPA_PLATFORM=offscreen python benchmarks/session_db.py [--documents N] [--actions N]

Codes the CodiEsp background documents with the real pipeline (about 8 s),
then, in the same run:

* the old way: every change rewrote ``session.json`` whole (``json.dumps`` of the
  session and an atomic write), on the UI thread;
* the new way: a review action is ``set_result`` + ``take_changes`` + ``submit``
  on the UI thread; the writer thread serialises and commits that one document
  (timed until ``flush`` returns);
* start-up: load + window constructed + shown, from the database and from the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtWidgets import QApplication

from engine.core.model import ReviewStatus
from engine.records.audit import Action, ReviewStep, Step
from engine.records.export import write_text_atomic
from engine.records.review import accept
from engine.records.session import ReviewSession
from engine.records.session_db import open_session, read_session_json
from engine.records.settings import AppSettings
from gui.main_window import MainWindow
from tests.big_session import coded_session, session_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=None, help="only the first N documents")
    parser.add_argument("--actions", type=int, default=60)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    folder = Path(tempfile.mkdtemp(prefix="icdlinker-bench-"))
    os.environ["ICDLINKER_DATA_DIR"] = str(folder / "unused")

    started = time.perf_counter()
    session = coded_session(limit=args.documents)
    mentions = sum(len(d.result.assignments) for d in session if d.result)
    print(f"{len(session)} documents, {mentions} mentions, coded in {time.perf_counter() - started:.1f} s")
    database = folder / "session.sqlite3"
    started = time.perf_counter()
    session_database(database, session)
    print(f"database written whole once (migration-sized): {time.perf_counter() - started:.2f} s, "
          f"{database.stat().st_size / 1e6:.1f} MB")

    legacy = folder / "old" / "session.json"
    legacy.parent.mkdir()
    old_saves = []
    for _ in range(3):
        started = time.perf_counter()
        write_text_atomic(legacy, json.dumps(session.to_dict(), ensure_ascii=False))
        old_saves.append(time.perf_counter() - started)
    old = statistics.median(old_saves)
    print(f"old: whole session.json ({legacy.stat().st_size / 1e6:.1f} MB) per save, on the UI thread: "
          f"median {old * 1000:.0f} ms")

    ui, written = review_actions(database, args.actions)
    print(f"new: per review action, UI thread (set_result + take_changes + submit): "
          f"median {statistics.median(ui) * 1000:.2f} ms, max {max(ui) * 1000:.2f} ms")
    print(f"new: per review action, until the writer has committed it (off the UI thread): "
          f"median {statistics.median(written) * 1000:.1f} ms, max {max(written) * 1000:.1f} ms")
    print(f"ratio old save / new UI-thread cost: {old / statistics.median(ui):,.0f}x; "
          f"old save / new commit: {old / statistics.median(written):,.0f}x")

    warm_up(app, folder)
    new_start = start_up(app, lambda: open_session(database), None)
    scratch = open_session(folder / "scratch" / "session.sqlite3")
    old_start = start_up(app, lambda: read_session_json(legacy), scratch)
    print(f"start-up (load + window shown): database {new_start:.2f} s, session.json {old_start:.2f} s, "
          f"ratio {old_start / new_start:.2f}")


def review_actions(database: Path, count: int) -> tuple[list[float], list[float]]:
    """Accept the first open mention of ``count`` documents spread over the session, one at a time."""
    opened = open_session(database)
    session = opened.session
    coded = [d for d in session if d.result is not None and d.result.assignments]
    ui, written = [], []
    for n in range(count):
        document = coded[n * len(coded) // count]
        before = document.result
        assert before is not None
        index = next((i for i, a in enumerate(before.assignments)
                      if a.status is not ReviewStatus.ACCEPTED and a.code), None)
        if index is None:
            continue
        started = time.perf_counter()
        after = accept(before, index)
        step = ReviewStep(document.key, Action.ACCEPT, Step.DO, before, after, "bench", datetime.now(UTC))
        session.set_result(document.key, after, step)
        opened.database.submit(session.take_changes())
        handed = time.perf_counter()
        opened.database.flush()
        ui.append(handed - started)
        written.append(time.perf_counter() - started)
    opened.database.close()
    return ui, written


def start_up(app: QApplication, load: object, scratch: object) -> float:
    started = time.perf_counter()
    loaded = load()  # type: ignore[operator]
    session = loaded if isinstance(loaded, ReviewSession) else loaded.session
    database = (loaded if scratch is None else scratch).database
    window = MainWindow(session, AppSettings(), database=database)
    window.show()
    app.processEvents()
    seconds = time.perf_counter() - started
    window.close()
    window.deleteLater()
    app.processEvents()
    return seconds


def warm_up(app: QApplication, folder: Path) -> None:
    """The first window of a process loads fonts and styles: not part of either start-up."""
    opened = open_session(folder / "warm.sqlite3")
    window = MainWindow(ReviewSession(), AppSettings(), database=opened.database)
    window.show()
    app.processEvents()
    window.close()
    window.deleteLater()
    app.processEvents()


if __name__ == "__main__":
    main()
