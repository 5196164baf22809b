"""The model's own thread: every llama.cpp call runs on one worker that owns the backend."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from engine.core.errors import BackendError
from engine.core.progress import Progress
from engine.linking.llm.backend import BackendSettings, Generation, LlamaBackend, OnLoad, OnPrompt

__all__ = ["LLMWorker", "model_unloaded"]

P = ParamSpec("P")
T = TypeVar("T")


class LLMWorker:
    """Runs every model call on one dedicated thread that owns the backend.

    A llama context is not re-entrant and inference must never block the GUI
    thread; cancel a running call through the Progress passed to it.
    """

    def __init__(self, backend: LlamaBackend | None = None) -> None:
        self._backend = backend if backend is not None else LlamaBackend()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="icdlinker-llm")
        self._freed: Future[None] | None = None

    @property
    def backend(self) -> LlamaBackend:
        """For functions passed to ``submit``; calling it from another thread races the worker."""
        return self._backend

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Queue ``fn(*args)`` behind every earlier call; it runs on the worker thread.

        Raises ``BackendError`` once shut down: a model test sharing the window's model sees the
        window unload it (another model selected) as a clear error, not a RuntimeError.
        """
        try:
            return self._executor.submit(fn, *args, **kwargs)
        except RuntimeError as error:
            raise model_unloaded() from error

    def load(
        self,
        path: str | Path,
        settings: BackendSettings | None = None,
        cancel: Progress | None = None,
        on_load: OnLoad | None = None,
    ) -> Future[None]:
        return self.submit(self._backend.load, path, settings, cancel, on_load)

    def unload(self) -> Future[None]:
        return self.submit(self._backend.unload)

    def generate_json(
        self,
        messages: list[dict[str, str]],
        schema: dict[str, Any],
        max_tokens: int,
        cancel: Progress | None = None,
        temperature: float = 0.0,
        on_text: Callable[[str], None] | None = None,
        on_prompt: OnPrompt | None = None,
    ) -> Future[Generation]:
        return self.submit(
            self._backend.generate_json, messages, schema, max_tokens, cancel, temperature, on_text, on_prompt
        )

    def shutdown(self, wait: bool = True) -> Future[None]:
        """Let queued calls finish, free the model on the worker thread, and stop it; idempotent.

        Returns the freeing, done once the model's memory is released: ``wait=False`` returns at
        once (the UI thread must not wait for a generation) and the worker thread frees it later.
        """
        try:
            self._freed = self._executor.submit(self._backend.unload)
        except RuntimeError:  # already shut down: the first call set ``_freed`` before shutting down
            pass
        self._executor.shutdown(wait=wait)
        assert self._freed is not None
        return self._freed

    def __enter__(self) -> LLMWorker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.shutdown()


def model_unloaded() -> BackendError:
    """What a caller sees when the model it was using is unloaded under it: a clear error, not a RuntimeError."""
    return BackendError("The language model was unloaded while it was in use.",
                        hint="Run it again: the model is loaded afresh.")
