"""Where bundled data lives, the same way in a checkout, a wheel and a frozen app."""

from __future__ import annotations

import gzip
import json
import os
import sys
from pathlib import Path
from typing import Any

from engine.core.progress import give_way

__all__ = ["bundled_models_dir", "compiled_dir", "load_compiled", "resources_dir"]

_PIECE_BYTES = 64 * 1024  # well under a millisecond to decompress


def _root() -> Path:
    frozen_root = getattr(sys, "_MEIPASS", None)  # PyInstaller one-folder bundle
    if frozen_root:
        return Path(frozen_root)
    # engine/, dictionaries/ and resources/ are siblings in a checkout and in site-packages;
    # this file is engine/core/resources.py.
    return Path(__file__).resolve().parents[2]


def compiled_dir() -> Path:
    """Folder of compiled dictionaries and catalogs (``ICDLINKER_DICTIONARIES`` overrides)."""
    override = os.environ.get("ICDLINKER_DICTIONARIES")
    return Path(override) if override else _root() / "dictionaries" / "compiled"


def resources_dir() -> Path:
    """Folder of bundled resources: sample documents, prompts, model catalog."""
    return _root() / "resources"


def bundled_models_dir() -> Path:
    """Folder of GGUF models shipped inside the app (``ICDLINKER_BUNDLED_MODELS`` overrides).

    ``packaging/build.py --with-model`` fills it, for sites that cannot download; it may not exist.
    """
    override = os.environ.get("ICDLINKER_BUNDLED_MODELS")
    return Path(override) if override else resources_dir() / "models"


def load_compiled(path: Path) -> Any:
    """Read a gzipped JSON data file, letting other threads run while it is read.

    Each C call holds the GIL from start to end, and the window's thread needs the
    GIL for every Python callback of a paint: a whole-file ``gzip.decompress`` or
    a decode of non-ASCII text (10-20 ms each for a catalog) would hold it off for
    each of them.  The file is decompressed in small pieces; its text is ASCII
    (``dictionaries/build.py`` escapes the rest), which ``json.loads`` decodes at
    copying speed; and a Python hook per object and integer gives the parse points
    to switch threads, and to give way to the window (``give_way``).  The result is the same.
    """
    with gzip.open(path, "rb") as reader:
        data = b"".join(iter(lambda: reader.read(_PIECE_BYTES), b""))
    return json.loads(data, object_hook=_switch_point, parse_int=_parse_int)


def _switch_point(value: dict[str, Any]) -> dict[str, Any]:
    give_way()
    return value


def _parse_int(text: str) -> int:
    give_way()
    return int(text)
