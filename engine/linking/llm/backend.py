"""The one place that touches llama.cpp: load a GGUF, generate schema-constrained JSON.

``llama_cpp`` is imported lazily, inside the calls that need it, so the
dictionary-only app starts without loading the native library, and a broken
native build surfaces as an engine error when a model is loaded.

Written against llama-cpp-python 0.3.36; two behaviours of that version shape
``generate_json``:

* ``create_chat_completion`` takes no ``stopping_criteria``, so cancellation is
  impossible through it.  We render the chat template ourselves, exactly as its
  handler does, and call ``create_completion`` with the tokens.
* ``stopping_criteria`` only runs between generated tokens; evaluating a long
  prompt is a few ``llama_decode`` calls (113 s for a long document with
  a 1.5B model on one core).  llama.cpp's abort callback, set on the context
  through the low-level API, is polled after every node of the compute graph,
  so on the CPU backend a cancel stops a decode after the node under way.
* ``Llama()`` takes no load-progress callback (see ``callbacks.load_watched``).
* ``response_format`` silently falls back to "any JSON" when the schema cannot
  be converted, and a grammar llama.cpp rejects crashes the process when
  sampling starts.  We convert and parse the grammar first and pass it as
  ``grammar=``; failures raise ``GrammarError``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from engine.core.errors import BackendError, GrammarError, ModelFileError
from engine.core.progress import Cancelled, Progress
from engine.linking.llm.callbacks import OnLoad, OnPrompt, load_watched, polled
from engine.models.vetting import check_model_file

if TYPE_CHECKING:
    from llama_cpp import Llama, LlamaGrammar
    from llama_cpp.llama_chat_format import ChatFormatter, ChatFormatterResponse

__all__ = [
    "BackendSettings",
    "Generation",
    "LlamaBackend",
    "OnLoad",
    "OnPrompt",
    "fit_context",
    "physical_cores",
]

_GGUF_MAGIC = b"GGUF"
_CONTEXT_STEP = 256



def physical_cores() -> int:
    """Cores rather than hyper-threads: two llama.cpp threads on one core slow each other down.

    Linux reports cores in /proc/cpuinfo; elsewhere this falls back to ``os.cpu_count()``.
    """
    logical = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        info = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return logical
    cores: set[tuple[str, str]] = set()
    for block in info.split("\n\n"):
        fields = dict(line.split(":", 1) for line in block.splitlines() if ":" in line)
        fields = {key.strip(): value.strip() for key, value in fields.items()}
        if "physical id" in fields and "core id" in fields:
            cores.add((fields["physical id"], fields["core id"]))
    return min(len(cores), logical) if cores else logical


def fit_context(prompt_tokens: int, max_tokens: int, n_ctx_train: int) -> int:
    """A context just big enough for a prompt and its answer: the KV cache grows with ``n_ctx``.

    Rounded up to a multiple of 256 and capped by the model's trained context.
    """
    needed = max(prompt_tokens + max_tokens, 1)  # never 0: llama.cpp reads n_ctx=0 as "trained size"
    return min(-(-needed // _CONTEXT_STEP) * _CONTEXT_STEP, n_ctx_train)


@dataclass(frozen=True, slots=True)
class BackendSettings:
    """How a model is loaded; the defaults suit a CPU-only desktop and never fail on one."""

    n_gpu_layers: int | Literal["auto"] = "auto"
    n_threads: int = field(default_factory=physical_cores)
    n_ctx: int = 4096
    # Prompt tokens per llama_decode call.  A cancel is seen between two nodes of its graph, and
    # one matrix product over 512 tokens of a 1.5B model takes ~0.5 s on one busy core: 128 keeps
    # a cancel well under 1 s for bigger models too, at no measurable cost in speed on the CPU.
    n_batch: int = 128
    seed: int = 0
    verbose: bool = False
    # The tokenizer and chat template only, no weights: counts a prompt's tokens in a second.
    vocab_only: bool = False

    def gpu_layers(self) -> int:
        """``"auto"`` offloads every layer only when llama.cpp was built with a GPU backend."""
        if self.n_gpu_layers != "auto":
            return self.n_gpu_layers
        import llama_cpp

        return -1 if llama_cpp.llama_supports_gpu_offload() else 0

    def sized_for(self, prompt_tokens: int, max_tokens: int, n_ctx_train: int) -> BackendSettings:
        """These settings with ``n_ctx`` fitted to a prompt (see ``fit_context``)."""
        return replace(self, n_ctx=fit_context(prompt_tokens, max_tokens, n_ctx_train))


@dataclass(frozen=True, slots=True)
class Generation:
    """One answer, with what it cost; ``parsed`` is None (and ``parse_error`` says why) for bad JSON."""

    text: str
    parsed: Any
    parse_error: str | None
    prompt_tokens: int
    evaluated_prompt_tokens: int  # prompt tokens not reused from the previous call's KV cache
    completion_tokens: int
    seconds: float  # the whole call: template, grammar, inference, parsing
    llama_seconds: float  # inside llama.cpp's completion call only
    finish_reason: str  # "stop" (the grammar completed) or "length" (max_tokens hit)


class LlamaBackend:
    """One loaded model at a time.

    Not thread-safe (a llama context is not re-entrant): drive it from one thread,
    normally through ``LLMWorker``.
    """

    def __init__(self) -> None:
        self._llm: Llama | None = None
        self._path: Path | None = None
        self._settings: BackendSettings | None = None
        self._formatter: ChatFormatter | None = None

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    @property
    def model_path(self) -> Path | None:
        return self._path

    @property
    def settings(self) -> BackendSettings | None:
        return self._settings

    @property
    def n_ctx(self) -> int:
        return self._require().n_ctx()

    @property
    def n_ctx_train(self) -> int:
        """The context the model was trained with: the ceiling for ``fit_context``."""
        import llama_cpp

        return llama_cpp.llama_model_n_ctx_train(self._require().model)

    def load(
        self,
        path: str | Path,
        settings: BackendSettings | None = None,
        cancel: Progress | None = None,
        on_load: OnLoad | None = None,
    ) -> None:
        """Load a GGUF, replacing any loaded model; ``cancel`` aborts the load (``Cancelled``)."""
        path = Path(path)
        settings = settings if settings is not None else BackendSettings()
        self.unload()
        _check_gguf(path)
        check_model_file(path)  # header bounds and a bounded render of its chat template
        if cancel is not None and cancel.cancelled():
            raise Cancelled()
        try:
            import llama_cpp

            with load_watched(cancel, on_load):
                llm = llama_cpp.Llama(
                    model_path=str(path),
                    n_gpu_layers=settings.gpu_layers(),
                    n_threads=settings.n_threads,
                    n_threads_batch=settings.n_threads,
                    n_ctx=settings.n_ctx,
                    n_batch=settings.n_batch,
                    n_ubatch=settings.n_batch,  # one graph per batch: an abort drops exactly the uncounted batch
                    seed=settings.seed,
                    verbose=settings.verbose,
                    vocab_only=settings.vocab_only,
                )
        except Exception as exc:  # ImportError/OSError for the native library, ValueError for the file
            if cancel is not None and cancel.cancelled():  # the progress callback stopped the load
                raise Cancelled() from exc
            raise BackendError(f"llama.cpp could not load {path}: {exc}") from exc
        self._formatter = _chat_formatter(llm)
        self._llm, self._path, self._settings = llm, path, settings

    def unload(self) -> None:
        """Free the model and its context now, rather than whenever the garbage collector runs."""
        llm = self._llm
        self._llm = self._path = self._settings = self._formatter = None
        if llm is not None:
            llm.close()

    def reset(self) -> None:
        """Forget the KV cache, so the next call evaluates its whole prompt (for cold measurements)."""
        self._require().reset()

    def tokenize(self, text: str) -> list[int]:
        """Tokens of plain text: no BOS, and special-token spellings stay ordinary text."""
        return self._require().tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def prompt_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        """The tokens a chat evaluates, through the model's own chat template (for sizing ``n_ctx``)."""
        return self._render(messages)[0]

    def generate_json(
        self,
        messages: list[dict[str, str]],
        schema: dict[str, Any],
        max_tokens: int,
        cancel: Progress | None = None,
        temperature: float = 0.0,
        on_text: Callable[[str], None] | None = None,
        on_prompt: OnPrompt | None = None,
    ) -> Generation:
        """Answer a chat with JSON that the grammar built from ``schema`` forces to match it.

        The output is only cut short by ``max_tokens``; then ``parsed`` is None.
        ``on_text`` sees the answer so far after every token, so callers can act
        on each finished part of it; ``on_prompt`` sees how far the model has
        read the prompt (on the CPU, where reading dominates).  Raises ``Cancelled`` as soon as ``cancel``
        says so: inside a decode (prompt or token) on the CPU, else between two
        tokens.  The KV cache then holds only what was fully evaluated, so the
        next call reuses that prefix and the backend stays usable.
        """
        started = time.perf_counter()
        llm = self._require()
        if cancel is not None and cancel.cancelled():
            raise Cancelled()
        grammar = _compile_grammar(llm, schema)
        tokens, rendered = self._render(messages)
        if len(tokens) + max_tokens > llm.n_ctx():
            raise BackendError(
                f"The prompt ({len(tokens)} tokens) and answer ({max_tokens}) do not fit "
                f"the model's context of {llm.n_ctx()} tokens.",
                hint="Load the model with a larger context (BackendSettings.sized_for).",
            )
        evaluated = _prompt_tokens_to_evaluate(llm, tokens)

        from llama_cpp import StoppingCriteriaList

        stopping = StoppingCriteriaList(rendered.stopping_criteria or [])
        stopped_by_cancel = False
        seen_lengths: set[int] = set()

        def count_and_cancel(ids: Any, _logits: object) -> bool:
            # Called after every sampled token, and once more at the end with the
            # same length: distinct lengths count the tokens, even while streaming.
            # The cancel check here serves backends without an abort callback (GPU).
            nonlocal stopped_by_cancel
            seen_lengths.add(len(ids))
            stopped_by_cancel = stopped_by_cancel or (cancel is not None and cancel.cancelled())
            return stopped_by_cancel

        stopping.append(count_and_cancel)
        llama_started = time.perf_counter()
        pieces: list[str] = []
        finish_reason = "stop"
        try:
            with polled(llm, cancel, on_prompt, len(tokens) - evaluated, evaluated):
                for chunk in llm.create_completion(
                    tokens,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    stop=rendered.stop,
                    stopping_criteria=stopping,
                    grammar=grammar,
                    stream=True,
                ):
                    choice = chunk["choices"][0]  # type: ignore[index]
                    if choice["text"]:
                        pieces.append(choice["text"])
                        if on_text is not None:
                            on_text("".join(pieces))
                    finish_reason = choice["finish_reason"] or finish_reason
        except (RuntimeError, ValueError) as exc:  # llama_decode failures, context overflow
            # A failed or aborted decode may leave its logits half-written: the next call must
            # decode again rather than sample from them (Llama's own "not live" flag).
            llm._requires_eval = True
            if cancel is not None and cancel.cancelled():  # llama_decode returned 2: aborted
                raise Cancelled() from exc
            raise BackendError(f"llama.cpp failed while generating: {exc}") from exc
        llama_seconds = time.perf_counter() - llama_started
        if stopped_by_cancel:
            raise Cancelled()
        text = "".join(pieces)
        parsed, parse_error = _parse_json(text)
        return Generation(
            text=text,
            parsed=parsed,
            parse_error=parse_error,
            prompt_tokens=len(tokens),
            evaluated_prompt_tokens=evaluated,
            completion_tokens=len(seen_lengths),
            seconds=time.perf_counter() - started,
            llama_seconds=llama_seconds,
            finish_reason=finish_reason,
        )

    def _require(self) -> Llama:
        if self._llm is None:
            raise BackendError("No language model is loaded.", hint="Load a model before using the LLM.")
        return self._llm

    def _render(self, messages: list[dict[str, str]]) -> tuple[list[int], ChatFormatterResponse]:
        """Template and tokenize as llama-cpp-python's chat handler does, so prompts match it."""
        llm = self._require()
        assert self._formatter is not None
        rendered = self._formatter(messages=messages)
        prompt = rendered.prompt.encode("utf-8")
        return llm.tokenize(prompt, add_bos=not rendered.added_special, special=True), rendered


