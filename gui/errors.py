"""The one place where errors and confirmations become messages for the coder.

Engine errors show their stable code and hint, so a coder on an air-gapped
workstation can read "ICD-E302" to IT over the phone.  Anything unexpected is a
bug: its traceback goes to a local crash log (never uploaded) and the message
says where that file is.  Like qutebrowser's messagemock, every message shown
is also appended to ``shown``, so tests assert on what the coder would see.
"""

from __future__ import annotations

import datetime
import faulthandler
import logging
import os
import platform
import sys
import threading
import traceback
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import TracebackType
from typing import IO

import PySide6
from platformdirs import user_log_dir
from PySide6.QtCore import QObject, Qt, Signal, qVersion
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from engine.core.errors import EngineError

__all__ = [
    "install_crash_handler", "log_folder", "redacted_traceback", "show_error", "show_info", "shown",
    "write_crash_log",
]

log = logging.getLogger(__name__)

shown: list[str] = []
"""Every message shown to the coder, in order, as one text (title, text and details)."""

_crash: _CrashHandler | None = None


def show_error(parent: QWidget | None, error: BaseException, action: str = "", wait: bool = False) -> None:
    """Tell the coder what went wrong; ``action`` names what failed (e.g. "Export failed").

    ``wait``: until the coder closes the message (when there is no window to go back to).
    UI thread only, like every widget: ``BackgroundOp`` callbacks run there.
    """
    if isinstance(error, EngineError):
        details = f"{error.hint}\n\nError code: {error.code}" if error.hint else f"Error code: {error.code}"
        _show(parent, QMessageBox.Icon.Warning, action or "icdlinker", error.message, details, wait)
        return
    _show_unexpected(parent, error, action, write_crash_log(error))


def show_info(parent: QWidget | None, text: str) -> None:
    """A confirmation such as "Exported 42 rows to …", through the same path as errors."""
    _show(parent, QMessageBox.Icon.Information, "icdlinker", text, "")


def log_folder() -> Path:
    """The crash log folder: the crash handler's, else ``ICDLINKER_LOG_DIR`` or the user's log folder."""
    if _crash is not None:
        return _crash.folder
    return Path(os.environ.get("ICDLINKER_LOG_DIR") or user_log_dir("icdlinker", appauthor=False))


def write_crash_log(error: BaseException) -> Path:
    """A local file, readable by this user only, with the traceback, the time and the versions.

    Exception messages are left out: they can quote a document (a KeyError on a
    mention's text, a decoding error's bytes), and a crash log travels to IT.
    The frames, the exception types and engine error codes are what a fix needs.
    """
    folder = log_folder()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    now = datetime.datetime.now()
    path = folder / f"crash-{now:%Y%m%d-%H%M%S-%f}.log"
    header = [
        f"time: {now.isoformat(timespec='seconds')}",
        f"thread: {threading.current_thread().name}",
        f"icdlinker: {_icdlinker_version()}",
        f"python: {sys.version.split()[0]}  pyside: {PySide6.__version__}  qt: {qVersion()}",
        f"platform: {platform.platform()}",
    ]
    with _private(path).open("w", encoding="utf-8") as stream:
        stream.write("\n".join(header) + "\n\n" + redacted_traceback(error))
    log.error("crash log written to %s (%s)", path, type(error).__name__)
    return path


def redacted_traceback(error: BaseException) -> str:
    """The traceback of ``error`` and the exceptions it was raised from, without their messages."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    parts = []
    for link in reversed(chain):
        if parts:
            parts.append("\nwhich led to:\n\n")
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_list(traceback.extract_tb(link.__traceback__)))
        kind = type(link)
        code = f" [{link.code}]" if isinstance(link, EngineError) else ""
        parts.append(f"{kind.__module__}.{kind.__qualname__}{code}: "
                     f"<message of {len(str(link))} characters left out: it may quote a document>\n")
    return "".join(parts)


def _private(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 (before anything is written to it); returns it."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    os.chmod(path, 0o600)  # an existing file keeps its mode on O_CREAT
    return path


def install_crash_handler(save_work: Callable[[], None], log_dir: Path | None = None) -> Path:
    """Route uncaught exceptions (any thread) and hard crashes into local logs; returns the log folder.

    Call once from the UI thread after the QApplication exists.  On a crash the
    coder's work is saved first (``save_work``, guarded), then the message shown.
    """
    global _crash
    folder = log_dir or log_folder()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    previous, _crash = _crash, _CrashHandler(folder, save_work)
    if previous is not None:
        previous.close()
    sys.excepthook = _crash.excepthook
    threading.excepthook = _crash.thread_excepthook
    return folder


def _show(
    parent: QWidget | None, icon: QMessageBox.Icon, title: str, text: str, details: str, wait: bool = False
) -> None:
    shown.append("\n".join(part for part in (title, text, details) if part))
    log.log(logging.INFO if icon is QMessageBox.Icon.Information else logging.WARNING, "%s: %s %s",
            title, text, details)
    if QApplication.instance() is None:  # before the window exists, the log is all there is
        return
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setInformativeText(details)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # codes and paths can be copied
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    if wait:
        box.exec()
    else:
        box.open()


def _show_unexpected(parent: QWidget | None, error: BaseException, action: str, crash_log: Path) -> None:
    text = f"{action}: {type(error).__name__}: {error}" if action else f"{type(error).__name__}: {error}"
    _show(parent, QMessageBox.Icon.Critical, "Unexpected error", text,
          f"This is a bug in icdlinker. The details were saved to {crash_log}; please give that file to IT.")


def _icdlinker_version() -> str:
    try:
        return version("icdlinker")
    except PackageNotFoundError:  # running from a source checkout
        return "source checkout"


class _CrashHandler(QObject):
    """Logs the crash at once, in the failing thread; saves work and tells the coder in the UI thread."""

    _crashed = Signal(object, object)  # the error, its crash log

    def __init__(self, folder: Path, save_work: Callable[[], None]) -> None:
        super().__init__()
        self.folder = folder
        self._save_work = save_work
        faults = folder / "faulthandler.log"
        if not faults.exists():
            _private(faults)
        os.chmod(faults, 0o600)
        self._faults: IO[str] = faults.open("a", encoding="utf-8")
        faulthandler.enable(self._faults)
        self._crashed.connect(self._report)  # queued when emitted from a worker thread

    def close(self) -> None:
        """Another handler took over: its faulthandler file is the one in use now."""
        self._faults.close()

    def excepthook(self, kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, tb)
            return
        self._crashed.emit(error, write_crash_log(error))

    def thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None and not isinstance(args.exc_value, SystemExit):  # as threading does
            self._crashed.emit(args.exc_value, write_crash_log(args.exc_value))

    def _report(self, error: BaseException, crash_log: Path) -> None:
        try:
            self._save_work()
        except Exception as failure:  # a crash while saving must not hide the first crash
            log.exception("saving work after a crash failed: %s", failure)
        app = QApplication.instance()
        parent = app.activeWindow() if isinstance(app, QApplication) else None
        _show_unexpected(parent, error, "", crash_log)

