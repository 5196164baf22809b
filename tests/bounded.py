"""Run a command in a child process under a time and memory bound, and measure what it used.

Hostile-input cases must end "within bounded time and memory": the bound is
enforced (the child is killed at the deadline; its address space is capped),
and the figures come from ``wait4``'s rusage of that one child, not from the
whole test process.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Bounded", "python_argv", "run_bounded", "run_window_day"]

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Bounded:
    returncode: int  # negative: killed by that signal (the deadline kills with SIGKILL)
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mb: float
    timed_out: bool

    def describe(self) -> str:
        return (f"rc={self.returncode} in {self.seconds:.2f} s, peak RSS {self.peak_rss_mb:.0f} MB"
                f"{' (timed out)' if self.timed_out else ''}\nstderr: {self.stderr[-2000:]}")


def python_argv(*args: str) -> list[str]:
    """``python -m engine ARGS`` with this interpreter."""
    return [sys.executable, "-m", "engine", *args]


def run_bounded(argv: list[str], *, timeout_s: float, max_memory_mb: int = 4096, cwd: Path = ROOT,
                env: dict[str, str] | None = None, stdin: bytes | None = None) -> Bounded:
    """Run ``argv``; kill it after ``timeout_s``; cap its address space at ``max_memory_mb``.

    The cap is on virtual memory (RLIMIT_AS), which is larger than RSS: size it
    with room for the interpreter's and the libraries' mappings.
    """
    limit = max_memory_mb * 1024 * 1024

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        os.setsid()  # the deadline kills the child's whole process group

    started = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=cwd, env={**os.environ, **(env or {})}, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=cap,
    )
    streams: dict[str, bytes] = {}
    readers = [threading.Thread(target=lambda n=name, s=stream: streams.__setitem__(n, s.read()), daemon=True)
               for name, stream in (("out", process.stdout), ("err", process.stderr))]
    for reader in readers:
        reader.start()
    if stdin and process.stdin is not None:
        process.stdin.write(stdin)
        process.stdin.close()
    timed_out, deadline = False, started + timeout_s
    while True:  # wait4 gives this one child's rusage, not the sum over every child so far
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            timed_out = True
            os.killpg(process.pid, signal.SIGKILL)
            pid, status, usage = os.wait4(process.pid, 0)
            break
        time.sleep(0.01)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join(timeout=10)
    return Bounded(process.returncode, streams.get("out", b"").decode("utf-8", "replace"),
                   streams.get("err", b"").decode("utf-8", "replace"), seconds, usage.ru_maxrss / 1024, timed_out)


def run_window_day(folder: Path, source: str, *args: str, timeout_s: float) -> Bounded:
    """``source`` as a script in a child process on an offscreen Qt, under the bounds: a working day in
    the window whose crash (PySide6 dies with a segfault, not an exception) fails the test, not pytest."""
    script = folder / "window_day.py"
    script.write_text(source, encoding="utf-8")
    done = run_bounded([sys.executable, str(script), *args], timeout_s=timeout_s, max_memory_mb=8192,
                       env={"QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, f"the review process died: {done.describe()}\n{done.stdout}"
    assert "Fatal Python error" not in done.stderr
    return done
