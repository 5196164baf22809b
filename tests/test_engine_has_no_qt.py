"""engine/ is a plain library: importing all of it must not load Qt or gui/."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import engine

ENGINE_DIR = Path(engine.__file__).parent


def test_no_engine_module_imports_qt() -> None:
    modules = sorted(
        m.name for m in pkgutil.walk_packages([str(ENGINE_DIR)], prefix="engine.") if m.name != "engine.__main__"
    )
    assert {"engine.llm.backend", "engine.models.store"} <= set(modules)
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'PyQt5', 'PyQt6', 'gui'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert len(modules) > 10
    assert out.stdout.strip() == ""


def test_no_engine_source_mentions_a_qt_import() -> None:
    for path in ENGINE_DIR.rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            assert not stripped.startswith(("import PySide6", "from PySide6", "from gui", "import gui")), path
