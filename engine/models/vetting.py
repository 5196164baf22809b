"""Is a model file safe to hand to llama.cpp?  Its header (gguf.py), then its chat template, bounded.

A GGUF carries its own chat template, a Jinja program.  llama-cpp-python renders it
in Jinja's immutable sandbox, which stops attribute tricks but not a loop that runs
for minutes, a string of gigabytes or a prompt of millions of characters (measured
before this check: > 150 s, 6.3 GB, > 300 s).  So before a model is imported, and
again before it is loaded, its template renders a conversation shaped like
icdlinker's prompts (system, worked example, a long document) through
llama-cpp-python's own formatter, in a child process with a deadline, a cap on its
address space and a cap on the output.  A child, not a thread: only a process can
be stopped in the middle of a Jinja loop or a huge allocation.

A template that passed is remembered by its SHA-256 as an empty marker file in the
models folder, so loading a model that was imported costs no second check.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import sys
from multiprocessing.connection import Connection
from pathlib import Path

from engine.core.errors import ModelError, ModelTemplateError
from engine.models.files import default_models_dir
from engine.models.gguf import GGUFInfo, read_gguf_info

__all__ = [
    "MAX_OUTPUT_CHARS", "MEMORY_HEADROOM_BYTES", "RENDER_SECONDS", "check_chat_template", "check_model_file",
]

log = logging.getLogger(__name__)

RENDER_SECONDS = 5.0  # a real template renders this conversation in milliseconds
MEMORY_HEADROOM_BYTES = 512 * 1024**2  # beyond what the child holds once llama-cpp-python is imported
_STARTUP_SECONDS = 120.0  # starting Python and importing llama-cpp-python on a busy machine
_CHECK_VERSION = 1  # part of the marker's name: a stricter check invalidates old verdicts
_MARKERS = ".checked-templates"

_DOCUMENT = ("Varón de 70 años con disnea de esfuerzo, dolor torácico atípico y prurito. " * 80)[:6000]
_CONVERSATION = [
    {"role": "system", "content": "Eres un codificador clínico. Responde solo con JSON. " * 20},
    {"role": "user", "content": "Texto: Mujer de 54 años con diabetes tipo 2.\nMenciones: m1 diabetes"},
    {"role": "assistant", "content": '{"m1": "E11.9"}'},
    {"role": "user", "content": f"Texto: {_DOCUMENT}\nMenciones: " + "; ".join(f"m{i}" for i in range(9))},
]
_CONVERSATION_CHARS = sum(len(m["content"]) for m in _CONVERSATION)
# The rendered prompt may repeat the conversation once more (some templates do) plus a long
# fixed preamble; anything beyond is a template that multiplies its input.
MAX_OUTPUT_CHARS = 2 * _CONVERSATION_CHARS + 64 * 1024


def check_model_file(path: Path | str, markers_dir: Path | None = None) -> GGUFInfo:
    """``read_gguf_info`` plus the bounded chat-template check: what import and load both require."""
    info = read_gguf_info(path)
    if info.chat_template is not None:
        check_chat_template(info.chat_template, info.path.name, markers_dir)
    return info


def check_chat_template(template: str, name: str, markers_dir: Path | None = None) -> None:
    """Raise ModelTemplateError unless ``template`` renders our conversation within the bounds."""
    folder = (markers_dir or default_models_dir()) / _MARKERS
    marker = folder / f"{hashlib.sha256(template.encode('utf-8')).hexdigest()}-v{_CHECK_VERSION}"
    if marker.exists():
        return
    problem = _render_bounded(template)
    if problem is not None:
        raise ModelTemplateError(f"{name}: {problem}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError as error:  # a read-only folder only costs a check at the next load
        log.info("template verdict not remembered in %s: %s", folder, error)


def _render_bounded(template: str) -> str | None:
    """What is wrong with the template when the child renders it, or None."""
    context = multiprocessing.get_context("spawn")  # never fork a process that runs llama.cpp and Qt threads
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_render_in_child, args=(sender, template), daemon=True,
                            name="icdlinker-template-check")
    child.start()
    sender.close()
    try:
        if _receive(receiver, _STARTUP_SECONDS) != ("ready", ""):
            raise ModelError(
                "the chat-template check could not start (a busy or damaged installation?)",
                hint="Try again; if it keeps failing, run 'icdlinker --self-test'.",
            )
        verdict = _receive(receiver, RENDER_SECONDS)
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receiver.close()
    if verdict is None:
        if child.exitcode is not None and child.exitcode < 0 and child.exitcode != -9:
            return f"rendering its chat template crashed the check (signal {-child.exitcode})"
        return (f"rendering its chat template for a short conversation did not finish in "
                f"{RENDER_SECONDS:g} s (an endless loop?)")
    kind, detail = verdict
    if kind == "memory":
        return (f"rendering its chat template for a short conversation needs more than "
                f"{MEMORY_HEADROOM_BYTES // 1024**2} MB of memory")
    if kind == "error":
        return f"its chat template fails on the conversation icdlinker sends ({detail})"
    if int(detail) > MAX_OUTPUT_CHARS:
        return (f"its chat template turns a {_CONVERSATION_CHARS:,}-character conversation into "
                f"{int(detail):,} characters (at most {MAX_OUTPUT_CHARS:,} are accepted)")
    return None


def _receive(connection: Connection, timeout: float) -> tuple[str, str] | None:
    """The child's next message; None when it sent none in time or died."""
    try:
        return connection.recv() if connection.poll(timeout) else None
    except (EOFError, OSError):
        return None


def _render_in_child(connection: Connection, template: str) -> None:
    """In the child: cap memory, render, report ("ok", length) / ("memory", "") / ("error", text)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    _cap_address_space(MEMORY_HEADROOM_BYTES)
    connection.send(("ready", ""))
    try:
        formatter = Jinja2ChatFormatter(template=template, eos_token="<eos>", bos_token="<bos>")
        verdict = ("ok", str(len(formatter(messages=_CONVERSATION).prompt)))
    except MemoryError:
        verdict = ("memory", "")
    except Exception as error:  # noqa: BLE001 — syntax errors, raise_exception(), type errors: all reported
        verdict = ("error", f"{type(error).__name__}: {error}"[:300])
    connection.send(verdict)


def _cap_address_space(headroom: int) -> None:
    """RLIMIT_AS at what the child uses now plus ``headroom`` (Linux; elsewhere the deadline bounds it)."""
    if not sys.platform.startswith("linux"):
        return
    import resource

    pages = int(Path("/proc/self/statm").read_text().split()[0])
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    limit = pages * resource.getpagesize() + headroom
    soft = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
