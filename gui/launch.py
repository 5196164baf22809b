"""The ``icdlinker`` entry point of the installed and the frozen app: window, self-test or command line.

No Qt import at module level: the command line and the engine self-test must work
on a machine where Qt cannot start (no display, missing system libraries), and
should not pay Qt's start-up time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from engine.cli import COMMANDS
from engine.cli import main as cli_main
from engine.core.netguard import recording
from engine.selftest import Check, Outcome, network_check, passed, run_checks, summary
from gui.system_libraries import window_start_problem

__all__ = ["main"]

_USAGE = """\
icdlinker                                 open the review window (the last session is restored)
icdlinker FILE|FOLDER ...                 open the window with these documents added and coded
icdlinker --self-test [--model PATH|ID]   check this installation, headless; exit 0 only if all passed
icdlinker COMMAND ...                     the command line (code, eval, lookup, models), below
"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if not args:
        return _window([])
    # A command name wins over a file of that name in the working folder (open it as ./code).
    if args[0] not in COMMANDS and not args[0].startswith("-") and all(Path(arg).exists() for arg in args):
        return _window([Path(arg) for arg in args])
    if args[0] == "--self-test":
        return _self_test(args[1:])
    if args[0] in ("-h", "--help"):
        print(_USAGE)
    return cli_main(args)


def _window(paths: list[Path]) -> int:
    problem = window_start_problem()
    if problem is None:
        try:
            from gui.app import run
        except ImportError as error:
            problem = window_start_problem(str(error))
    if problem is not None:
        print(f"icdlinker: {problem}; the command line works meanwhile: icdlinker --help", file=sys.stderr)
        return 2
    return run(open_paths=paths)


def _self_test(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="icdlinker --self-test", description="Check this installation, headless.")
    parser.add_argument("--model", help="also load this model (.gguf path or installed id) and link with it")
    args = parser.parse_args(argv)
    checks: list[Check] = []
    with recording() as attempts:  # the proof that an installation codes offline
        for check in run_checks(args.model):
            print(check.line(), flush=True)
            checks.append(check)
        for check in _gui_checks():
            print(check.line(), flush=True)
            checks.append(check)
    checks.append(network_check(attempts))
    print(checks[-1].line())
    print(summary(checks))
    return 0 if passed(checks) else 1


def _gui_checks() -> list[Check]:
    """The window, built offscreen by ``gui.app.self_check``: one check line per line it reports."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    started = time.perf_counter()
    try:
        from gui.app import self_check

        lines = self_check()
    except Exception as error:  # noqa: BLE001 — the self-test reports every failure as a line
        return [Check("gui", Outcome.FAILED, f"{error!r}", time.perf_counter() - started)]
    seconds = time.perf_counter() - started
    return [Check("gui", Outcome.PASSED, line, seconds if i == 0 else 0.0) for i, line in enumerate(lines)] or [
        Check("gui", Outcome.FAILED, "gui.app.self_check checked nothing", seconds)
    ]
