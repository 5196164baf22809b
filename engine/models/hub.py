"""The one place icdlinker uses the network: fetch a single model file from the Hugging Face Hub.

Offline is the default (engine/__init__.py sets HF_HUB_OFFLINE=1 before
huggingface_hub is imported, so ``huggingface_hub.constants.HF_HUB_OFFLINE`` is
True and its request hook refuses every request).  That hook reads the constant at
request time, so :func:`hub_access` lifts it for one explicit download and puts it
back.  huggingface_hub is imported inside the functions: coding never loads it.

Why not ``hf_hub_download``: in huggingface_hub 2.x it writes to a per-process
temporary file that it deletes on any failure (huggingface_hub PR #4228), so a
cancelled or dropped multi-gigabyte download starts again from zero.  Why not its
``http_get`` either: it writes whatever the server sends and compares sizes only at
the end (a hostile server made it write 3 GB for a file declared far smaller), and
its 10 s read timeout never fires on a server that trickles a byte at a time, so
such a download hangs forever.  We keep our own ``<sha256>.incomplete`` file, locked
while one process appends to it, and stream into it with huggingface_hub's HTTP
session: a body is cut at the declared size, fewer than ``STALL_BYTES`` in
``stall_seconds`` (or no byte at all) stops the download resumably, and a dropped
connection resumes with a Range request.  ``get_hf_file_metadata`` gives the commit,
size and SHA-256 (the LFS ``X-Linked-Etag``) that the finished file is checked against.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from engine.core.errors import ModelDownloadError
from engine.core.progress import Cancelled, Progress
from engine.models.files import ensure_free_space, stream_file
from engine.models.locking import lock_file

__all__ = ["STALL_BYTES", "STALL_SECONDS", "RemoteFile", "fetch_model_file"]

STALL_SECONDS = 30.0
STALL_BYTES = 64 * 1024  # fewer in STALL_SECONDS (2 KB/s: days for a model) is a stalled server
_RETRIES = 5  # dropped connections in a row, without a new byte, before giving up

_SHA256 = re.compile(r"[0-9a-f]{64}")
_LIBRARY = "icdlinker"
_hub_lock = threading.Lock()  # hub_access changes process-wide settings: one download at a time


@dataclass(frozen=True)
class RemoteFile:
    """A file on the hub as its metadata describes it."""

    repo_id: str
    filename: str
    commit: str
    size: int
    sha256: str
    url: str

    @property
    def source(self) -> str:
        return f"download:{self.repo_id}/{self.filename}@{self.commit}"


def fetch_model_file(
    repo_id: str,
    filename: str,
    partial_dir: Path,
    progress: Progress | None = None,
    *,
    revision: str = "main",
    endpoint: str | None = None,
    chunk_size: int = 1024**2,
    stall_seconds: float = STALL_SECONDS,
) -> tuple[Path, RemoteFile]:
    """Download (or resume) one file into ``partial_dir`` and verify its size and SHA-256.

    Returns the verified file, still named ``<sha256>.incomplete`` for the caller to
    validate and move.  A cancel (``Cancelled``), a stalled server or a lost connection
    keeps the partial file so the next call resumes it; a file that fails verification
    is deleted.  Progress is reported (and a cancel seen) every ``chunk_size`` bytes.
    """
    with hub_access():
        remote = _metadata(repo_id, filename, revision, endpoint)
        partial = partial_dir / f"{remote.sha256}.incomplete"
        partial_dir.mkdir(parents=True, exist_ok=True)
        with partial.open("ab") as stream:
            if not lock_file(stream.fileno()):
                raise ModelDownloadError(
                    f"{filename} is already being downloaded by another icdlinker",
                    hint="Wait for that download to finish.",
                )
            if stream.tell() > remote.size:
                stream.truncate(0)
            ensure_free_space(partial_dir, remote.size - stream.tell(), ModelDownloadError)
            _transfer(remote, stream, progress, chunk_size, stall_seconds)
    complete = partial.stat().st_size == remote.size
    if not complete or stream_file(partial, progress, f"verifying {filename}") != remote.sha256:
        partial.unlink()
        raise ModelDownloadError(
            f"{filename}: the downloaded file does not match the size and SHA-256 the hub gave "
            f"({remote.size:,} bytes, {remote.sha256[:12]}…); it was deleted"
        )
    return partial, remote


@contextmanager
def hub_access() -> Iterator[None]:
    """Lift huggingface_hub's offline mode for this block only; telemetry stays off for good."""
    from huggingface_hub import constants

    with _hub_lock:
        saved = constants.HF_HUB_OFFLINE
        constants.HF_HUB_DISABLE_TELEMETRY = True  # also skips the user-agent's agent-registry fetch
        constants.HF_HUB_OFFLINE = False
        try:
            yield
        finally:
            constants.HF_HUB_OFFLINE = saved


