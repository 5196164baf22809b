"""The "Code" action: one ``Coder`` for the window's lifetime, one run at a time on a worker.

Results go into the session as they arrive (the dictionary's at once, then each
model answer), and ``document_changed`` names the document so the window
refreshes only that.  Cancelling keeps the documents already finished, and the
one in progress keeps what arrived (the dictionary's results and the model's
answers so far, noted as unfinished); documents not started return to where they
were.  A document that fails to re-code keeps its previous results: the coder's
review is never replaced by an error.
"""

from __future__ import annotations

import time
from operator import attrgetter
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QWidget

from engine.coding import Coder, CodingEvent, CodingRequest
from engine.core.codes import Edition
from engine.core.errors import EngineError
from engine.core.model import DocumentResult
from engine.records.session import ReviewSession, SessionDocument
from engine.records.settings import AppSettings
from engine.records.site_store import SiteDictionaries
from engine.terms.code_search import CodeSearch
from gui.errors import show_error
from gui.worker import BackgroundOp, TaskState, heavy_op

__all__ = ["CodingRun", "time_left"]

class CodingRun(QObject):
    """Owns the Coder; ``widgets`` (message, progress bar, Cancel) belong in the status bar."""

    document_changed = Signal(str)
    running_changed = Signal(bool)

    def __init__(self, parent: QWidget, session: ReviewSession, settings: AppSettings,
                 site: SiteDictionaries | None = None) -> None:
        """``site``: the session database's site dictionaries, so coding uses what the coders taught."""
        super().__init__(parent)
        self._parent = parent
        self.session = session
        self.coder = Coder(settings, site=site)
        self._next_settings: AppSettings | None = None
        self._op: BackgroundOp[None] | None = None
        self._before: dict[str, tuple[DocumentResult | None, str | None]] = {}
        self._kept: list[str] = []  # re-coding failures whose previous results were kept
        self._started = 0.0  # when the run began (time.monotonic), for the estimate of the time left
        self.message = QLabel()
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(220)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.widgets = (self.message, self.bar, self.cancel_button)
        self._show_widgets(False)

    def is_running(self) -> bool:
        return self._op is not None and self._op.is_running()

    def start(self, documents: list[SessionDocument]) -> None:
        """Code these documents (a run must not be in progress)."""
        requests = [_request(d) for d in documents if d.result is not None or d.source]
        if not requests or self.is_running():
            return
        for request in requests:
            document = self.session.get(request.key)
            self._before[request.key] = (document.result, document.error)
            document.coding = True  # saved: a run the app does not finish is offered again at the next start
            self.session.touch(request.key)
            self.document_changed.emit(request.key)
        self._kept = []
        self._started = time.monotonic()
        self._progress(0, len(requests), "starting")
        self._op = BackgroundOp(
            self._parent, lambda state: self._code(requests, state),
            success=lambda _: self._finish(), failure=self._failed, cancelled=self._finish,
            partial=self._event, progress=self._progress,
        )
        self._show_widgets(True)
        self.running_changed.emit(True)
        self._op.run()

    def cancel(self) -> None:
        if self._op is not None:
            self.message.setText("Cancelling…")
            self._op.cancel()

    def configure(self, settings: AppSettings) -> None:
        """New settings take effect now, or after the run in progress (the Coder is not shared)."""
        if self.is_running():
            self._next_settings = settings
        else:
            self.coder.configure(settings)

    def close(self) -> None:
        """The window closes: stop the run and put its documents back as they were."""
        if self.is_running():
            assert self._op is not None
            self._op.cancel()
            self._op.finished.connect(self.coder.close)
            self._finish()
        else:
            self.coder.close()

    def _code(self, requests: list[CodingRequest], state: TaskState) -> None:
        """On the worker, as a ``heavy_op``: the first run loads dictionaries and a catalog (about a
        million objects), and the window must keep painting meanwhile."""
        indexes: set[tuple[Edition, str]] = set()

        def on_event(event: CodingEvent) -> None:
            state.partial(event)
            if event.final and event.result.assignments:  # ICD-10 and ICD-O-3 where both were coded
                language = event.result.document.language
                indexes.update((edition, language) for edition in set(map(attrgetter("edition"),
                                                                          event.result.assignments)))

        with heavy_op():
            self.coder.code(requests, state, on_event)
            for edition, language in indexes:  # so the code picker opens at once
                state.update(len(requests), len(requests), "preparing the code picker")
                CodeSearch.cached(edition, language)

    def _event(self, value: object) -> None:
        assert isinstance(value, CodingEvent)
        if value.key not in self._before:  # the run was closed or the document removed
            return
        document = self.session.get(value.key)
        if value.final:
            document.coding = False
            previous, error = self._before.pop(value.key)
            if value.result.error and previous is not None:
                self._kept.append(f"{document.name}: {value.result.error}")
                document.result, document.error = previous, error
                self.session.touch(value.key)
                self.document_changed.emit(value.key)
                return
        document.unfinished = None if value.final else _unfinished(value)
        self.session.set_result(value.key, value.result)
        self.document_changed.emit(value.key)

    def _progress(self, done: int, total: int, message: str) -> None:
        # QProgressBar.setValue repaints at once, inside this call; painting with the next event
        # instead lets the window's paints share one pass (14-23 ms a call while coding).
        self.bar.setUpdatesEnabled(False)
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        self.bar.setUpdatesEnabled(True)
        self.bar.update()
        left = time_left(time.monotonic() - self._started, done, total)
        shown = f"Coding {min(done + 1, total)}/{total}: {message}"
        self.message.setText(f"{shown} · {left}" if left else shown)

    def _failed(self, error: BaseException) -> None:
        self._finish()
        show_error(self._parent, error, "Coding stopped")

    def _finish(self) -> None:
        """The run is over.  The document in progress keeps its partial result (``unfinished`` says
        so); those not started never changed."""
        for key in self._before:
            self.session.get(key).coding = False
            self.session.touch(key)
            self.document_changed.emit(key)
        self._before = {}
        self._show_widgets(False)
        if self._next_settings is not None and not self.is_running():  # not while closing mid-run
            self.coder.configure(self._next_settings)
            self._next_settings = None
        self.running_changed.emit(False)
        if self._kept:
            kept, self._kept = self._kept, []
            show_error(self._parent, EngineError(
                f"{len(kept)} document(s) could not be coded again; their previous results were kept.\n"
                + "\n".join(kept)
            ), "Coding")

    def _show_widgets(self, visible: bool) -> None:
        for widget in self.widgets:
            widget.setVisible(visible)


def time_left(elapsed_s: float, done: int, total: int) -> str:
    """"about 4 min left" from the pace so far; "" until a document is done (no pace to go by)."""
    if done <= 0 or done >= total:
        return ""
    seconds = elapsed_s / done * (total - done)
    if seconds < 60:
        return f"about {max(5, round(seconds / 5) * 5)} s left"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds / 3600:.1f} h left"


def _unfinished(event: CodingEvent) -> str:
    """What a partial result lacks, in the words the coder sees if the run stops here."""
    decided, asked = (event.llm.decided, event.llm.open) if event.llm else (0, 0)
    asked = asked or sum(not a.settled for a in event.result.assignments)
    return (f"The model did not finish this document: it answered for {decided} of the {asked} mentions it was "
            "asked about; the others keep the dictionary's proposal. Code it again to finish it.")


def _request(document: SessionDocument) -> CodingRequest:
    """Re-coding uses the text already read, so offsets stay valid and a moved file does not matter."""
    source = document.result.document if document.result else Path(document.source or document.key)
    return CodingRequest(document.key, source, document.language if document.language_fixed else None,
                         document.edition)
