"""No data leaves the machine: a whole window session, and the self-test, attempt no network use.

Two independent witnesses.  ``engine.core.netguard``'s audit hook, inside the
process, names every Python socket call and every program started (a child
could reach the network unseen).  ``strace -f -e trace=network``, outside it,
sees native code too (llama.cpp, Qt), which never goes through Python's socket
module; local AF_UNIX sockets (the C library's name-service cache, D-Bus) are
not network and are only counted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Only network syscalls stop the traced process (seccomp-bpf), so the session runs at nearly full speed.
_STRACE_OPTIONS = ["-f", "--seccomp-bpf", "-qq", "-e", "trace=network", "-e", "signal=none"]
# A socket of any family but AF_UNIX, or an address of one: the only ways a process reaches a network.
_NETWORK_LINE = re.compile(r"\bsocket(pair)?\((?!AF_UNIX|AF_LOCAL)|sa_family=(?!AF_UNIX|AF_LOCAL)")


def _working_strace() -> str | None:
    """strace, when it is installed and may trace here (a container can forbid ptrace)."""
    path = shutil.which("strace")
    if path is None:
        return None
    probe = subprocess.run([path, *_STRACE_OPTIONS, "-o", os.devnull, sys.executable, "-c", "pass"],
                           check=False, capture_output=True, timeout=60)
    return path if probe.returncode == 0 else None


STRACE = _working_strace()


@dataclass(frozen=True)
class Traced:
    report: dict
    network_syscalls: list[str]  # strace's lines; none when it cannot run (that test is skipped)
    local_syscalls: int


def run_traced(
    argv: list[str], trace: Path, timeout_s: float, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run ``argv`` under ``strace -f -e trace=network`` when strace can run; its syscall lines."""
    prefix = [STRACE, *_STRACE_OPTIONS, "-o", str(trace)] if STRACE else []
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env or {})}
    done = subprocess.run([*prefix, *argv], check=False, capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout_s, env=env)
    return done, trace.read_text(encoding="utf-8").splitlines() if STRACE else []


def split(lines: list[str]) -> tuple[list[str], int]:
    network = [line for line in lines if _NETWORK_LINE.search(line)]
    return network, len(lines) - len(network)


@pytest.fixture(scope="module")
def window_session(gemma_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Traced:
    """One window session in its own process (open, code with Gemma, review, export), traced."""
    work = tmp_path_factory.mktemp("offline")
    folders = {f"ICDLINKER_{name}_DIR": str(work / "user" / name.lower())
               for name in ("DATA", "CONFIG", "MODELS", "LOG")}
    script = [sys.executable, str(ROOT / "tests" / "offline_window.py"), str(gemma_gguf), str(work)]
    done, lines = run_traced(script, work / "strace.txt", timeout_s=600, env=folders)
    assert done.returncode == 0, done.stderr[-3000:]
    network, local = split(lines)
    return Traced(json.loads(done.stdout.strip().splitlines()[-1]), network, local)


def test_a_window_session_with_the_model_attempts_no_network_use(window_session: Traced) -> None:
    report = window_session.report
    assert report["attempts"] == [], "network or process-start attempts:\n" + "\n".join(report["attempts"])
    # The session really did the work: coded (with the model's answers), reviewed, exported.
    assert report["states"] == ["coded", "coded"] and report["model_answers"] > 0
    assert report["reviewed"]["accepted"] >= 2 and report["reviewed"]["rejected"] >= 2 and report["csv_lines"] > 2
    assert any(message.startswith("icdlinker\nExported") for message in report["shown"])


@pytest.mark.skipif(STRACE is None, reason="strace is not installed (or may not trace here): native code's "
                    "network syscalls are not watched; the audit hook's check above still ran")
def test_native_code_in_that_session_makes_no_network_syscall(window_session: Traced) -> None:
    assert window_session.network_syscalls == [], "\n".join(window_session.network_syscalls[:50])
    print(f"\nstrace: 0 network syscalls, {window_session.local_syscalls} on local (AF_UNIX) sockets")


def test_the_self_test_reports_zero_network_attempts(tmp_path: Path, user_dirs: Path) -> None:
    """Every check the frozen app runs, the window's included; the model's are in the session above."""
    code = "import sys; from gui.launch import main; sys.exit(main(['--self-test']))"
    done, lines = run_traced([sys.executable, "-c", code], tmp_path / "strace.txt", timeout_s=600)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    (line,) = [line for line in done.stdout.splitlines() if " network: " in line]
    assert line.startswith("ok") and "0 socket or process-start attempts" in line
    network, _ = split(lines)
    assert network == [], "\n".join(network[:50])


def test_both_witnesses_see_an_attempt_and_name_it(tmp_path: Path) -> None:
    """The checks above can fail: a process that does reach out is caught by the hook and by strace.

    In its own process: the hook it installs stays for the life of the process.
    """
    code = (
        "import socket, subprocess, sys, threading\n"
        "from engine.core.netguard import recording\n"
        "with recording() as attempts:\n"
        "    try:\n"
        "        socket.create_connection(('192.0.2.1', 9), timeout=0.01)\n"  # TEST-NET-1: never routed
        "    except OSError:\n"
        "        pass\n"
        "    t = threading.Thread(target=lambda: socket.getaddrinfo('localhost', 80), name='lookup')\n"
        "    t.start(); t.join()\n"
        "    subprocess.run([sys.executable, '-c', 'pass'], check=True, env={'SECRET_TOKEN': 'x'})\n"
        "socket.socket().close()\n"  # after the block: not recorded
        "print('\\n'.join(a.line() for a in attempts))\n"
    )
    done, syscalls = run_traced([sys.executable, "-c", code], tmp_path / "strace.txt", timeout_s=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("socket.connect(") and "192.0.2.1" in line for line in lines), lines
    assert any(line.startswith("socket.getaddrinfo('localhost', 80") and "'lookup'" in line for line in lines)
    assert any(line.startswith("subprocess.Popen(") for line in lines)
    assert not any("SECRET_TOKEN" in line for line in lines)  # an environment is never printed
    assert len([line for line in lines if line.startswith("socket.__new__")]) == 1
    if STRACE:
        network, _ = split(syscalls)
        assert any("connect(" in line and "192.0.2.1" in line for line in network), syscalls
