"""llama.cpp's callbacks into Python: the abort callback (cancel, and how far a prompt is read)
and the load-progress callback (cancel, and how far a model is loaded).

Both run on the model's thread inside native calls, where an exception cannot propagate: a
report that fails is logged, never raised.  llama-cpp-python 0.3.36's ``Llama()`` takes no
load-progress callback but builds its model parameters with ``llama_model_default_params()``;
``load_watched`` hands it parameters that carry one for the duration of a load, so a cancel
aborts loading the tensors and the window can show how far the load is.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from engine.core.progress import Progress

if TYPE_CHECKING:
    from llama_cpp import Llama

__all__ = ["OnLoad", "OnPrompt", "load_watched", "polled"]

log = logging.getLogger(__name__)

_LOADING = threading.Lock()  # the default-parameters hook serves one load at a time

OnLoad = Callable[[float], None]  # the fraction of the model's tensors loaded so far
OnPrompt = Callable[[int, int], None]  # prompt tokens evaluated so far, of how many


@contextmanager
def polled(
    llm: Llama, cancel: Progress | None, on_prompt: OnPrompt | None, reused: int, evaluated: int
) -> Iterator[None]:
    """Let ``cancel`` abort llama.cpp inside ``llama_decode``, for the duration of one call.

    An aborted decode returns 2 (``Llama.eval`` raises RuntimeError); llama.cpp
    removes that batch's positions from the KV cache and ``Llama.eval`` has not
    counted them, so the cache and ``n_tokens`` agree on what was evaluated.
    The same callback, polled after every graph node, reports the prompt's
    progress: ``Llama.eval`` counts ``n_tokens`` up after each batch.
    Without either no callback is set: it costs a Python call per graph node.
    """
    if cancel is None and on_prompt is None:
        yield
        return
    import llama_cpp

    reported = 0

    def poll(_data: object) -> bool:
        nonlocal reported
        read = llm.n_tokens - reused
        if on_prompt is not None and reported < read <= evaluated:
            reported = read
            _quietly(on_prompt, read, evaluated)
        return cancel is not None and cancel.cancelled()

    callback = llama_cpp.ggml_abort_callback(poll)  # referenced until reset
    llama_cpp.llama_set_abort_callback(llm.ctx, callback, None)
    try:
        yield
    finally:
        llama_cpp.llama_set_abort_callback(llm.ctx, llama_cpp.ggml_abort_callback(), None)


@contextmanager
def load_watched(cancel: Progress | None, on_load: OnLoad | None) -> Iterator[None]:
    """Make the next ``Llama()`` report its load to ``on_load`` and stop once ``cancel`` says so.

    llama.cpp calls the progress callback for every tensor it loads and aborts the
    load when it returns false (``Llama()`` then raises ValueError).  Reading the
    header and vocabulary before the first tensor is not covered: the caller stops
    waiting for a cancelled load rather than wait for that (``open_llm_stage``).
    """
    if cancel is None and on_load is None:
        yield
        return
    import llama_cpp.llama_cpp as native

    def report(fraction: float, _data: object) -> bool:
        if on_load is not None:
            _quietly(on_load, fraction)
        return not (cancel is not None and cancel.cancelled())

    callback = native.llama_progress_callback(report)
    default_params = native.llama_model_default_params

    def params_with_callback() -> Any:
        params = default_params()
        params.progress_callback = callback
        return params

    with _LOADING:
        native.llama_model_default_params = params_with_callback
        try:
            yield
        finally:
            native.llama_model_default_params = default_params


def _quietly(report: Callable[..., None], *args: object) -> None:
    """Run a progress report from inside a llama.cpp callback, where an exception cannot propagate."""
    try:
        report(*args)
    except Exception:  # a progress display must never break inference
        log.exception("a progress report failed")
