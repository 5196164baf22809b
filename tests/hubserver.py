"""A real local HTTP "hub" for download tests (the model store's and the model manager's): nothing is mocked.

FakeHub speaks what huggingface_hub 2.4.0's ``get_hf_file_metadata`` and ``http_get``
use (read from its file_download.py): HEAD /{repo}/resolve/{revision}/{file} answers
302 with X-Repo-Commit, X-Linked-Etag (the SHA-256), X-Linked-Size and ETag, and a
Location on another origin (``localhost`` instead of ``127.0.0.1``), as the real hub
redirects LFS files to its CDN; GET on that location serves the bytes and honours
Range with 206 + Content-Range.  Hostile modes: ``drop_after`` (the connection
drops), ``hold_after`` (silence until released), ``trickle_after`` (16 bytes every
0.1 s) and ``overlong`` (junk after the declared bytes).  The client is pointed at it with the store's
``endpoint`` argument rather than HF_ENDPOINT, which huggingface_hub reads once at
import (into ``constants.ENDPOINT``), so setting it in a test would depend on import order.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPO, FILE, COMMIT = "acme/tiny-GGUF", "tiny-Q8_0.gguf", "c0ffee" * 6 + "c0ff"


@dataclass
class FakeHub:
    content: bytes
    advertised_sha256: str | None = None
    advertised_size: int | None = None
    drop_after: int | None = None  # the first GET stops after this many bytes and closes the connection
    hold_after: int | None = None  # a GET sends this many bytes, then waits for ``release`` before the rest
    trickle_after: int | None = None  # a GET sends this many bytes, then 16 bytes every 0.1 s
    overlong: int = 0  # a GET declares and sends this many junk bytes after the content
    release: threading.Event = field(default_factory=threading.Event)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, Range
    port: int = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    def gets(self) -> list[str | None]:
        """The Range header of every download request."""
        return [rng for method, path, rng in self.requests if method == "GET" and path.startswith("/cdn/")]


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet test output
            pass

        def handle(self) -> None:
            try:
                super().handle()
            except ConnectionError:  # the client cancelled or gave up: expected here
                pass

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, body: bool) -> None:
            hub.requests.append((self.command, self.path, self.headers.get("Range")))
            if self.path == f"/{REPO}/resolve/main/{FILE}":
                self.send_response(302)
                self.send_header("Location", f"http://localhost:{hub.port}/cdn/{hub.sha256}")
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("X-Linked-Etag", f'"{hub.advertised_sha256 or hub.sha256}"')
                self.send_header("X-Linked-Size", str(hub.advertised_size or len(hub.content)))
                self.send_header("ETag", '"0123456789abcdef0123456789abcdef01234567"')
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif self.path == f"/cdn/{hub.sha256}":
                self._send_bytes(body)
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        def _send_bytes(self, body: bool) -> None:
            requested = self.headers["Range"]  # huggingface_hub resumes with "bytes=N-"
            start = int(requested.removeprefix("bytes=").split("-")[0]) if requested else 0
            size = len(hub.content)
            self.send_response(206 if start else 200)
            if start:
                self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
            self.send_header("Content-Length", str(size - start + hub.overlong))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if not body:
                return
            if hub.drop_after is not None:
                self.wfile.write(hub.content[start : hub.drop_after])
                self.wfile.flush()
                hub.drop_after = None
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            if hub.trickle_after is not None:
                self.wfile.write(hub.content[start : hub.trickle_after])
                for at in range(max(start, hub.trickle_after), size, 16):
                    self.wfile.write(hub.content[at : at + 16])
                    self.wfile.flush()
                    time.sleep(0.1)
                return
            if hub.hold_after is not None and start < hub.hold_after:
                self.wfile.write(hub.content[start : hub.hold_after])
                self.wfile.flush()
                hub.release.wait(timeout=60)
                start = hub.hold_after
            self.wfile.write(hub.content[start:])
            junk = bytes(1024**2)
            for sent in range(0, hub.overlong, len(junk)):
                self.wfile.write(junk[: hub.overlong - sent])

    return Handler


@contextmanager
def serve(content: bytes) -> Iterator[FakeHub]:
    """A FakeHub serving ``content`` as REPO/FILE on a free port of 127.0.0.1."""
    hub = FakeHub(content)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    hub.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        hub.release.set()
        server.shutdown()
        server.server_close()
