"""Where bundled data lives, the same way in a checkout, a wheel and a frozen app."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["compiled_dir", "resources_dir"]


def _root() -> Path:
    frozen_root = getattr(sys, "_MEIPASS", None)  # PyInstaller one-folder bundle
    if frozen_root:
        return Path(frozen_root)
    # engine/, dictionaries/ and resources/ are siblings in a checkout and in site-packages.
    return Path(__file__).resolve().parent.parent


def compiled_dir() -> Path:
    """Folder of compiled dictionaries and catalogs (``ICDLINKER_DICTIONARIES`` overrides)."""
    override = os.environ.get("ICDLINKER_DICTIONARIES")
    return Path(override) if override else _root() / "dictionaries" / "compiled"


def resources_dir() -> Path:
    """Folder of bundled resources: sample documents, prompts, model catalog."""
    return _root() / "resources"