def _check_gguf(path: Path) -> None:
    """Tell a missing or non-GGUF file (the coder's problem) from a file llama.cpp cannot run."""
    try:
        with path.open("rb") as file:
            magic = file.read(len(_GGUF_MAGIC))
    except OSError as exc:
        raise ModelFileError(f"The model file {path} cannot be read: {exc.strerror or exc}") from exc
    if magic != _GGUF_MAGIC:
        raise ModelFileError(f"{path} is not a GGUF model file (damaged, or a different format).")


def _chat_formatter(llm: Llama) -> ChatFormatter:
    """The GGUF's own chat template, built as ``Llama`` builds it; its Llama-2 fallback without one."""
    from llama_cpp import llama_chat_format

    template = llm.metadata.get("tokenizer.chat_template")
    if template is None:  # base models carry no template
        return llama_chat_format.format_llama2
    eos, bos = llm.token_eos(), llm.token_bos()
    return llama_chat_format.Jinja2ChatFormatter(
        template=template,
        eos_token=llm.detokenize([eos], special=True).decode("utf-8") if eos != -1 else "",
        bos_token=llm.detokenize([bos], special=True).decode("utf-8") if bos != -1 else "",
        stop_token_ids=[eos],
    )


def _compile_grammar(llm: Llama, schema: dict[str, Any]) -> LlamaGrammar:
    """Schema → GBNF, parsed by llama.cpp before use: a grammar it rejects would crash at sampling."""
    import llama_cpp
    from llama_cpp.llama_grammar import LLAMA_GRAMMAR_DEFAULT_ROOT, json_schema_to_gbnf

    try:
        gbnf = json_schema_to_gbnf(json.dumps(schema))
    except Exception as exc:  # the converter raises Assertion/Value/Type/KeyError on what it cannot do
        raise GrammarError(f"The answer schema cannot be turned into a grammar: {exc!r}") from exc
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    sampler = llama_cpp.llama_sampler_init_grammar(
        vocab, gbnf.encode("utf-8"), LLAMA_GRAMMAR_DEFAULT_ROOT.encode("utf-8")
    )
    if not sampler:
        raise GrammarError("llama.cpp rejected the grammar built from the answer schema.")
    llama_cpp.llama_sampler_free(sampler)
    return llama_cpp.LlamaGrammar.from_string(gbnf, verbose=False)


def _prompt_tokens_to_evaluate(llm: Llama, tokens: list[int]) -> int:
    """How many prompt tokens ``Llama.generate`` will decode, by its own prefix-reuse rule.

    It keeps the longest prefix shared with the tokens already in the KV cache,
    but re-decodes the last prompt token when the whole prompt matches (to get
    fresh logits) unless the cache holds exactly this prompt with live logits.
    llama.cpp's perf counters cannot say this: they report at least 1 and count
    a one-token batch as generation.
    """
    cached = llm._input_ids  # tokens whose KV state llama.cpp holds
    n = min(len(cached), len(tokens))
    same = cached[:n] == np.asarray(tokens[:n], dtype=cached.dtype)
    prefix = n if same.all() else int(same.argmin())
    if prefix == len(tokens):
        if llm.n_tokens == len(tokens) and not getattr(llm, "_requires_eval", True):
            return 0
        prefix -= 1
    return len(tokens) - prefix


def _parse_json(text: str) -> tuple[Any, str | None]:
    """Bad output (cut at max_tokens, or a broken model) must reach the caller as data, not a crash."""
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, str(exc)
