"""The launcher: a command is a command, and a window that cannot start says what to install."""

import subprocess
import sys
from pathlib import Path

from gui.launch import main
from gui.system_libraries import DEBIAN_PACKAGES, window_start_problem

ROOT = Path(__file__).resolve().parent.parent


def test_a_file_named_like_a_command_does_not_open_the_window(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lookup").write_text("a file that happens to be called lookup", encoding="utf-8")
    (tmp_path / "neumonía").write_text("and one called like the term", encoding="utf-8")
    assert main(["lookup", "neumonía"]) == 0
    assert "J18" in capsys.readouterr().out  # the command ran: no window was opened


def test_a_missing_system_library_is_named_with_what_to_install(tmp_path: Path, monkeypatch) -> None:
    """A real shared object whose dependency is absent, loaded as the platform plugin would be."""
    absent = "libicdlinker-absent.so.0"
    (tmp_path / "empty.c").write_text("int absent_symbol(void) { return 1; }\n")
    (tmp_path / "plugin.c").write_text("int absent_symbol(void);\nint plugin(void) { return absent_symbol(); }\n")
    for command in (["gcc", "-shared", "-fPIC", "-o", absent, "empty.c", f"-Wl,-soname,{absent}"],
                    ["gcc", "-shared", "-fPIC", "-o", "libqxcb.so", "plugin.c", "-L.", f"-l:{absent}"]):
        subprocess.run(command, cwd=tmp_path, check=True)
    (tmp_path / absent).unlink()
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    problem = window_start_problem(plugin=tmp_path / "libqxcb.so")
    assert problem is not None and absent in problem and "install the system package that provides" in problem


def test_the_package_of_a_known_library_is_named() -> None:
    error = "libxcb-cursor.so.0: cannot open shared object file: No such file or directory"
    problem = window_start_problem(import_error=error)
    assert problem is not None and "sudo apt-get install libxcb-cursor0" in problem
    assert DEBIAN_PACKAGES["libxcb-cursor.so.0"] == "libxcb-cursor0"


def test_no_x_display_is_a_message_not_an_abort() -> None:
    """Qt aborts the process without a display; the launcher says why and exits 2 instead."""
    display = ":97"  # no X server listens there
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from gui.launch import main; sys.exit(main([]))"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "DISPLAY": display, "QT_QPA_PLATFORM": "xcb", "HOME": str(ROOT),
             "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 2, done.stderr
    assert "the review window cannot start" in done.stderr and "Traceback" not in done.stderr
    assert f"DISPLAY='{display}'" in done.stderr or "install" in done.stderr
