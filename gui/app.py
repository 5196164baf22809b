"""Start the review window (``icdlinker`` with no arguments), and check it headless (``--self-test``).

The window restores the last session from its database; a damaged session file
is set aside by the engine and the coder told so, with a fresh session to work
in, and a coding run the app did not finish is offered again.  The crash handler
saves the session before it reports anything.
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from engine.core.errors import SessionInUse
from engine.core.resources import resources_dir
from engine.records.session import DocumentState, ReviewSession, default_session_path
from engine.records.session_db import open_session
from engine.records.session_lock import claim_session
from engine.records.settings import AppSettings
from gui.errors import install_crash_handler, show_error
from gui.main_window import MainWindow

__all__ = ["application", "coded_sample_window", "open_window", "run", "self_check", "wait_for_coding"]

SAMPLE = Path("samples") / "es" / "alta-neumologia.txt"


def application(argv: list[str] | None = None) -> QApplication:
    """The one QApplication, named so Qt's and platformdirs' per-user folders agree."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1] + list(argv or []))
    app.setApplicationName("icdlinker")
    app.setOrganizationName("icdlinker")
    return app


def open_window(settings: AppSettings | None = None) -> MainWindow:
    """The window on the saved session (or a fresh one, with the reason shown, if it cannot be read).

    A run the app did not finish is offered again once the event loop runs.
    """
    opened = open_session()
    # The restored session lives as long as the window: keep its objects (a million with
    # thousands of documents) out of every later garbage collection, which would stall the UI.
    gc.freeze()
    window = MainWindow(opened.session, settings or AppSettings.load(), database=opened.database)
    if opened.problem is not None:
        show_error(window, opened.problem, "The saved session could not be restored")
    if opened.interrupted:
        QTimer.singleShot(0, window, lambda: window.offer_resume(opened.interrupted))
    return window


def run(argv: list[str] | None = None, open_paths: Sequence[Path] = ()) -> int:
    """The window on the saved session; ``open_paths`` are added to it and coded at once.

    Refused, with a message, while another window has the session open (``session_lock``).
    """
    app = application(argv)
    try:
        claim = claim_session(default_session_path())
    except SessionInUse as error:
        show_error(None, error, "icdlinker is already open", wait=True)
        return 1
    try:
        window = open_window()
        install_crash_handler(save_work=window.save_session)
        window.show()
        if open_paths:
            window.open_paths(list(open_paths))
            window.code_new()
        return app.exec()
    finally:
        if claim is not None:
            claim.release()


def wait_for_coding(window: MainWindow, timeout_s: float = 120.0) -> None:
    """Run the event loop until the window's coding run has finished; raises TimeoutError."""
    if not window.coding.is_running():
        return
    loop = QEventLoop()

    def finished(running: bool) -> None:
        if not running:
            loop.quit()

    window.coding.running_changed.connect(finished)
    timer = QTimer(singleShot=True, interval=int(timeout_s * 1000))
    timer.timeout.connect(loop.quit)
    timer.start()
    loop.exec()
    if window.coding.is_running():
        raise TimeoutError(f"coding did not finish within {timeout_s:.0f} s")


def coded_sample_window(folder: Path, samples: list[Path], settings: AppSettings | None = None) -> MainWindow:
    """A window on a fresh session in ``folder`` with ``samples`` opened and coded."""
    window = MainWindow(ReviewSession(), settings or AppSettings(), session_path=folder / "session.sqlite3")
    window.open_paths(samples)
    window.code_new()
    wait_for_coding(window)
    window.documents.select_key(window.session.documents[0].key)
    return window


def self_check() -> list[str]:
    """Build the window offscreen on a temporary data folder, code a bundled sample and render it.

    Returns what was checked, one line each; raises on the first failure.
    """
    application()
    lines = []
    with tempfile.TemporaryDirectory(prefix="icdlinker-selftest-") as folder, _data_dir(folder):
        window = coded_sample_window(Path(folder), [resources_dir() / SAMPLE])
        try:
            lines.append("window built on a temporary session")
            document = window.session.documents[0]
            if document.state is not DocumentState.CODED or document.result is None:
                raise RuntimeError(f"the sample was not coded: {document.state.value} {document.error or ''}")
            count = len(document.result.assignments)
            rows = window.pane.mentions.model().rowCount()
            if not count or rows != count:
                raise RuntimeError(f"{count} mentions coded but {rows} rows in the code table")
            lines.append(f"sample {document.name} coded: {count} mentions, {rows} table rows")
            highlighted = window.pane.text.highlights()
            if len(highlighted) != count:
                raise RuntimeError(f"{len(highlighted)} of {count} mentions highlighted in the text")
            lines.append(f"{len(highlighted)} mentions highlighted in the text")
            image = window.grab().toImage()
            if image.isNull() or image.width() < 400:
                raise RuntimeError("the window could not be rendered")
            lines.append(f"window rendered ({image.width()}×{image.height()})")
        finally:
            window.close()
            window.deleteLater()
    return lines


@contextmanager
def _data_dir(folder: str) -> Iterator[None]:
    previous = os.environ.get("ICDLINKER_DATA_DIR")
    os.environ["ICDLINKER_DATA_DIR"] = folder
    try:
        yield
    finally:
        if previous is None:
            del os.environ["ICDLINKER_DATA_DIR"]
        else:
            os.environ["ICDLINKER_DATA_DIR"] = previous
