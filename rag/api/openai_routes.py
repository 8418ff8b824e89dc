"""The OpenAI-compatible routes: GET /v1/models lists the person's knowledge bases as
models, and POST /v1/chat/completions answers from the one named as `model`, so the
`openai` package, LangChain's ChatOpenAI and chat front ends made for OpenAI can use them.

The answer's text keeps its [n] markers and ends with a "Sources:" list; the citations
themselves come in an extra `citations` field (in the last chunk when streamed). System
messages are ignored: the knowledge base's own prompt applies. A refusal before the
answer starts is an OpenAI-shaped error with its status (rag.api.errors).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from rag.access import Person
from rag.answers import Answer
from rag.api import deps
from rag.api.answer_routes import (
    AnswerEvents,
    Started,
    chat_options,
    finished,
    history_answers,
    sse,
    start_answer,
    stream_error,
)
from rag.api.errors import ApiError, error_body
from rag.api.limits import rate_limit
from rag.api.search_routes import SearchFields
from rag.api.services import ApiServices
from rag.chat.export import citations_json, plain_text
from rag.chat.trace import AnswerTrace
from rag.kb import KnowledgeBase
from rag.providers.chat_model import GenerationOptions

router = APIRouter(tags=["OpenAI-compatible"], dependencies=[Depends(rate_limit)])
SOURCES = "\n\nSources:\n"


class ChatMessage(BaseModel):
    """One message of the conversation; content as text or as OpenAI's list of parts."""

    role: str
    content: str | list[dict] | None = None

    def text(self) -> str:
        """The message's text (the text parts of a list, joined)."""
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class CompletionRequest(BaseModel):
    """OpenAI's chat completion request; fields this service has no use for are ignored."""

    model: str = Field(min_length=1, description="the knowledge base's name")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stream_options: dict | None = None


@dataclass(frozen=True)
class Reply:
    """What every chunk of one completion repeats."""

    id: str
    created: int
    model: str

    def chunk(self, delta: dict, finish_reason: str | None = None) -> dict:
        """A `chat.completion.chunk` carrying `delta`."""
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }


@router.get("/v1/models")
def models(
    services: Annotated[ApiServices, Depends(deps.services)],
    person: Annotated[Person, Depends(deps.person)],
) -> dict:
    """The knowledge bases the person may use, as OpenAI models named after them."""
    return {"object": "list", "data": [_model(kb) for kb in services.visible(person)]}


@router.post("/v1/chat/completions", response_model=None)
def chat_completions(
    body: CompletionRequest,
    request: Request,
    services: Annotated[ApiServices, Depends(deps.services)],
    person: Annotated[Person, Depends(deps.person)],
) -> JSONResponse | AnswerEvents:
    """Answer the last user message from the knowledge base named as `model`, the earlier
    user and assistant messages as the conversation so far; OpenAI's `chat.completion`, or
    its `chat.completion.chunk` events when `stream` is true."""
    question, turns = conversation(body.messages)
    space = services.workspace(person, body.model)
    limit = body.max_completion_tokens or body.max_tokens
    options = chat_options(
        space.kb, space.settings, SearchFields(), GenerationOptions(None, body.temperature, limit)
    )
    started = start_answer(request, [space], question, history_answers(turns), options)
    reply = Reply(f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), space.kb.name)
    if body.stream:
        usage = bool((body.stream_options or {}).get("include_usage"))
        return AnswerEvents(_chunks(started, reply, usage), started)
    return JSONResponse(_completion(finished(started), reply))


def conversation(messages: Sequence[ChatMessage]) -> tuple[str, list[tuple[str, str]]]:
    """The question (the last message, the user's) and the earlier (question, answer)
    turns; system and tool messages are left out. ApiError 400 without a question."""
    said = [(m.role, m.text()) for m in messages if m.role in ("user", "assistant")]
    if not said or said[-1][0] != "user" or not said[-1][1].strip():
        raise ApiError(400, "The last message must be the user's question")
    turns: list[tuple[str, str]] = []
    asked: str | None = None
    for role, text in said[:-1]:
        if role == "user":
            asked = text
        elif asked is not None:
            # Our own Sources list is for the reader, not part of what was said.
            turns.append((asked, text.split(SOURCES, 1)[0]))
            asked = None
    return said[-1][1], turns


def sources_list(answer: Answer) -> str:
    """The Sources list that follows the answer's text ("" when it cites nothing)."""
    if not answer.citations:
        return ""
    return SOURCES + "\n".join(citation.label() for citation in answer.citations)


def usage(answer: Answer) -> dict:
    """Tokens sent and written, as the model's server counted them (0 where unknown)."""
    step = answer.step(AnswerTrace)
    prompt = (step.prompt_tokens if step else None) or 0
    completion = step.answer_tokens if step else 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _model(kb: KnowledgeBase) -> dict:
    return {
        "id": kb.name,
        "object": "model",
        "created": int(kb.created_at),
        "owned_by": kb.owner or "local",
    }


def _completion(answer: Answer, reply: Reply) -> dict:
    if answer.error:
        # An OpenAI client has no way to read half an answer: the model's failure it can.
        raise ApiError(502, answer.error, "model_error")
    content = plain_text(answer.text, answer.kind) + sources_list(answer)
    message = {"role": "assistant", "content": content}
    return {
        "id": reply.id,
        "object": "chat.completion",
        "created": reply.created,
        "model": reply.model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
        "usage": usage(answer),
        "citations": citations_json(answer),
    }


def _chunks(started: Started, reply: Reply, with_usage: bool) -> Generator[str, None, None]:
    try:
        yield sse(reply.chunk({"role": "assistant", "content": ""}))
        for delta in started.stream:
            yield sse(reply.chunk({"content": plain_text(delta, started.stream.kind)}))
        answer = started.stream.answer
        if answer.error:  # OpenAI clients raise on an error in the stream
            yield sse(error_body(answer.error, "model_error"))
            return
        if sources := sources_list(answer):
            yield sse(reply.chunk({"content": sources}))
        yield sse({**reply.chunk({}, "stop"), "citations": citations_json(answer)})
        if with_usage:
            yield sse({**reply.chunk({}), "choices": [], "usage": usage(answer)})
    except Exception as exc:
        yield sse(stream_error(exc))
        return
    yield "data: [DONE]\n\n"
