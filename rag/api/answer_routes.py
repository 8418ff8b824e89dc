"""Answers over HTTP: POST /v1/answer, streamed as server-sent events or as one JSON object,
the object `python -m rag.ask --json` prints.

A question goes through the person's Workspace (ask_across for several knowledge bases),
so their shares and their questions per minute apply; what the request leaves out comes
from the (first) knowledge base's own defaults, its answer language included. An answer
holds one of the service's answer slots from its search to its last event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Generator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from rag.access import Person, Workspace, ask_across
from rag.answers import Answer, AnswerKind
from rag.api import deps
from rag.api.errors import ApiError, error_body, status_of
from rag.api.limits import limits_of, rate_limit
from rag.api.search_routes import SearchFields, search_options
from rag.api.services import ApiServices
from rag.chat.export import answer_json, plain_text
from rag.chat.flow import ChatOptions
from rag.chat.stream import AnswerStream
from rag.config import Settings
from rag.errors import RagError
from rag.kb import KnowledgeBase
from rag.providers.chat_model import GenerationOptions

log = logging.getLogger(__name__)
router = APIRouter(tags=["answers"], dependencies=[Depends(rate_limit)])
# Proxies such as nginx hold a response back until it ends unless told not to.
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class Turn(BaseModel):
    """An earlier turn of the conversation: what was asked and what was answered."""

    question: str
    answer: str


class AnswerRequest(SearchFields):
    """A question, where to answer it from, the conversation so far, and how."""

    question: str = Field(min_length=1)
    kb: str | None = Field(None, description="a knowledge base's name (default: the first)")
    kbs: list[str] | None = Field(None, min_length=1, description="several, searched at once")
    history: list[Turn] = Field(default_factory=list)
    stream: bool = True
    model: str | None = Field(None, description="chat model (default: the knowledge base's)")
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1)

    @field_validator("question")
    @classmethod
    def _not_blank(cls, question: str) -> str:
        if not question.strip():
            raise ValueError("the question is empty")
        return question


@dataclass(frozen=True)
class Started:
    """An answer under way: its stream, the answer slot it holds until `slot` is closed,
    and whether a chat model writes it (False: sentences quoted from the sources)."""

    stream: AnswerStream
    slot: ExitStack
    generated: bool

    def close(self) -> None:
        """Stop the answer where it is, the model's request with it, and give its slot
        back; once it is closed, closing again does nothing."""
        iter(self.stream).close()  # the stream's iterator is its generator
        self.slot.close()


class AnswerEvents(StreamingResponse):
    """An answer as server-sent events, sent as each is made. However the response ends,
    the client leaving midway included, the answer is closed then (Starlette leaves a
    stream it stopped sending for the garbage collector to close, its slot held till then).
    """

    def __init__(self, events: Generator[str, None, None], started: Started) -> None:
        super().__init__(events, media_type="text/event-stream", headers=STREAM_HEADERS)
        self._events, self._started = events, started

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # No thread is inside the events now: Starlette waits for the one it runs.
            await run_in_threadpool(self._close)

    def _close(self) -> None:
        self._events.close()
        self._started.close()


@router.post("/v1/answer", response_model=None)
def answer(
    body: AnswerRequest,
    request: Request,
    services: Annotated[ApiServices, Depends(deps.services)],
    person: Annotated[Person, Depends(deps.person)],
) -> JSONResponse | AnswerEvents:
    """Answer `question` from the knowledge base `kb` (or all of `kbs`) with its sources
    cited. Streamed (the default): `delta` events with each piece of text, one `answer`
    event with the whole answer as JSON, then `done`; a failure after the first event is
    an `error` event. Otherwise the answer's JSON."""
    if body.kb is not None and body.kbs:
        raise ApiError(422, "Name one knowledge base (kb) or several (kbs), not both")
    spaces = workspaces(services, person, body.kbs or [body.kb])
    generation = GenerationOptions(body.model, body.temperature, body.max_tokens)
    options = chat_options(spaces[0].kb, spaces[0].settings, body, generation)
    history = history_answers([(t.question, t.answer) for t in body.history])
    started = start_answer(request, spaces, body.question, history, options)
    if body.stream:
        return AnswerEvents(_answer_events(started), started)
    return JSONResponse(answer_json(finished(started), started.generated))


def workspaces(
    services: ApiServices, person: Person, names: Sequence[str | None]
) -> list[Workspace]:
    """`person`'s workspaces of the knowledge bases named (None: their first), each once;
    AccessDeniedError for one they may not use."""
    return [services.workspace(person, name) for name in dict.fromkeys(names)]


def chat_options(
    kb: KnowledgeBase, settings: Settings, fields: SearchFields, generation: GenerationOptions
) -> ChatOptions:
    """The request's choices over `kb`'s defaults, as `python -m rag.ask --kb` makes them:
    its search options (as /v1/search), its chat model unless one is named, and its answer
    language."""
    model = generation.model or kb.search.chat_model
    search = search_options(kb, settings, fields)
    return ChatOptions(search, replace(generation, model=model), kb.search.answer_language)


def history_answers(turns: Sequence[tuple[str, str]]) -> tuple[Answer, ...]:
    """Earlier (question, answer) turns as the chat flow takes its history: it reads each
    turn's question and text (see rag.chat.stages.history_messages)."""
    return tuple(Answer(q, q, a, AnswerKind.GENERATED) for q, a in turns)


def start_answer(
    request: Request,
    spaces: Sequence[Workspace],
    question: str,
    history: Sequence[Answer],
    options: ChatOptions,
) -> Started:
    """Take an answer slot (ApiError 503 when none frees up in time), then search and start
    the answer; a refused question (no access, over a limit) gives the slot back."""
    slot = ExitStack()
    slot.enter_context(limits_of(request.app).answers.taken())
    try:
        if len(spaces) == 1:
            stream = spaces[0].ask(question, history, options)
        else:
            stream = ask_across(spaces, question, history, options)
    except BaseException:
        slot.close()
        raise
    return Started(stream, slot, spaces[0].settings.llm_configured)


def finished(started: Started) -> Answer:
    """The whole answer, its slot given back once it is written."""
    try:
        return started.stream.answer
    finally:
        started.close()


def sse(data: object, event: str | None = None) -> str:
    """One server-sent event: its JSON data, under a name when `event` is given."""
    named = f"event: {event}\n" if event else ""
    return f"{named}data: {json.dumps(data, ensure_ascii=False)}\n\n"


def stream_error(exc: Exception) -> dict:
    """The JSON error body of a failure after the response began (its status is sent
    already); anything but our own errors is logged and named only "Internal error"."""
    if isinstance(exc, RagError):
        return error_body(str(exc), status_of(exc)[1])
    log.exception("An answer failed while it was being sent")
    return error_body("Internal error", "server_error")


def _answer_events(started: Started) -> Generator[str, None, None]:
    try:
        for delta in started.stream:
            yield sse({"text": plain_text(delta, started.stream.kind)}, "delta")
        finished_answer = started.stream.answer
        yield sse(answer_json(finished_answer, started.generated), "answer")
        if finished_answer.error:  # the model failed: the answer keeps what arrived
            yield sse(error_body(finished_answer.error, "model_error"), "error")
    except Exception as exc:
        yield sse(stream_error(exc), "error")
    yield sse({}, "done")
