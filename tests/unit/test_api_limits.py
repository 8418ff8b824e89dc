"""The HTTP service's limits on their own: requests per person over a sliding minute (on a
clock the test moves), and the body limit driven through the ASGI protocol itself."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import pytest

from rag.api.limits import SWEEP_AT, BodyLimit, RequestLimiter, TooManyRequestsError

JSON_LIMIT, UPLOAD_LIMIT = 1000, 5000


class Clock:
    """Seconds that pass only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_person_gets_their_requests_a_minute_then_waits_for_the_oldest(clock):
    limiter = RequestLimiter(3, clock)
    assert [limiter.admit("ada") for _ in range(3)] == [None, None, None]
    clock.now += 20
    assert limiter.admit("ada") == pytest.approx(40.0)  # the first leaves the window at +60
    clock.now += 39.5
    assert limiter.admit("ada") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.admit("ada") is None  # the three of the first second are a minute old
    assert [limiter.admit("ada"), limiter.admit("ada")] == [None, None]
    assert limiter.admit("ada") == pytest.approx(60.0)


def test_the_window_slides_request_by_request(clock):
    limiter = RequestLimiter(2, clock)
    assert limiter.admit("ada") is None  # t=0
    clock.now += 30
    assert limiter.admit("ada") is None  # t=30
    clock.now += 29
    assert limiter.admit("ada") == pytest.approx(1.0)  # t=59: both still inside
    clock.now += 1
    assert limiter.admit("ada") is None  # t=60: the one of t=0 left
    assert limiter.admit("ada") == pytest.approx(30.0)  # the one of t=30 leaves at t=90


def test_refused_requests_are_not_counted(clock):
    limiter = RequestLimiter(1, clock)
    assert limiter.admit("ada") is None
    for _ in range(50):
        clock.now += 1
        assert limiter.admit("ada") is not None
    clock.now += 10  # 60 s after the one admitted request, whatever was refused since
    assert limiter.admit("ada") is None


def test_each_person_has_their_own_count(clock):
    limiter = RequestLimiter(2, clock)
    assert [limiter.admit("ada"), limiter.admit("ada")] == [None, None]
    assert limiter.admit("ada") is not None
    assert [limiter.admit("bob"), limiter.admit("bob")] == [None, None]
    assert limiter.admit("bob") is not None


def test_check_refuses_with_the_wait_and_the_setting_to_change(clock):
    limiter = RequestLimiter(1, clock)
    limiter.check("ada")
    clock.now += 12.2
    with pytest.raises(TooManyRequestsError) as refused:
        limiter.check("ada")
    assert refused.value.status == 429
    assert refused.value.retry_after_s == pytest.approx(47.8)
    assert "RAG_API_REQUESTS_PER_MINUTE" in str(refused.value)
    assert "try again in 48 s" in str(refused.value)


def test_idle_people_are_forgotten_but_not_those_within_the_minute(clock):
    limiter = RequestLimiter(2, clock)
    for n in range(SWEEP_AT + 5):
        limiter.admit(f"person{n}")
    clock.now += 30
    assert [limiter.admit("busy"), limiter.admit("busy")] == [None, None]
    clock.now += 31  # everyone but "busy" is idle for a whole minute: swept on this call
    assert limiter.admit("newcomer") is None
    assert sorted(limiter._times) == ["busy", "newcomer"]  # what it keeps stays bounded
    assert limiter.admit("busy") == pytest.approx(29.0)
    assert limiter.admit("person0") is None  # forgotten, and a minute old anyway


def test_many_threads_at_once_get_exactly_the_limit(clock):
    limiter = RequestLimiter(25, clock)
    admitted: list[bool] = []
    start = threading.Barrier(8)

    def hammer() -> None:
        start.wait()
        for _ in range(20):
            admitted.append(limiter.admit("ada") is None)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == 160 and sum(admitted) == 25


def test_a_limit_below_one_is_refused():
    with pytest.raises(ValueError):
        RequestLimiter(0)


