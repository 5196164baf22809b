"""Several icdlinker processes share one models folder: a file lock for the registry, held temporary files.

``models.json`` is read, changed and rewritten by every import, download, select and
remove; a thread lock alone let six concurrent ``models import`` processes lose 65 of
120 registrations.  Every change now holds ``<folder>/.models.lock`` (filelock), and
never for long: copies and downloads happen outside it.

A model being copied in is a temporary file its writer keeps locked
(``filelock.lock_descriptor``) until it is moved into place under the registry lock.
A ``*.copying`` file nobody holds was left by a killed process, and so is a
``.models.json.*.tmp`` from an atomic rewrite (written only under the registry
lock): :func:`remove_leftovers` deletes both when the store opens.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout, lock_descriptor

from engine.core.errors import ModelError

__all__ = ["COPY_SUFFIX", "HeldFile", "held_temporary", "lock_file", "registry_lock", "remove_leftovers"]

log = logging.getLogger(__name__)

COPY_SUFFIX = ".copying"
_LOCK_NAME = ".models.lock"
_REGISTRY_TEMPORARIES = ".models.json.*.tmp"  # engine.core.atomic.write_text_atomic's names for models.json


@contextmanager
def registry_lock(folder: Path, timeout: float = 60.0) -> Iterator[None]:
    """Hold the folder's registry lock; ModelError if another process or thread holds it past ``timeout``."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / _LOCK_NAME, is_singleton=True)  # one per folder: nested holds count up
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise ModelError(
            f"the model registry in {folder} stayed locked by another icdlinker for {timeout:g} s",
            hint="Wait for the other import or download to finish, then try again.",
        ) from None
    try:
        yield
    finally:
        lock.release()


def lock_file(fd: int) -> bool:
    """Lock an open file for this process (non-blocking); False when another process holds it."""
    return lock_descriptor(fd, blocking=False)


class HeldFile:
    """A temporary file, open for writing and locked, until it is moved into place or discarded."""

    def __init__(self, folder: Path, name: str) -> None:
        with registry_lock(folder):  # created and locked before a sweep can see it unheld
            handle, path = tempfile.mkstemp(prefix=f"{name}.", suffix=COPY_SUFFIX, dir=folder)
            self.path, self.stream = Path(path), os.fdopen(handle, "r+b")
            if not lock_file(handle):
                self.discard()
                raise ModelError(f"cannot lock the temporary file {path}")

    def move_to(self, target: Path) -> None:
        """Replace ``target`` with this file; call it holding the registry lock (the sweep waits for it)."""
        self.stream.close()  # Windows cannot rename an open file
        os.replace(self.path, target)

    def discard(self) -> None:
        self.stream.close()
        self.path.unlink(missing_ok=True)


@contextmanager
def held_temporary(folder: Path, name: str) -> Iterator[HeldFile]:
    """``<folder>/<name>.<random>.copying``, locked while the block writes it; deleted unless moved."""
    held = HeldFile(folder, name)
    try:
        yield held
    finally:
        held.discard()


def remove_leftovers(folder: Path) -> list[Path]:
    """Delete what killed processes left in ``folder``: unheld ``*.copying`` files, registry ``.tmp`` files.

    Skipped (nothing removed) while another process holds the registry lock: the next opening retries.
    """
    removed: list[Path] = []
    try:
        with registry_lock(folder, timeout=0):
            for path in [*folder.glob(f"*{COPY_SUFFIX}"), *folder.glob(_REGISTRY_TEMPORARIES)]:
                if path.suffix == COPY_SUFFIX and _held(path):
                    continue
                path.unlink(missing_ok=True)
                removed.append(path)
    except (ModelError, OSError) as error:  # busy or read-only: leftovers only cost disk space
        log.info("leftovers in %s not removed: %s", folder, error)
    for path in removed:
        log.info("removed %s, left by an interrupted import", path)
    return removed


def _held(path: Path) -> bool:
    """Whether a live process still writes ``path`` (it holds the file's lock)."""
    with path.open("rb") as stream:
        return not lock_file(stream.fileno())
