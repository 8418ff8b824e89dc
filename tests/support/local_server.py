"""What the fake servers of the tests share: an HTTP server on 127.0.0.1 whose handlers
follow the fake's script, started and stopped as a context manager, and the requests
it received with their headers."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LocalServer:
    """A server on 127.0.0.1 (`port` 0: a free one) answering with `handler`, whose
    handlers reach this object as `self.server.fake`. Stops when the block ends."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ScriptServer(port, handler, self)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        """http://127.0.0.1:PORT, where the server listens."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def record(self, request: dict, headers: dict[str, str] | None = None) -> None:
        """Keep a request's body and headers, for the test to read."""
        with self._lock:
            self.requests.append(request)
            self.headers.append(headers or {})

    def sleep(self, seconds: float) -> None:
        """Wait, but wake at once when the server stops."""
        self._stopping.wait(seconds)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class ScriptServer(ThreadingHTTPServer):
    """The HTTP server, holding the fake whose script its handlers follow."""

    daemon_threads = True

    def __init__(self, port: int, handler: type[BaseHTTPRequestHandler], fake: LocalServer):
        super().__init__(("127.0.0.1", port), handler)
        self.fake = fake
