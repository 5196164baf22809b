"""``icdlinker --self-test`` and the launcher's routing, on the real dictionaries and the real small GGUF."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from engine.models.store import ModelStore
from engine.selftest import Check, Outcome, passed, run_checks, summary
from engine.terms.dictionary import LANGUAGES
from gui import launch

ROOT = Path(__file__).resolve().parent.parent


def launcher(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``icdlinker ARGS`` through gui.launch.main in a fresh interpreter (what the console script runs)."""
    code = f"import sys; from gui.launch import main; sys.exit(main({list(args)!r}))"
    return subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=ROOT, timeout=600,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def checks(gemma_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Check]:
    """One full engine self-test with the Gemma GGUF, against an empty model store."""
    folder = tmp_path_factory.mktemp("store")
    return list(run_checks(str(gemma_gguf), ModelStore(folder / "store", bundled_dir=folder / "none")))


def test_every_dictionary_loads_and_every_language_codes_its_samples(checks: list[Check]) -> None:
    by_name = {c.name: c for c in checks}
    for language in LANGUAGES:
        assert by_name[f"dictionary {language}"].outcome is Outcome.PASSED
        samples = [c for c in checks if c.name.startswith(f"sample {language}/")]
        assert samples and all(c.outcome is Outcome.PASSED for c in samples), samples
        assert all("coded by the dictionary" in c.detail for c in samples)
    assert {"installation", "llama.cpp", "catalog who", "catalog cm", "catalog gm"} <= set(by_name)
    assert passed(checks) and summary(checks).startswith("self-test passed")


def test_the_model_answers_one_linking_call_with_offered_codes(checks: list[Check]) -> None:
    load, link = (next(c for c in checks if c.name == name) for name in ("llm load", "llm link"))
    assert load.outcome is Outcome.PASSED and "sha256" in load.detail
    assert link.outcome is Outcome.PASSED and "1 call(s)" in link.detail
    assert "'disnea de esfuerzo' →" in link.detail
    assert all(c.seconds >= 0 for c in checks) and link.seconds > 0


@pytest.mark.parametrize("damage", ["empty", "corrupt"])
def test_broken_dictionaries_fail_the_self_test_with_a_clear_message(tmp_path: Path, damage: str) -> None:
    folder = tmp_path / "compiled"
    folder.mkdir()
    if damage == "corrupt":
        for source in (ROOT / "dictionaries" / "compiled").glob("*.json.gz"):
            (folder / source.name).write_bytes(gzip.compress(b'{"truncated": '))
    done = launcher(
        "--self-test", env={"ICDLINKER_DICTIONARIES": str(folder), "ICDLINKER_MODELS_DIR": str(tmp_path / "models")}
    )
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    expected = "dictionary file missing" if damage == "empty" else "dictionary file damaged"
    for language in LANGUAGES:
        line = next(x for x in lines if f" dictionary {language}: " in x)
        assert line.startswith("FAIL") and "[ICD-E201]" in line and expected in line and str(folder) in line
        assert any(x.startswith("FAIL") and f"samples {language}: not run" in x for x in lines)
    assert any(x.startswith("FAIL") and "catalog cm: [ICD-E202]" in x for x in lines)
    assert any(x.startswith("skip") and " llm: no --model" in x for x in lines)
    assert lines[-1].startswith("self-test FAILED")


def test_command_line_subcommands_never_import_qt() -> None:
    code = (
        "import sys; from gui.launch import main\n"
        "status = main(['lookup', 'asma', '--lang', 'es'])\n"
        "print('qt loaded:', sorted({m.split('.')[0] for m in sys.modules} & {'PySide6', 'shiboken6'}))\n"
        "sys.exit(status)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "J45" in done.stdout and "qt loaded: []" in done.stdout


def test_python_dash_m_engine_cli_still_runs_the_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "lookup", "asma", "--lang", "es"],
        check=False, capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert done.returncode == 0 and "J45" in done.stdout, done.stderr


def test_no_arguments_or_document_paths_open_the_window(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = []
    app = types.ModuleType("gui.app")
    app.run = lambda argv=None, open_paths=(): calls.append(list(open_paths)) or 7  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gui.app", app)
    assert launch.main([]) == 7 and calls == [[]]
    (tmp_path / "a.txt").write_text("neumonía")
    assert launch.main([str(tmp_path / "a.txt"), str(tmp_path)]) == 7
    assert calls[-1] == [tmp_path / "a.txt", tmp_path]
    assert launch.main(["lookup", "asma"]) == 0 and len(calls) == 2  # a subcommand is not a path


def test_the_window_checks_become_self_test_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    app = types.ModuleType("gui.app")
    monkeypatch.setitem(sys.modules, "gui.app", app)
    app.self_check = lambda: ["main window built offscreen", "sample rendered"]  # type: ignore[attr-defined]
    lines = launch._gui_checks()
    assert [(c.outcome, c.detail) for c in lines] == [
        (Outcome.PASSED, "main window built offscreen"), (Outcome.PASSED, "sample rendered")
    ]

    def broken() -> list[str]:
        raise RuntimeError("no platform plugin")

    app.self_check = broken  # type: ignore[attr-defined]
    (failed,) = launch._gui_checks()
    assert failed.outcome is Outcome.FAILED and "no platform plugin" in failed.detail
    app.self_check = list  # type: ignore[attr-defined]
    assert launch._gui_checks()[0].outcome is Outcome.FAILED  # a check that checked nothing
    monkeypatch.setitem(sys.modules, "gui.app", None)  # the window's module is missing from the build
    (missing,) = launch._gui_checks()
    assert missing.outcome is Outcome.FAILED and "gui.app" in missing.detail
