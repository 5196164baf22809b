"""Open the LLM stage for a pipeline: find the model, check it fits, load it on the one worker."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as WaitTimeout
from dataclasses import dataclass, replace
from pathlib import Path

from engine.core.errors import BackendError, ModelFileError
from engine.core.progress import Cancelled, CancelToken, Progress
from engine.linking.llm.backend import BackendSettings, Generation, OnLoad, OnPrompt
from engine.linking.llm.linker import LLMLinker, ModelIdentity
from engine.linking.llm.worker import LLMWorker
from engine.models.files import stream_file
from engine.models.gguf import read_gguf_info
from engine.models.memory import check_fits, estimate_memory
from engine.models.store import ModelStore
from engine.terms.catalog import Catalog

__all__ = ["LLMStage", "StageClosed", "model_file", "open_llm_stage", "wait_for"]

DEFAULT_CONTEXT = 8192  # a long discharge summary, its candidates and the example fit
_CANCEL_POLL_S = 0.05


class StageClosed(Cancelled):
    """A generation stopped because its stage was closed under it (a model test borrowing the window's model)."""


@dataclass
class LLMStage:
    """A loaded model and the linker that uses it; close it to free the memory."""

    worker: LLMWorker
    linker: LLMLinker
    path: Path  # the file loaded: a model test of the same file reuses this stage rather than load it twice
    closing: CancelToken  # set by ``close``: every generation through this stage stops

    def serves(self, model: str, store: ModelStore | None = None) -> bool:
        """Whether ``model`` (an installed model's id, or a path) is the very file this stage has loaded."""
        try:
            return os.path.samefile(model_file(model, store)[0], self.path)
        except (ModelFileError, OSError):
            return False

    def close(self) -> Future[None]:
        """Stop every generation through this stage and free the model, without waiting for either.

        The window calls this on its UI thread, maybe while a model test borrows the stage: waiting
        for the test's generation would freeze the window for as long.  Returns the freeing (done
        once the worker thread has released the memory, within a decode node of the cancel).
        """
        self.closing.cancel()
        return self.worker.shutdown(wait=False)


def model_file(model: str, store: ModelStore | None = None) -> tuple[Path, str, str]:
    """``model``'s file, its SHA-256 where the store knows it (else ""), and the name it is known by."""
    installed = (store or ModelStore()).get(model)
    if installed is not None:
        return installed.file, installed.sha256, installed.id
    path = Path(model).expanduser()
    if not path.is_file():
        raise ModelFileError(
            f"no installed model or file named {model!r}",
            hint="See 'icdlinker models list', or give the path of a .gguf file.",
        )
    return path, "", path.name


def open_llm_stage(
    model: str,
    language: str,
    catalog: Catalog,
    settings: BackendSettings | None = None,
    store: ModelStore | None = None,
    cancel: Progress | None = None,
    on_load: OnLoad | None = None,
) -> LLMStage:
    """Load ``model`` (an installed model's id, or a .gguf path) for linking in ``language``.

    The file is validated and its memory need checked before llama.cpp sees it.
    ``cancel`` raises ``Cancelled`` within ``_CANCEL_POLL_S`` in every phase of the load.
    """
    path, sha256, name = model_file(model, store)
    info = read_gguf_info(path)
    settings = settings or BackendSettings(n_ctx=DEFAULT_CONTEXT)
    settings = replace(settings, n_ctx=min(settings.n_ctx, info.context_length))
    check_fits(estimate_memory(info, settings.n_ctx, settings.gpu_layers()))
    sha256 = sha256 or stream_file(path, _Watch(cancel), "hashing")  # provenance names the exact file
    worker = LLMWorker()
    try:
        wait_for(worker.load(path, settings, cancel, on_load), cancel)
    except Cancelled:
        worker.shutdown(wait=False)
        raise
    except BaseException:
        worker.shutdown()
        raise
    closing = CancelToken()

    def generate(
        messages: list[dict[str, str]],
        schema: dict,
        max_tokens: int,
        cancel: Progress | None,
        on_text: Callable[[str], None] | None,
        on_prompt: OnPrompt | None = None,
    ) -> Generation:
        watched = _UntilClosed(cancel, closing)
        try:
            return worker.generate_json(messages, schema, max_tokens, watched, on_text=on_text,
                                        on_prompt=on_prompt).result()
        except (Cancelled, BackendError):  # BackendError: submitted just after the close
            if closing.cancelled() and not (cancel is not None and cancel.cancelled()):
                raise StageClosed() from None
            raise

    return LLMStage(worker, LLMLinker(generate, catalog, language, ModelIdentity(name, sha256)), path, closing)


def wait_for(work: Future[None], cancel: Progress | None) -> None:
    """The outcome of ``work`` on the model thread (a load, a freeing), or ``Cancelled`` as soon as
    ``cancel`` says so.

    llama.cpp's progress callback aborts a load only once it reads tensors; a
    cancelled load still in the header, vocabulary or template check is left to
    finish on the model thread, which then frees it (``shutdown(wait=False)``).
    """
    while True:
        try:
            return work.result(timeout=_CANCEL_POLL_S)
        except WaitTimeout:
            if cancel is not None and cancel.cancelled():
                raise Cancelled() from None


class _UntilClosed:
    """A generation's cancel: its caller's, or the stage's close."""

    def __init__(self, cancel: Progress | None, closing: CancelToken) -> None:
        self._cancel = cancel
        self._closing = closing

    def update(self, done: int, total: int, message: str) -> None:
        """The backend reports through ``on_text`` and ``on_prompt``; it only polls this."""

    def cancelled(self) -> bool:
        return self._closing.cancelled() or (self._cancel is not None and self._cancel.cancelled())


class _Watch:
    """Cancel for the hashing of a model file, without reporting it as the batch's progress."""

    def __init__(self, cancel: Progress | None) -> None:
        self._cancel = cancel

    def update(self, done: int, total: int, message: str) -> None:
        """The batch's progress line keeps saying the model is loading."""

    def cancelled(self) -> bool:
        return self._cancel is not None and self._cancel.cancelled()
