"""The knowledge bases as tools for language-model clients, over the Model Context Protocol
(the `mcp` package): list them, search one, read a chunk with its page(s), answer a question.

Every call acts as one person, through ApiServices.workspace and the Workspace's checks,
as the HTTP routes do; a refusal comes back as a tool error carrying its message. Over
HTTP (`/mcp` in the service) the person is the one the request's API key acts as
(rag.api.auth), each tool call counts against their requests per minute and an answer
holds one of the service's answer slots. Over stdio (`python -m rag.api --mcp`, see
rag.api.__main__) the process acts as one person for its whole life.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import JSONResponse
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import ToolAnnotations
from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from rag.access import Action, Person
from rag.api.answer_routes import chat_options
from rag.api.auth import person_of
from rag.api.errors import ApiError, error_body, status_of
from rag.api.limits import ServiceLimits, limits_of
from rag.api.search_routes import SearchFields, knowledge_bases, search_options
from rag.api.services import ApiServices
from rag.chat.export import answer_json
from rag.chat.limits import check_question
from rag.documents import Chunk, page_label, stitch
from rag.errors import DocumentNotFoundError, RagError
from rag.kb.model import MAX_K
from rag.providers.chat_model import GenerationOptions
from rag.results import SearchMode

NAME = "chat-with-your-documents"
INSTRUCTIONS = (
    "The user's documents, in knowledge bases: list_knowledge_bases says which; search finds"
    " passages, get_chunk reads a passage's whole page, answer writes an answer with [n]"
    " citations. Cite the source file and pages of what you use."
)
# The page text get_chunk returns at most: a "page" of a format without pages (a text
# file, a chapter) can be a whole book; the passage stays in the middle of what is cut.
MAX_PAGE_CHARS = 20_000
# What `answer` returns of the answer's JSON (not the chunks and trace: long, and the
# citations name what a client needs, chunk ids included, to read more with get_chunk).
ANSWER_FIELDS = ("question", "answer", "mode", "model", "citations", "support", "notice")
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)

KbName = Annotated[str | None, Field(description="a knowledge base (default: the first)")]


@dataclass(frozen=True)
class Caller:
    """Who a tool call acts as, over which services, and the HTTP service's limits it
    goes through (None over stdio: one local client, as the command lines)."""

    services: ApiServices
    person: Person
    limits: ServiceLimits | None = None


class KnowledgeTools:
    """The tools; `caller_of` says who a call acts as (from its HTTP request, or the
    process's person). Each docstring is the description a model reads."""

    def __init__(self, caller_of: Callable[[Context], Caller]) -> None:
        self._caller_of = caller_of

    def list_knowledge_bases(self, ctx: Context) -> dict[str, Any]:
        """List the knowledge bases (document collections) you may use, the default one
        first: each one's name, your role in it (owner, editor or reader), how many
        documents it holds, its index (embedding model, distance, chunking) and its search
        defaults. Pass a name as `knowledge_base` to the other tools."""
        return self._call(ctx, lambda c: knowledge_bases(c.services, c.person).model_dump())

    def search(
        self,
        ctx: Context,
        query: Annotated[str, Field(min_length=1, description="what to look for, in words")],
        knowledge_base: KbName = None,
        k: Annotated[int, Field(ge=1, le=MAX_K, description="how many chunks")] = 5,
        mode: Annotated[
            SearchMode | None,
            Field(description="vector (meaning), bm25 (exact words) or hybrid (both, fused)"),
        ] = None,
    ) -> dict[str, Any]:
        """Search a knowledge base for passages about `query`: the best-ranked chunks,
        each with its chunk_id, source file, pages, section header, text and every score
        (vector, bm25, fused, rerank, each with its rank; null where that retriever did
        not return it). Read a chunk's whole page with get_chunk."""
        return self._call(ctx, lambda c: _search(c, query, knowledge_base, k, mode))

    def get_chunk(
        self,
        ctx: Context,
        knowledge_base: Annotated[str, Field(description="the knowledge base searched")],
        chunk_id: Annotated[str, Field(description="a chunk_id from search or answer")],
    ) -> dict[str, Any]:
        """Read one chunk: its text, document, pages and section header, and the text of
        its whole page(s) (page_text: the document's chunks on those pages, in order), for
        the context around a passage that search found."""
        return self._call(ctx, lambda c: _chunk(c, knowledge_base, chunk_id))

    def answer(
        self,
        ctx: Context,
        question: Annotated[str, Field(min_length=1, description="the question, in full")],
        knowledge_base: KbName = None,
    ) -> dict[str, Any]:
        """Answer a question from a knowledge base's documents: the answer's text with
        [n] markers, and its citations (n, source file, pages, chunk_id). Without a
        configured chat model the answer quotes the best-matching sentences. Counts
        against your questions per minute."""
        return self._call(ctx, lambda c: _answer(c, question, knowledge_base))

    def _call(self, ctx: Context, work: Callable[[Caller], dict[str, Any]]) -> dict[str, Any]:
        caller = self._caller_of(ctx)
        try:
            if caller.limits is not None:
                caller.limits.requests.check(caller.person.id)
            return work(caller)
        except RagError as exc:  # a refusal or a failure we name: the model reads why
            raise ToolError(str(exc)) from None


def build_server(caller_of: Callable[[Context], Caller]) -> MCPServer:
    """An MCP server with the four tools, each acting as `caller_of(ctx)` says."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    server = MCPServer(NAME, instructions=INSTRUCTIONS, version="1")
    # MCPServer configures the root logger when there is none; logging is its host's.
    root.handlers[:], root.level = handlers, level
    tools = KnowledgeTools(caller_of)
    for tool in (tools.list_knowledge_bases, tools.search, tools.get_chunk):
        server.add_tool(tool, annotations=READ_ONLY)
    server.add_tool(tools.answer, annotations=ToolAnnotations(open_world_hint=False))
    return server


def _search(
    caller: Caller, query: str, name: str | None, k: int, mode: SearchMode | None
) -> dict[str, Any]:
    workspace = caller.services.workspace(caller.person, name)
    check_question(query, workspace.settings)  # RAG_MAX_QUESTION_CHARS, as /v1/search
    options = search_options(workspace.kb, workspace.settings, SearchFields(k=k, mode=mode))
    return {"knowledge_base": workspace.kb.name} | workspace.search(query, options).as_dict()


def _chunk(caller: Caller, name: str, chunk_id: str) -> dict[str, Any]:
    workspace = caller.services.workspace(caller.person, name)
    library = workspace.library(Action.READ)
    chunk = library.stored_chunks([chunk_id]).get(chunk_id)
    # A chunk of a document being added or deleted is not there yet, or any more.
    if chunk is None or chunk.doc_id not in library.visible_ids():
        raise DocumentNotFoundError(f"No chunk {chunk_id!r} in {workspace.kb.name}")
    on_pages = [
        c
        for c in library.chunks_of(chunk.doc_id)
        if c.page_start <= chunk.page_end and c.page_end >= chunk.page_start
    ]
    page_text, cut = page_around(chunk, on_pages)
    return {
        "knowledge_base": workspace.kb.name,
        "chunk_id": chunk.chunk_id,
        "doc_id": chunk.doc_id,
        "document": library.find(chunk.doc_id).name,
        "page_start": chunk.page_start,
        "page_end": chunk.page_end,
        "location": chunk.location or page_label(chunk.page_start, chunk.page_end),
        "header": chunk.header,
        "text": chunk.text,
        "page_text": page_text,
        "page_text_cut": cut,
    }


def page_around(
    chunk: Chunk, on_pages: Sequence[Chunk], limit: int = MAX_PAGE_CHARS
) -> tuple[str, bool]:
    """The text of the chunk's page(s) as their chunks hold it, stitched by their offsets
    in the document's text (overlaps once), with at most about `limit` characters around
    the chunk; and whether it was cut to that."""
    ordered = sorted(
        {c.chunk_id: c for c in [*on_pages, chunk]}.values(),
        key=lambda c: (c.char_start, c.char_end),
    )
    start, end = ordered[0].char_start, max(c.char_end for c in ordered)
    if end - start <= limit:
        return stitch(ordered, start, end), False
    room = max(0, limit - (chunk.char_end - chunk.char_start)) // 2
    low = max(start, chunk.char_start - room)
    high = min(end, max(low + limit, chunk.char_end))
    return stitch(ordered, low, high), True


def _answer(caller: Caller, question: str, name: str | None) -> dict[str, Any]:
    workspace = caller.services.workspace(caller.person, name)
    options = chat_options(workspace.kb, workspace.settings, SearchFields(), GenerationOptions())
    limits = caller.limits
    with contextlib.nullcontext() if limits is None else limits.answers.taken():
        stream = workspace.ask(question, (), options)
        try:
            answer = stream.answer
        finally:
            iter(stream).close()  # a failure midway stops the model's request too
    if answer.error and not answer.text:
        raise ToolError(answer.error)
    full = answer_json(answer, workspace.settings.llm_configured)
    kept = {k: full[k] for k in (*ANSWER_FIELDS, "warning", "error")}
    return {"knowledge_base": workspace.kb.name} | kept


class McpEndpoint:
    """The tools over streamable HTTP: the ASGI app of the service's route /mcp. Each
    request is checked first, as every route's (rag.api.auth: 401 without a valid key
    where one is needed), and the tools act as its person. Stateless, with JSON replies:
    every POST stands alone with its own key; no session is kept between requests."""

    def __init__(self) -> None:
        self.server = build_server(_caller_of_request)
        self._started: asyncio.Event | None = None
        self._task: asyncio.Task | None = None

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: object) -> AsyncIterator[None]:
        """Run the transport while the application runs (FastAPI's lifespan)."""
        async with self._transport():
            self._started = asyncio.Event()
            self._started.set()
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)  # scope["app"]: the service's FastAPI app
        try:
            services = request.app.state.services
            person = await run_in_threadpool(person_of, request, services)
        except ApiError as exc:
            status, kind = status_of(exc)
            reply = JSONResponse(error_body(str(exc), kind), status_code=status)
            await reply(scope, receive, send)
            return
        # The tools read it from the request the SDK hands them (in scope["state"]).
        request.state.mcp_caller = Caller(services, person, limits_of(request.app))
        await self._running()
        await self.server.session_manager.handle_request(scope, receive, send)

    def _transport(self) -> contextlib.AbstractAsyncContextManager[None]:
        """A new transport to run (each runs once, so the application can run again)."""
        self.server.streamable_http_app(
            stateless_http=True,
            json_response=True,
            # Who may call is decided by key, per request; behind a proxy the Host is the
            # public name, which the SDK's localhost-only check would refuse.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        return self.server.session_manager.run()

    async def _running(self) -> None:
        """Start the transport now if the host did not run the lifespan: serve.py mounts
        the service in st.App, which runs its own lifespan, not its mounted apps'."""
        if self._started is None:
            self._started = started = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run_until_stopped(started))
        await self._started.wait()

    async def _run_until_stopped(self, started: asyncio.Event) -> None:
        async with self._transport():
            started.set()
            await asyncio.Event().wait()  # until the event loop ends with the server


def _caller_of_request(ctx: Context) -> Caller:
    return ctx.request_context.request.state.mcp_caller
