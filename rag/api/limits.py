"""What one request may cost the service: the largest body it reads, how many requests one
person may make a minute, and how many answers are written at once.

The body limit is a plain ASGI middleware, so a body over it is refused before anything
reads it into memory: by its Content-Length when it states one, otherwise by counting the
bytes as they arrive (a chunked upload). A JSON body may hold RAG_API_MAX_BODY_KB, files
sent as multipart/form-data RAG_MAX_UPLOAD_MB. The rate limit is a dependency of every
router, after the person is known: it counts per person (every key of a person together),
in this process, over a sliding minute.

The limits come from the services' settings the first time a request needs them: the app's
process (serve.py) makes the application before it has its services.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.access import Person
from rag.api import deps
from rag.api.errors import ApiError, error_body
from rag.config import Settings

KB, MB = 1024, 1024 * 1024
WINDOW_S = 60.0
# Past this many people, those idle for a whole window are forgotten (once a window).
SWEEP_AT = 1024


class TooManyRequestsError(ApiError):
    """A person made more requests in the last minute than RAG_API_REQUESTS_PER_MINUTE."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(429, message, "rate_limit_error")
        self.retry_after_s = retry_after_s


class RequestLimiter:
    """At most `per_minute` requests by one person in any `window_s` seconds; thread-safe.
    `clock` gives the time in seconds (monotonic; tests pass their own)."""

    def __init__(
        self,
        per_minute: int,
        clock: Callable[[], float] = time.monotonic,
        window_s: float = WINDOW_S,
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute, self.window_s = per_minute, window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._times: dict[str, deque[float]] = {}
        self._swept_at = -math.inf

    def admit(self, who: str) -> float | None:
        """Count a request by `who`: None when it is allowed, else how many seconds until
        their oldest request of the window leaves it (a refused request is not counted)."""
        now = self._clock()
        cutoff = now - self.window_s
        with self._lock:
            if len(self._times) > SWEEP_AT and now - self._swept_at >= self.window_s:
                self._forget_idle(cutoff)
                self._swept_at = now
            times = self._times.setdefault(who, deque())
            while times and times[0] <= cutoff:
                times.popleft()
            if len(times) >= self.per_minute:
                return times[0] - cutoff
            times.append(now)
            return None

    def check(self, who: str) -> None:
        """TooManyRequestsError, with the wait in seconds, when `who` is over the limit."""
        wait = self.admit(who)
        if wait is not None:
            raise TooManyRequestsError(
                f"More than {self.per_minute} requests in a minute"
                f" (RAG_API_REQUESTS_PER_MINUTE); try again in {math.ceil(wait)} s",
                wait,
            )

    def _forget_idle(self, cutoff: float) -> None:
        idle = [who for who, times in self._times.items() if not times or times[-1] <= cutoff]
        for who in idle:
            del self._times[who]


@dataclass(frozen=True)
class ServiceLimits:
    """The limits of one application, from its settings."""

    json_bytes: int
    upload_bytes: int
    requests: RequestLimiter
    answers: deps.AnswerSlots

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceLimits:
        """RAG_API_MAX_BODY_KB, RAG_MAX_UPLOAD_MB, RAG_API_REQUESTS_PER_MINUTE and
        RAG_API_MAX_CONCURRENT_ANSWERS."""
        return cls(
            settings.api_max_body_kb * KB,
            settings.max_upload_mb * MB,
            RequestLimiter(settings.api_requests_per_minute),
            deps.AnswerSlots(settings.api_max_concurrent_answers),
        )


_configuring = threading.Lock()


def limits_of(app: FastAPI) -> ServiceLimits:
    """`app`'s limits, made from its services' settings on first use; the answer slots
    are `app.state.answer_slots` from then on."""
    found = getattr(app.state, "limits", None)
    if found is not None:
        return found
    with _configuring:
        found = getattr(app.state, "limits", None)
        if found is None:
            found = ServiceLimits.from_settings(app.state.services.settings)
            app.state.answer_slots = found.answers
            app.state.limits = found
        return found


def rate_limit(request: Request, person: Annotated[Person, Depends(deps.person)]) -> Person:
    """The dependency every router declares: the person, once their request is counted
    (FastAPI solves `deps.person` once per request, however many declare it)."""
    limits_of(request.app).requests.check(person.id)
    return person


class BodyLimit:
    """ASGI middleware: 413 for a request body over its limit, never read past it.

    `limits` gives (the limit of a JSON body, the limit of files sent as multipart/form-data)
    in bytes, asked at each request.
    """

    def __init__(self, app: ASGIApp, limits: Callable[[], tuple[int, int]]) -> None:
        self.app, self._limits = app, limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = _refusal(scope, *self._limits())
        declared = _content_length(scope)
        if declared is not None:
            if declared > refusal.limit:
                await _refuse(send, refusal)
                return
            await self.app(scope, receive, send)
            return
        body = await _read_up_to(receive, refusal.limit)
        if body is None:
            await _refuse(send, refusal)
            return
        await self.app(scope, _replay(body, receive), send)


def install_limits(app: FastAPI) -> None:
    """The body limit, the counter behind `rate_limit`, and 429s with a Retry-After header."""
    app.add_middleware(
        BodyLimit, limits=lambda: (limits_of(app).json_bytes, limits_of(app).upload_bytes)
    )

    @app.exception_handler(TooManyRequestsError)
    async def _too_many(request: Request, exc: TooManyRequestsError) -> JSONResponse:
        return JSONResponse(
            error_body(str(exc), exc.kind),
            status_code=429,
            headers={"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))},
        )


@dataclass(frozen=True)
class _Refusal:
    limit: int
    message: str


def _refusal(scope: Scope, json_bytes: int, upload_bytes: int) -> _Refusal:
    """The limit that applies to this request, and what to say past it."""
    kind = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1").lower()
    if kind.startswith("multipart/form-data"):
        return _Refusal(
            upload_bytes,
            f"The files sent are over {upload_bytes // MB:,} MB in all (RAG_MAX_UPLOAD_MB):"
            " send large files one at a time",
        )
    return _Refusal(
        json_bytes, f"The request body is over {json_bytes // KB:,} KB (RAG_API_MAX_BODY_KB)"
    )


def _content_length(scope: Scope) -> int | None:
    """The declared body size; None when the request does not declare one (or declares
    it in a form the server let through, which is then counted as it arrives)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


async def _read_up_to(receive: Receive, max_bytes: int) -> bytes | None:
    """The whole body when it is at most `max_bytes`, else None as soon as it is over."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)  # the client left: the application sees an empty body
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body read already, then whatever comes next (a
    disconnect, which streaming responses watch for)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


async def _refuse(send: Send, refusal: _Refusal) -> None:
    payload = json.dumps(error_body(refusal.message, "too_large_error")).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        # The rest of the body is never read, so the connection cannot carry another request.
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
