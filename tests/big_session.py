"""A session at the scale a coder reaches: the 2,751 CodiEsp background documents, coded by the
real pipeline (dictionary stage), for the heartbeat test and the session benchmark.

Coding them takes about 8 s here; ``session_database`` writes the result once into a database
file that a test session (or the benchmark) then copies for each window it opens.
"""

from __future__ import annotations

from pathlib import Path

from engine.coding import Coder, CodingEvent, CodingRequest
from engine.core.progress import CancelToken
from engine.records.session import ReviewSession
from engine.records.session_db import open_session

__all__ = ["BACKGROUND", "coded_session", "session_database"]

# shared/ lies beside the checkout (CI, the main checkout) or beside a folder of worktrees.
_SHARED = next((p / "shared" for p in Path(__file__).resolve().parents[2:4] if (p / "shared" / "data").is_dir()),
               Path(__file__).resolve().parents[2] / "shared")
BACKGROUND = _SHARED / "data" / "codiesp" / "background" / "text_files"


def coded_session(folder: Path = BACKGROUND, limit: int | None = None) -> ReviewSession:
    """Every document of ``folder`` (the first ``limit``), added and coded as the window would."""
    session = ReviewSession()
    session.add_paths(sorted(folder.glob("*.txt"))[:limit])

    def store(event: CodingEvent) -> None:
        if event.final:
            session.set_result(event.key, event.result)

    coder = Coder()
    try:
        coder.code([CodingRequest(d.key, Path(d.source or d.key)) for d in session], CancelToken(), store)
    finally:
        coder.close()
    return session


def session_database(path: Path, session: ReviewSession) -> Path:
    """``session`` written into a new session database at ``path``."""
    opened = open_session(path)
    opened.database.submit(session.take_changes(everything=True))
    opened.database.flush(timeout_s=300)
    opened.database.close()
    return path
