"""Files replaced only once their new content is on disk, so a crash or a full disk loses nothing.

Exports, settings and the model registry all write this way; it sits in ``core`` because
the model store (below records) needs it too.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

__all__ = ["stat_or_none", "write_atomic", "write_text_atomic"]


def stat_or_none(path: Path) -> os.stat_result | None:
    """``os.stat``, or None where nothing is there yet."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def write_text_atomic(path: Path, text: str, encoding: str = "utf-8", errors: str = "strict") -> None:
    """Replace ``path`` only once ``text`` is fully on disk (see ``write_atomic``)."""
    write_atomic(path, lambda stream: stream.write(text), encoding, errors)


def write_atomic(path: Path, write: Callable[[TextIO], object], encoding: str, errors: str) -> None:
    """Replace ``path`` only once what ``write`` writes to the stream it is given is fully on disk.

    A path that exists and is not a regular file (``/dev/null``, ``/dev/stdout``,
    a pipe) is written to directly: renaming over it would replace the device
    with a file.  A symbolic link is followed, so the link itself stays.
    """
    path = Path(path)
    info = stat_or_none(path)
    if info is not None and not stat.S_ISREG(info.st_mode):
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, "it is a folder, not a file", str(path))
        with open(path, "w", encoding=encoding, errors=errors, newline="") as stream:
            write(stream)
        return
    target = Path(os.path.realpath(path))
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding=encoding, errors=errors, newline="") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
