"""One window per session database.

Two windows on one session each hold their own copy of it and write a
document's row whenever the coder acts on it, so the later write wins and the
other window's decisions on that document are lost.  The first window holds an
operating-system file lock beside the database while it runs; the system drops
it when the process ends, however it ends, so a killed window never locks the
coder out.
"""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock, Timeout

from engine.core.errors import SessionInUse

__all__ = ["claim_session"]


def claim_session(path: Path) -> FileLock | None:
    """Hold ``path``'s lock until released or the process ends; raises SessionInUse if another has it.

    None when no lock file can be made there (a read-only folder): the session
    then cannot be saved either, and opening it says so.
    """
    lock = FileLock(path.with_name(path.name + ".lock"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire(timeout=0)
    except Timeout:
        raise SessionInUse(f"icdlinker is already open on this session ({path}) in another window") from None
    except OSError:
        return None
    return lock
