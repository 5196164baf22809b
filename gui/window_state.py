"""Where the coder left the window's dividers, kept across restarts beside the settings file.

Not an ``AppSettings`` entry: it is the window's shape, not a choice the settings dialog
should offer, and a damaged file only means the default layout.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from PySide6.QtWidgets import QSplitter

from engine.core.atomic import write_text_atomic
from engine.records.settings import default_settings_path

__all__ = ["restore_splitters", "save_splitters"]

log = logging.getLogger(__name__)


def restore_splitters(splitters: dict[str, QSplitter]) -> bool:
    """Give each splitter its saved widths; False if none were saved (the caller lays them out)."""
    try:
        saved = json.loads(_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    restored = False
    for name, splitter in splitters.items():
        sizes = saved.get(name) if isinstance(saved, dict) else None
        if (isinstance(sizes, list) and len(sizes) == splitter.count()
                and all(isinstance(n, int) and n >= 0 for n in sizes) and any(sizes)):
            splitter.setSizes(sizes)
            restored = True
    return restored


def save_splitters(splitters: dict[str, QSplitter]) -> None:
    """Remember the widths; a folder that cannot be written is logged, never stops the window closing."""
    path = _path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps({name: s.sizes() for name, s in splitters.items()}))
    except OSError as error:
        log.warning("the window layout could not be saved to %s: %s", path, error)


def _path() -> Path:
    return default_settings_path().with_name("window.json")
