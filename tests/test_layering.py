"""The house rules of the tree: engine layers import only the layers below them, the engine never
imports Qt or gui/, and gui/ modules import each other without a circle.

Imports are read from the source (every ``import``, also inside functions and under
``TYPE_CHECKING``), so a lazy or type-only import breaks the rule as surely as a top-level one.
"""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import engine

ENGINE_DIR = Path(engine.__file__).parent
GUI_DIR = ENGINE_DIR.parent / "gui"
# engine/__init__.py draws this order; modules at the top of engine/ (cli, coding, selftest) may
# import every layer.
LAYERS = ("core", "text", "terms", "models", "linking", "records", "evaluation")
TOP = len(LAYERS)


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module named by an import in ``path`` (absolute imports; the house uses no others)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            names.add(node.module or "")
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _layer(module: str) -> int:
    """The rank of an engine module: its folder's place in LAYERS, or TOP for engine/'s own modules."""
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 2 and parts[1] in LAYERS else TOP


def _engine_sources() -> dict[str, Path]:
    return {_module_name(path, ENGINE_DIR): path for path in sorted(ENGINE_DIR.rglob("*.py"))}


def test_every_engine_folder_is_a_layer() -> None:
    folders = {path.name for path in ENGINE_DIR.iterdir() if (path / "__init__.py").exists()}
    assert folders == set(LAYERS)


def test_no_engine_layer_imports_a_higher_one() -> None:
    sources = _engine_sources()
    known = set(sources)
    upward = []
    for module, path in sources.items():
        for name in _imports(path):
            if name.startswith("engine.") and name in known and _layer(name) > _layer(module):
                upward.append(f"{module} ({LAYERS[_layer(module)] if _layer(module) < TOP else 'top'}) "
                              f"imports {name}")
    assert len(sources) > 40
    assert upward == []


def test_layering_check_sees_an_upward_import(tmp_path: Path) -> None:
    """The check above would catch a text module reaching up into records (the rule is not vacuous)."""
    module = tmp_path / "engine" / "text" / "bad.py"
    module.parent.mkdir(parents=True)
    module.write_text("def f():\n    from engine.records.session import ReviewSession\n")
    name = _module_name(module, tmp_path / "engine")
    assert name == "engine.text.bad"
    upward = {n for n in _imports(module) if n.startswith("engine.") and _layer(n) > _layer(name)}
    assert upward == {"engine.records.session", "engine.records.session.ReviewSession"}


def test_no_engine_module_imports_qt() -> None:
    modules = sorted(
        m.name for m in pkgutil.walk_packages([str(ENGINE_DIR)], prefix="engine.") if m.name != "engine.__main__"
    )
    assert {"engine.linking.llm.backend", "engine.models.store"} <= set(modules)
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'PyQt5', 'PyQt6', 'gui'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert len(modules) > 10
    assert out.stdout.strip() == ""


def test_no_engine_source_imports_qt_or_gui() -> None:
    for module, path in _engine_sources().items():
        roots = {name.split(".")[0] for name in _imports(path)}
        assert not roots & {"PySide6", "shiboken6", "PyQt5", "PyQt6", "gui"}, module


def test_gui_modules_import_each_other_without_a_circle() -> None:
    sources = {_module_name(path, GUI_DIR): path for path in sorted(GUI_DIR.rglob("*.py"))}
    graph = {module: {name for name in _imports(path) if name in sources and name != module}
             for module, path in sources.items()}
    assert "gui.review_actions" in graph["gui.main_window"]
    circles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                circles.append(" -> ".join([*path[path.index(target):], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert circles == []
