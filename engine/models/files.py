"""Where model files live; read (and optionally copy) a large one once, hashing it, with progress and cancel.

Model files are gigabytes: the SHA-256 that proves a file intact is computed in the
same pass that copies it, and the coder sees progress and can cancel.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import BinaryIO

import platformdirs

from engine.core.errors import ModelError
from engine.core.progress import Cancelled, Progress

__all__ = ["DISK_MARGIN_BYTES", "default_models_dir", "ensure_free_space", "stream_file"]

DISK_MARGIN_BYTES = 64 * 1024**2  # room left for the registry and the system
_BLOCK = 4 * 1024**2


def default_models_dir() -> Path:
    """The store's folder: ICDLINKER_MODELS_DIR, else the per-user data folder."""
    override = os.environ.get("ICDLINKER_MODELS_DIR")
    if override:
        return Path(override)
    return Path(platformdirs.user_data_dir("icdlinker", appauthor=False)) / "models"


def stream_file(
    source: Path, progress: Progress | None, message: str, copy_to: BinaryIO | None = None
) -> str:
    """SHA-256 of ``source``, copying it into the open ``copy_to`` on the way (flushed to disk) if given."""
    digest = hashlib.sha256()
    total = source.stat().st_size
    done = 0
    with source.open("rb") as reader:
        while block := reader.read(_BLOCK):
            digest.update(block)
            if copy_to:
                copy_to.write(block)
            done += len(block)
            if progress is not None:
                progress.update(done, total, message)
                if progress.cancelled():
                    raise Cancelled()
    if copy_to:
        copy_to.flush()
        os.fsync(copy_to.fileno())
    return digest.hexdigest()


def ensure_free_space(folder: Path, needed: int, error: type[ModelError] = ModelError) -> None:
    """Refuse before writing gigabytes, rather than fail with a full disk half-way."""
    free = shutil.disk_usage(folder).free
    if needed + DISK_MARGIN_BYTES > free:
        raise error(
            f"not enough disk space in {folder}: "
            f"{needed / 1024**3:.1f} GB needed, {free / 1024**3:.1f} GB free",
            hint="Free some disk space, or set ICDLINKER_MODELS_DIR to a folder on a larger disk.",
        )