def _metadata(repo_id: str, filename: str, revision: str, endpoint: str | None) -> RemoteFile:
    import httpx2  # huggingface_hub's HTTP client
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url

    where = f"{repo_id}/{filename}@{revision} on {endpoint or constants.ENDPOINT}"
    try:
        url = hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint)
        meta = get_hf_file_metadata(url, token=False, library_name=_LIBRARY, endpoint=endpoint)
    except (httpx2.HTTPError, OSError, ValueError) as error:  # HTTP, network/offline, invalid name
        raise _download_error(error, where) from error
    if not meta.commit_hash:
        raise ModelDownloadError(f"{where}: the server does not answer like a Hugging Face Hub")
    etag = (meta.etag or "").lower()
    if not _SHA256.fullmatch(etag) or not meta.size:
        raise ModelDownloadError(f"{where}: the hub gave no SHA-256 and size, so the file cannot be verified")
    return RemoteFile(repo_id, filename, meta.commit_hash, meta.size, etag, meta.location)


class _Stalled(Exception):
    """The server sent (almost) nothing for ``stall_seconds``."""


def _transfer(
    remote: RemoteFile, stream: BinaryIO, progress: Progress | None, chunk_size: int, stall_seconds: float
) -> None:
    """Append the rest of the file to ``stream``, resuming after dropped connections."""
    import httpx2  # huggingface_hub's HTTP client
    from huggingface_hub.errors import HfHubHTTPError

    failures = 0
    while stream.tell() < remote.size:
        if progress is not None and progress.cancelled():
            raise Cancelled()
        start = stream.tell()
        try:
            _receive(remote, stream, progress, chunk_size, stall_seconds)
            return  # a whole body, even a short one (verification tells)
        except HfHubHTTPError as error:  # an HTTP error status: the partial file stays for a resume
            raise _download_error(error, remote.filename) from error
        except (_Stalled, httpx2.TimeoutException) as error:
            what = error if isinstance(error, _Stalled) else f"no data for {stall_seconds:g} s"
            raise ModelDownloadError(
                f"{remote.filename}: the server stalled ({what}) after {stream.tell():,} of "
                f"{remote.size:,} bytes; the next download resumes from there"
            ) from error
        except httpx2.TransportError as error:  # connection lost: resume at once, a few times
            failures = 0 if stream.tell() > start else failures + 1
            if failures >= _RETRIES:
                raise ModelDownloadError(
                    f"{remote.filename}: the connection was lost after {stream.tell():,} of {remote.size:,} "
                    f"bytes ({error})"
                ) from error
            time.sleep(0.2 * failures)


def _receive(
    remote: RemoteFile, stream: BinaryIO, progress: Progress | None, chunk_size: int, stall_seconds: float
) -> None:
    """One GET from where ``stream`` ends, cut at the declared size; raises _Stalled on a trickle.

    Bytes are written a ``chunk_size`` chunk at a time, each reported first: a cancel
    seen in that report drops the chunk, as before; a stall or a lost connection
    writes what arrived, for the resume.
    """
    import httpx2
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    done = stream.tell()
    headers = build_hf_headers(token=False, library_name=_LIBRARY)
    if done:
        headers["Range"] = f"bytes={done}-"
    message = f"downloading {remote.filename}"
    pending = bytearray()
    timeout = httpx2.Timeout(stall_seconds)  # no byte for this long (connecting or reading) is a stall too
    with get_session().stream("GET", remote.url, headers=headers, timeout=timeout) as response:
        hf_raise_for_status(response)
        if done and response.status_code != 206:  # the server ignored the Range: start again
            stream.truncate(0)
            done = 0
        window_start, window_bytes = time.monotonic(), 0
        try:
            for piece in response.iter_bytes():
                pending += piece[: remote.size - done - len(pending)]  # a longer body is cut there
                window_bytes += len(piece)
                while pending and (len(pending) >= chunk_size - done % chunk_size
                                   or done + len(pending) == remote.size):
                    step = min(len(pending), chunk_size - done % chunk_size)
                    if progress is not None:
                        progress.update(done + step, remote.size, message)
                        if progress.cancelled():
                            raise Cancelled()
                    stream.write(pending[:step])
                    del pending[:step]
                    done += step
                if done == remote.size:
                    return  # the rest of a longer body is never read: closing the response drops it
                if (elapsed := time.monotonic() - window_start) >= stall_seconds:
                    if window_bytes < STALL_BYTES:
                        raise _Stalled(f"{window_bytes:,} bytes in {elapsed:.0f} s")
                    window_start, window_bytes = time.monotonic(), 0
        except (_Stalled, httpx2.TransportError):
            stream.write(pending)  # what arrived is good: the next download resumes after it
            raise


def _download_error(error: Exception, where: str) -> ModelDownloadError:
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError

    status = getattr(getattr(error, "response", None), "status_code", 0)
    if isinstance(error, GatedRepoError) or status == 401:
        return ModelDownloadError(f"{where}: the repository needs a Hugging Face login (not supported)")
    if isinstance(error, HfHubHTTPError):
        found = "not found" if status == 404 else f"refused by the server (HTTP {status})"
        return ModelDownloadError(f"{where}: {found}")
    if isinstance(error, ValueError):
        return ModelDownloadError(f"{where}: not a valid repository and file name ({error})")
    return ModelDownloadError(f"{where}: cannot reach the server ({type(error).__name__}: {error})")
