"""The HTTP service as clients reach it: uvicorn on a free port of 127.0.0.1, in a thread of
the test process (it ends with it), stopped after the test."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from rag.api.app import create_app
from rag.api.services import ApiServices
from tests.support.helpers import free_port

# Requests to 127.0.0.1 must never go through a proxy named in the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@contextmanager
def running_api(services: ApiServices) -> Iterator[str]:
    """Serve `services` on 127.0.0.1; yields the base URL (http://127.0.0.1:PORT) once it
    answers, and stops the server and closes the services after."""
    config = uvicorn.Config(
        create_app(services), host="127.0.0.1", port=free_port(), log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="api", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{config.port}"
    try:
        _wait_up(url, thread)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        services.close()


def _wait_up(url: str, thread: threading.Thread) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert thread.is_alive(), "the API server stopped while starting"
        try:
            with _DIRECT.open(f"{url}/openapi.json", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the API server did not start")