# The body limit, through the ASGI protocol ------------------------------------------------


class Echo:
    """An application that reads the whole body and answers its length; remembers calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.after: dict | None = None

    async def __call__(self, scope, receive, send) -> None:
        self.calls += 1
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.after = await receive()  # what a streaming response would watch for
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(body)).encode()})


class Client:
    """One request's messages: the body in chunks (or endless), and what came back."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self.pulled = 0
        self.sent: list[dict] = []

    async def receive(self) -> dict:
        chunk = next(self._chunks, None)
        if chunk is None:
            return {"type": "http.disconnect"}
        self.pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": chunk != LAST}

    async def send(self, message: dict) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return self.sent[0]["status"]

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])


LAST = b""  # the empty chunk that ends a body


def _request(headers: dict[str, str], chunks: Iterator[bytes]) -> tuple[Client, Echo]:
    app, client = Echo(), Client(chunks)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/search",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    limited = BodyLimit(app, lambda: (JSON_LIMIT, UPLOAD_LIMIT))
    asyncio.run(limited(scope, client.receive, client.send))
    return client, app


def _chunks(*parts: bytes) -> Iterator[bytes]:
    yield from parts
    yield LAST


def _endless(size: int) -> Iterator[bytes]:
    """Far more than any limit here (finite, so that a limit not applied fails, not hangs)."""
    for _ in range(10_000):
        yield b"x" * size
    yield LAST


def _error(client: Client) -> dict:
    assert client.status == 413
    assert ("content-type", "application/json") in [
        (k.decode(), v.decode()) for k, v in client.sent[0]["headers"]
    ]
    return json.loads(client.body)["error"]


def test_a_declared_length_over_the_limit_is_refused_unread():
    client, app = _request({"Content-Length": str(JSON_LIMIT + 1)}, _endless(100))
    error = _error(client)
    assert error["type"] == "too_large_error"
    assert "RAG_API_MAX_BODY_KB" in error["message"]
    assert client.pulled == 0 and app.calls == 0


def test_a_declared_length_within_the_limit_reaches_the_application():
    client, app = _request({"Content-Length": str(JSON_LIMIT)}, _chunks(b"a" * 600, b"b" * 400))
    assert (client.status, client.body, app.calls) == (200, b"1000", 1)


def test_a_body_without_a_length_is_counted_and_stopped_just_past_the_limit():
    client, app = _request({"Transfer-Encoding": "chunked"}, _endless(100))
    assert "RAG_API_MAX_BODY_KB" in _error(client)["message"]
    assert client.pulled == JSON_LIMIT // 100 + 1  # never more than the limit and one chunk
    assert app.calls == 0


def test_a_body_without_a_length_within_the_limit_is_handed_on_whole():
    client, app = _request({"Transfer-Encoding": "chunked"}, _chunks(b"a" * 500, b"b" * 500))
    assert (client.status, client.body) == (200, b"1000")
    assert app.after == {"type": "http.disconnect"}  # the next message is the client's own


def test_files_sent_as_multipart_have_the_upload_limit():
    multipart = {"Content-Type": "multipart/form-data; boundary=x"}
    client, _ = _request({**multipart, "Content-Length": str(UPLOAD_LIMIT)}, _chunks(b"f" * 5000))
    assert client.status == 200
    client, _ = _request({**multipart, "Content-Length": str(UPLOAD_LIMIT + 1)}, _endless(1))
    assert "RAG_MAX_UPLOAD_MB" in _error(client)["message"]
    client, _ = _request({**multipart, "Transfer-Encoding": "chunked"}, _endless(1000))
    assert "RAG_MAX_UPLOAD_MB" in _error(client)["message"]


def test_other_connections_pass_through():
    seen = []

    async def lifespan(scope, receive, send) -> None:
        seen.append(scope["type"])

    asyncio.run(BodyLimit(lifespan, lambda: (1, 1))({"type": "lifespan"}, None, None))
    assert seen == ["lifespan"]
