"""The knowledge bases as Model Context Protocol tools, reached with the `mcp` package's own
client: over stdio (`python -m rag.api --mcp` started as a client starts it) and over
streamable HTTP at the service's /mcp, each as a person with an API key, over a data folder
holding a real ingested PDF (real Chroma, the real embedding model)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types import CallToolResult

from ingest.pipeline import Ingestor
from rag.access import Gate, Person
from rag.api.services import ApiServices
from rag.config import Settings
from rag.engine import open_knowledge_base
from rag.kb import KnowledgeBases
from tests.conftest import pdf
from tests.support.api_server import running_api
from tests.support.helpers import ROOT, run_cli

QUERY = "lorem ipsum dolor sit amet"
PRIVATE = "Ada's notes"
ADA, BOB, CAROL = (Person(f"{who}@example.com", who.title()) for who in ("ada", "bob", "carol"))
# Requests a minute over HTTP: above what Ada and Bob make here, reached by Carol.
PER_MINUTE = 5
TOOLS = {"list_knowledge_bases", "search", "get_chunk", "answer"}


@dataclass(frozen=True)
class Folder:
    """A data folder where Ada owns a private knowledge base holding one PDF; each
    person's API key."""

    settings: Settings
    keys: dict[str, str]


@pytest.fixture(scope="module")
def folder(base_settings, embedder, tmp_path_factory) -> Folder:
    data_dir = tmp_path_factory.mktemp("mcp") / "data"
    settings = base_settings.with_overrides(
        data_dir=data_dir, chat_provider=None, admins=(), api_requests_per_minute=PER_MINUTE
    )
    with KnowledgeBases.open(settings) as registry:
        Gate.of(registry).create(PRIVATE, ADA)
    with open_knowledge_base(settings, PRIVATE, embedder) as engine:
        outcome = Ingestor(engine.library).ingest_path(pdf("sf_minimal-document.pdf"))
    assert outcome.doc_id, outcome.reason
    services = ApiServices(settings)
    try:  # everything closed after: the stdio server is another process
        keys = {p.id: services.keys.create(p, "tests")[1] for p in (ADA, BOB, CAROL)}
    finally:
        services.close()
    return Folder(settings, keys)


def _found(result: CallToolResult) -> dict:
    assert not result.is_error, result.content
    return result.structured_content


async def _over_stdio(env: dict[str, str]) -> dict[str, object]:
    """What a client started over stdio sees: the tools, then each tool's result."""
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "rag.api", "--mcp"], env=env, cwd=ROOT
    )
    async with Client(server, read_timeout_seconds=120) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        listed = await client.call_tool("list_knowledge_bases", {})
        found = await client.call_tool("search", {"query": QUERY, "knowledge_base": PRIVATE})
        top = _found(found)["results"][0]
        chunk = await client.call_tool(
            "get_chunk", {"knowledge_base": PRIVATE, "chunk_id": top["chunk_id"]}
        )
        return {"tools": tools, "listed": listed, "found": found, "chunk": chunk}


def test_a_client_over_stdio_searches_and_reads_a_chunk_as_the_keys_person(folder):
    env = {
        **os.environ,
        "RAG_DATA_DIR": str(folder.settings.data_dir),
        "RAG_CHAT_PROVIDER": "",
        "RAG_API_KEY": folder.keys[ADA.id],
    }
    seen = asyncio.run(asyncio.wait_for(_over_stdio(env), 120))
    assert seen["tools"] == TOOLS
    [listed] = _found(seen["listed"])["knowledge_bases"]
    assert (listed["name"], listed["role"], listed["documents"]) == (PRIVATE, "owner", 1)
    found = _found(seen["found"])
    assert found["knowledge_base"] == PRIVATE
    top = found["results"][0]
    assert top["source"] == "sf_minimal-document.pdf" and top["rank"] == 1
    assert set(top["scores"]) >= {"vector", "bm25", "fused"}
    chunk = _found(seen["chunk"])
    assert chunk["chunk_id"] == top["chunk_id"] and chunk["text"] == top["text"]
    assert chunk["document"] == "sf_minimal-document.pdf"
    assert (chunk["page_start"], chunk["page_end"]) == (top["page_start"], top["page_end"])
    assert chunk["text"] in chunk["page_text"] and not chunk["page_text_cut"]


def test_stdio_without_a_key_where_keys_are_needed_is_refused(folder):
    done = run_cli(
        "rag.api", "--mcp", data_dir=folder.settings.data_dir, env={"RAG_API_KEY": ""}, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert "set RAG_API_KEY" in done.stderr and done.stdout == ""


@pytest.fixture(scope="module")
def service(folder) -> Iterator[str]:
    with running_api(ApiServices(folder.settings)) as url:
        yield f"{url}/mcp"


async def _over_http(url: str, key: str, calls: list[tuple[str, dict]]) -> list[CallToolResult]:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        return [await client.call_tool(tool, arguments) for tool, arguments in calls]


def test_over_http_a_key_searches_its_persons_private_knowledge_base(service, folder):
    calls = [
        ("search", {"query": QUERY, "knowledge_base": PRIVATE, "k": 2, "mode": "bm25"}),
        ("answer", {"question": "What does the document say about lorem ipsum?"}),
    ]
    found, answered = asyncio.run(_over_http(service, folder.keys[ADA.id], calls))
    results = _found(found)["results"]
    assert 1 <= len(results) <= 2 and results[0]["source"] == "sf_minimal-document.pdf"
    assert results[0]["scores"]["vector"] is None  # bm25 alone, as asked
    answer = _found(answered)
    assert answer["knowledge_base"] == PRIVATE and answer["mode"] == "retrieval-only"
    assert answer["citations"] and "[1]" in answer["answer"]
    assert answer["citations"][0]["source"] == "sf_minimal-document.pdf"


def test_over_http_another_persons_knowledge_base_is_refused_as_unknown(service, folder):
    calls = [("search", {"query": QUERY, "knowledge_base": PRIVATE}), ("list_knowledge_bases", {})]
    refused, listed = asyncio.run(_over_http(service, folder.keys[BOB.id], calls))
    assert refused.is_error
    message = refused.content[0].text
    assert f"No knowledge base named {PRIVATE!r} is shared with you" in message
    assert ADA.id not in message and "sf_minimal" not in message
    assert PRIVATE not in str(_found(listed))


def test_over_http_each_tool_call_counts_against_the_persons_requests(service, folder):
    calls = [("list_knowledge_bases", {})] * (PER_MINUTE + 1)
    *allowed, refused = asyncio.run(_over_http(service, folder.keys[CAROL.id], calls))
    assert not any(result.is_error for result in allowed)
    assert refused.is_error
    assert f"More than {PER_MINUTE} requests in a minute" in refused.content[0].text


def test_over_http_a_wrong_key_is_refused_with_401(service):
    refused = httpx.post(
        service,
        headers={"Authorization": "Bearer rag_not-a-key", "Accept": "application/json"},
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        trust_env=False,
    )
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "authentication_error"
    with pytest.raises(Exception) as failed:  # the SDK's client gives up at once
        asyncio.run(_over_http(service, "rag_not-a-key", []))
    assert "error" in str(failed.value).lower()
