"""Record every attempt to reach the network, to prove that coding a document never does.

The app promises that no patient text leaves the workstation.  A Python audit
hook sees every socket the interpreter creates, binds, connects or resolves a
name for, and every program it starts (a child process could reach the network
where this hook cannot see).  It only records, never blocks: the one allowed
network use, an explicit model download, works the same with it installed.
Native code (llama.cpp, Qt) does not go through Python's socket module; the
test suite checks it from outside with ``strace``.

Audit hooks cannot be removed, so the hook is installed once per process and
``recording()`` switches what it keeps on and off.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = ["Attempt", "recording"]

# Every ``socket.*`` event counts (socket.__new__, bind, connect, getaddrinfo,
# gethostbyname, sendto, sendmsg, ...); these start another program.
_PROCESS_EVENTS = frozenset({"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn"})
_DETAIL_CHARS = 200


@dataclass(frozen=True, slots=True)
class Attempt:
    """One audited call: the event, its arguments (shortened) and the thread that made it."""

    event: str
    arguments: str
    thread: str

    def line(self) -> str:
        return f"{self.event}{self.arguments} in thread {self.thread!r}"


_recorders: list[list[Attempt]] = []  # one list per active ``recording()``; appends are atomic
_installed = threading.Lock()
_hooked = False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _recorders or not (event.startswith("socket.") or event in _PROCESS_EVENTS):
        return
    arguments = repr(tuple(a for a in args if not isinstance(a, Mapping)))  # never an environment's values
    if len(arguments) > _DETAIL_CHARS:
        arguments = arguments[:_DETAIL_CHARS] + "…)"
    attempt = Attempt(event, arguments, threading.current_thread().name)
    for attempts in _recorders:
        attempts.append(attempt)


@contextmanager
def recording() -> Iterator[list[Attempt]]:
    """Collect every network or process-start attempt, from any thread, until the block ends."""
    global _hooked
    with _installed:
        if not _hooked:
            sys.addaudithook(_hook)
            _hooked = True
    attempts: list[Attempt] = []
    _recorders.append(attempts)
    try:
        yield attempts
    finally:
        _recorders.remove(attempts)
