"""The one place icdlinker uses the network: fetch a single model file from the Hugging Face Hub.

Offline is the default (engine/__init__.py sets HF_HUB_OFFLINE=1 before
huggingface_hub is imported, so ``huggingface_hub.constants.HF_HUB_OFFLINE`` is
True and its request hook refuses every request).  That hook reads the constant at
request time, so :func:`hub_access` lifts it for one explicit download and puts it
back.  huggingface_hub is imported inside the functions: coding never loads it.

Why not ``hf_hub_download``: in huggingface_hub 2.x it writes to a per-process
temporary file that it deletes on any failure (huggingface_hub PR #4228), so a
cancelled or dropped multi-gigabyte download starts again from zero.  We keep our
own ``<sha256>.incomplete`` file and let huggingface_hub's ``http_get`` append to it
with a Range request; ``get_hf_file_metadata`` gives the commit, size and SHA-256
(the LFS ``X-Linked-Etag``) that the finished file is checked against.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ModelDownloadError
from engine.models.files import ensure_free_space, stream_file
from engine.progress import Cancelled, Progress

__all__ = ["RemoteFile", "fetch_model_file"]

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
) -> tuple[Path, RemoteFile]:
    """Download (or resume) one file into ``partial_dir`` and verify its size and SHA-256.

    Returns the verified file, still named ``<sha256>.incomplete`` for the caller to
    validate and move.  A cancel (``Cancelled``) or a lost connection keeps the partial
    file so the next call resumes it; a file that fails verification is deleted.
    ``chunk_size`` bounds how long a cancel waits (huggingface_hub's default is 10 MiB).
    """
    with hub_access(chunk_size):
        remote = _metadata(repo_id, filename, revision, endpoint)
        partial = partial_dir / f"{remote.sha256}.incomplete"
        if partial.exists() and partial.stat().st_size > remote.size:
            partial.unlink()
        partial_dir.mkdir(parents=True, exist_ok=True)
        needed = remote.size - (partial.stat().st_size if partial.exists() else 0)
        ensure_free_space(partial_dir, needed, ModelDownloadError)
        _transfer(remote, partial, progress)
    complete = partial.stat().st_size == remote.size
    if not complete or stream_file(partial, progress, f"verifying {filename}") != remote.sha256:
        partial.unlink()
        raise ModelDownloadError(
            f"{filename}: the downloaded file does not match the size and SHA-256 the hub gave "
            f"({remote.size:,} bytes, {remote.sha256[:12]}…); it was deleted"
        )
    return partial, remote


@contextmanager
def hub_access(chunk_size: int) -> Iterator[None]:
    """Lift huggingface_hub's offline mode for this block only; telemetry stays off for good."""
    from huggingface_hub import constants

    with _hub_lock:
        saved = constants.HF_HUB_OFFLINE, constants.DOWNLOAD_CHUNK_SIZE
        constants.HF_HUB_DISABLE_TELEMETRY = True  # also skips the user-agent's agent-registry fetch
        constants.HF_HUB_OFFLINE, constants.DOWNLOAD_CHUNK_SIZE = False, chunk_size
        try:
            yield
        finally:
            constants.HF_HUB_OFFLINE, constants.DOWNLOAD_CHUNK_SIZE = saved


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


def _transfer(remote: RemoteFile, partial: Path, progress: Progress | None) -> None:
    import httpx2  # huggingface_hub's HTTP client
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    if progress is not None and progress.cancelled():
        raise Cancelled()
    try:
        with partial.open("ab") as stream:
            http_get(
                remote.url,
                stream,
                resume_size=stream.tell(),
                headers=build_hf_headers(token=False, library_name=_LIBRARY),
                expected_size=remote.size,
                displayed_filename=remote.filename,
                tqdm_class=_progress_bar_class(progress, f"downloading {remote.filename}"),
            )
    except HfHubHTTPError as error:  # an HTTP error status: the partial file stays for a resume
        raise _download_error(error, remote.filename) from error
    except httpx2.HTTPError as error:  # connection lost after huggingface_hub's own retries: likewise
        done = partial.stat().st_size if partial.exists() else 0
        raise ModelDownloadError(
            f"{remote.filename}: the connection was lost after {done:,} of {remote.size:,} bytes ({error})"
        ) from error
    except OSError as error:  # the body did not match its size, or the disk is full: the partial is useless
        partial.unlink(missing_ok=True)
        raise ModelDownloadError(f"{remote.filename}: {str(error).splitlines()[0]}") from error


def _progress_bar_class(progress: Progress | None, message: str) -> type:
    """A tqdm class for huggingface_hub that forwards bytes to ``progress`` and stops on cancel."""
    from huggingface_hub.utils import tqdm

    class ProgressBridge(tqdm):
        def __init__(self, *args: object, **kwargs: object) -> None:
            kwargs["disable"] = True  # nothing on the terminal: the caller's progress shows it
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            self.n += n or 0
            if progress is not None:
                progress.update(int(self.n), int(self.total or 0), message)
                if progress.cancelled():
                    raise Cancelled()
            return None

    return ProgressBridge


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
