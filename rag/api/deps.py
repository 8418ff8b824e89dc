"""What each route receives: the services, the person behind the request, and a slot for
an answer (answers are bounded in number at once; a model call can take a minute)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request

from rag.access import Person
from rag.api.auth import person_of
from rag.api.errors import ApiError
from rag.api.services import ApiServices

# How long a request waits for an answer slot before it is told the service is busy.
SLOT_WAIT_S = 10.0


def services(request: Request) -> ApiServices:
    """The services the application was made with."""
    return request.app.state.services


def person(request: Request) -> Person:
    """The person the request acts as (see rag.api.auth)."""
    return person_of(request, services(request))


class AnswerSlots:
    """At most `limit` answers written at once; others wait a little, then are refused."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)

    @contextmanager
    def taken(self) -> Iterator[None]:
        """Hold a slot for the block; ApiError 503 when none frees up in time."""
        if not self._slots.acquire(timeout=SLOT_WAIT_S):
            raise ApiError(
                503,
                f"{self.limit} answers are being written (RAG_API_MAX_CONCURRENT_ANSWERS);"
                " try again in a moment",
                "overloaded_error",
            )
        try:
            yield
        finally:
            self._slots.release()
