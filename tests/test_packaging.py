"""What the frozen app relies on, checked without running PyInstaller (CI builds it in .ci/run).

Bundled models in the store, data paths under ``sys._MEIPASS``, the build's bundle audit,
and that packaging/ never shadows the PyPI ``packaging`` library.
"""

from __future__ import annotations

import ctypes.util
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from engine.core.codes import Edition
from engine.core.errors import ModelError
from engine.linking.llm.session import open_llm_stage
from engine.models.store import ModelStore
from engine.terms.catalog import Catalog
from tests.test_gguf import gguf_bytes

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def build_script() -> ModuleType:
    """packaging/build.py, loaded by path under a name that is not ``packaging``."""
    spec = importlib.util.spec_from_file_location("icdlinker_build_script", ROOT / "packaging" / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_bundled_model_is_listed_read_only_and_selected_by_default(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    content = gguf_bytes()
    (bundle / "Tiny-Q8_0.gguf").write_bytes(content)
    sha256 = hashlib.sha256(content).hexdigest()
    (bundle / "Tiny-Q8_0.gguf.sha256").write_text(f"{sha256}  Tiny-Q8_0.gguf\n", encoding="utf-8")
    (bundle / "broken.gguf").write_bytes(b"GGUF" + b"\0" * 10)  # skipped, not fatal
    store = ModelStore(tmp_path / "store", bundled_dir=bundle)

    (model,) = store.list()
    assert (model.id, model.bundled, model.copied, model.sha256) == ("tiny-q8_0", True, False, sha256)
    assert model.source == "bundled:Tiny-Q8_0.gguf" and model.architecture == "llama" and model.available
    assert store.selected() == model and store.get(bundle / "Tiny-Q8_0.gguf") == model
    with pytest.raises(ModelError, match="part of the application"):
        store.remove("tiny-q8_0")
    assert (bundle / "Tiny-Q8_0.gguf").is_file()

    original = tmp_path / "other.gguf"
    original.write_bytes(content)
    imported = store.import_file(original)
    assert store.selected() == model  # importing selects nothing
    store.select(imported.id)
    assert store.selected() == imported
    assert [m.id for m in store.list()] == ["other", "tiny-q8_0"]
    store.remove(imported.id)
    assert store.selected() == model  # back to the bundled one
    with pytest.raises(ModelError, match="already installed"):
        store.import_file(bundle / "Tiny-Q8_0.gguf")


def test_the_bundled_models_folder_follows_the_environment_in_source_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ModelStore(tmp_path / "store").bundled_dir == ROOT / "resources" / "models"
    (tmp_path / "site-models").mkdir()
    (tmp_path / "site-models" / "local.gguf").write_bytes(gguf_bytes())
    monkeypatch.setenv("ICDLINKER_BUNDLED_MODELS", str(tmp_path / "site-models"))
    store = ModelStore(tmp_path / "store")
    assert [m.id for m in store.list()] == ["local"] and store.selected() is not None


def test_the_llm_stage_opens_the_bundled_model_by_its_id(gemma_gguf: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    os.symlink(gemma_gguf, bundle / gemma_gguf.name)
    store = ModelStore(tmp_path / "store", bundled_dir=bundle)
    selected = store.selected()
    assert selected is not None and selected.id == gemma_gguf.stem and selected.sha256 == ""
    stage = open_llm_stage(selected.id, "es", Catalog.bundled(Edition.CM), store=store)
    try:
        assert stage.linker.model.name == selected.id
        assert stage.linker.model.sha256 == hashlib.sha256(gemma_gguf.read_bytes()).hexdigest()
    finally:
        stage.close()


def test_data_paths_resolve_inside_a_frozen_bundle(tmp_path: Path) -> None:
    code = (
        "import sys; sys.frozen = True; sys._MEIPASS = sys.argv[1]\n"
        "from engine.core.resources import bundled_models_dir, compiled_dir, resources_dir\n"
        "print(compiled_dir()); print(resources_dir()); print(bundled_models_dir())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ICDLINKER_")}
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, cwd=ROOT, env=env, check=True
    )
    assert done.stdout.splitlines() == [
        str(tmp_path / "dictionaries" / "compiled"), str(tmp_path / "resources"), str(tmp_path / "resources" / "models")
    ]


def test_the_bundle_ships_the_wheels_data_and_nothing_from_the_sources(build_script: ModuleType) -> None:
    shipped = {str(p).replace(os.sep, "/") for p in build_script._shipped_data()}
    compiled = {f"dictionaries/compiled/{p.name}" for p in (ROOT / "dictionaries" / "compiled").glob("*.json.gz")}
    assert compiled and compiled <= shipped and "dictionaries/SOURCES.md" in shipped
    assert {"resources/models.json", "resources/prompts/es.json", "resources/samples/el/exitirio.txt"} <= shipped
    assert not any(p.startswith("dictionaries/sources") or p.endswith((".py", ".gguf")) for p in shipped)


def test_the_bundle_audit_finds_what_a_frozen_app_would_miss(build_script: ModuleType, tmp_path: Path) -> None:
    app = tmp_path / "icdlinker"
    contents = app / "_internal"
    for relative in build_script._shipped_data():
        (contents / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / relative, contents / relative)
    (contents / "llama_cpp" / "lib").mkdir(parents=True)
    (contents / "llama_cpp" / "lib" / "libllama.so").write_bytes(b"")
    (contents / "PySide6" / "Qt" / "plugins" / "platforms").mkdir(parents=True)
    (contents / "PySide6" / "Qt" / "plugins" / "platforms" / "libqoffscreen.so").write_bytes(b"")
    carried = contents / "libxcb-cursor.so.0"  # carried when the build machine has it
    carried.write_bytes(b"")
    (app / "icdlinker").write_bytes(b"")
    assert build_script._audit(app) == []

    carried.unlink()
    if ctypes.util.find_library("xcb-cursor"):
        assert any("libxcb-cursor.so.0" in problem for problem in build_script._audit(app))

    (contents / "llama_cpp" / "lib" / "libllama.so").unlink()
    (contents / "dictionaries" / "compiled" / "de.terms.json.gz").unlink()
    (contents / "dictionaries" / "sources").mkdir()
    (contents / "dictionaries" / "sources" / "x1gmt2017.zip").write_bytes(b"")
    problems = "\n".join(build_script._audit(app))
    assert "llama.cpp's library is missing" in problems
    assert "missing dictionaries/compiled/de.terms.json.gz" in problems
    assert "x1gmt2017.zip" in problems and "dictionaries/sources" in problems


def test_packaging_folder_never_shadows_the_packaging_library() -> None:
    assert not (ROOT / "packaging" / "__init__.py").exists() and not (ROOT / "packaging.py").exists()
    code = "import packaging, packaging.version; print(packaging.__file__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert Path(done.stdout.strip()).parent.parent.name == "site-packages", done.stdout
