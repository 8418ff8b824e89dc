"""The HTTP service as its clients meet it: a real server on 127.0.0.1 over a data folder of
real PDFs (real Chroma, the real embedding model), people with API keys and shares, the
limits on bodies and requests, errors as JSON, and `python -m rag.api` itself."""

from __future__ import annotations

import os
import pkgutil
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import rag.api
from ingest.pipeline import Ingestor
from rag.access import Gate, Person, Role
from rag.api.services import ApiServices
from rag.engine import open_knowledge_base
from rag.kb import REGISTRY_FILE, KnowledgeBases
from tests.conftest import pdf
from tests.support.api_server import running_api
from tests.support.helpers import ROOT, free_port, run_cli, run_json, stop

QUERY = "lorem ipsum dolor sit amet"
OWNER, EDITOR, READER, STRANGER, BUSY = (
    Person(f"{who}@example.com", who.title())
    for who in ("owner", "editor", "reader", "stranger", "busy")
)
PEOPLE = {p.id.split("@")[0]: p for p in (OWNER, EDITOR, READER, STRANGER, BUSY)}
# Low enough to reach in a test, above what any other person here asks in the module.
PER_MINUTE, BODY_KB, QUESTION_CHARS = 20, 8, 200
DOWNLOADED = 'Über "draft" notes.pdf'
NOBODY_SHARED = "No knowledge base named {!r} is shared with you"


@dataclass
class World:
    """The service, its data folder, each person's key, and what the command line found."""

    url: str
    services: ApiServices
    data_dir: Path
    keys: dict[str, str]
    docs: dict[str, str]
    cli: dict

    def call(self, method: str, path: str, who: str | None = None, **kwargs) -> httpx.Response:
        """One request, as `who` (their API key) or with no key."""
        headers = {"Authorization": f"Bearer {self.keys[who]}"} if who else {}
        headers |= kwargs.pop("headers", {})
        with httpx.Client(base_url=self.url, trust_env=False, timeout=120) as client:
            return client.request(method, path, headers=headers, **kwargs)


def _prepare(settings, embedder, folder: Path) -> dict[str, str]:
    """The knowledge bases, shares and documents; the doc ids by label. Everything is
    closed after, so that another process may open the folder."""
    named = folder / DOWNLOADED
    shutil.copyfile(pdf("sf_minimal-document.pdf"), named)
    with KnowledgeBases.open(settings) as registry:
        gate = Gate.of(registry)
        team, scratch, _ = (gate.create(n, OWNER) for n in ("Team notes", "Scratch", "Private"))
        for kb in (team, scratch):
            gate.share(kb, OWNER, READER.id, Role.READER)
            gate.share(kb, OWNER, EDITOR.id, Role.EDITOR)
        # What a request leaves out comes from here: k=3 (the request asks 4), RRF fusion.
        gate.update(team, OWNER, k=3, fusion="rrf")
    files = {
        "minimal": ("Team notes", pdf("sf_minimal-document.pdf")),
        "multicolumn": ("Team notes", pdf("sf_multicolumn.pdf")),
        "download": ("Scratch", named),
        "delete": ("Scratch", pdf("pypdf_multilang.pdf")),
    }
    docs = {}
    for label, (kb, path) in files.items():
        with open_knowledge_base(settings, kb, embedder) as engine:
            outcome = Ingestor(engine.library).ingest_path(path)
        assert outcome.doc_id, outcome.reason
        docs[label] = outcome.doc_id
    return docs


@pytest.fixture(scope="module")
def world(base_settings, embedder, tmp_path_factory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("api")
    settings = base_settings.with_overrides(
        data_dir=folder / "data",
        chat_provider=None,
        chat_model=None,
        admins=(),
        api_requests_per_minute=PER_MINUTE,
        api_max_body_kb=BODY_KB,
        max_question_chars=QUESTION_CHARS,
    )
    docs = _prepare(settings, embedder, folder)
    # The command line first: the data folder is one process's at a time.
    cli = run_json("rag.search", QUERY, "--kb", "Team notes", "-k", "4", data_dir=folder / "data")
    services = ApiServices(settings)
    keys = {who: services.keys.create(person, "tests")[1] for who, person in PEOPLE.items()}
    with running_api(services) as url:
        yield World(url, services, folder / "data", keys, docs, cli)


def _without_timings(result: dict) -> dict:
    return {name: value for name, value in result.items() if name != "timings_ms"}


def _error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()["error"]


# Search -----------------------------------------------------------------------------------


def test_search_answers_what_the_command_line_prints(world):
    found = world.call(
        "POST", "/v1/search", "owner", json={"query": QUERY, "kb": "Team notes", "k": 4}
    )
    assert found.status_code == 200, found.text
    result = found.json()
    assert _without_timings(result) == _without_timings(world.cli)
    assert set(result["timings_ms"]) == set(world.cli["timings_ms"])
    # Chunk for chunk, with every score, kind and rank (the comparison above holds them).
    chunks = result["results"]
    assert [c["rank"] for c in chunks] == [1, 2, 3, 4]
    assert {c["doc_id"] for c in chunks} == {world.docs["minimal"], world.docs["multicolumn"]}
    assert all(c["scores"]["fused"]["kind"].startswith("RRF") for c in chunks)  # the kb's


def test_options_left_out_come_from_the_knowledge_base(world):
    body = {"query": QUERY, "kb": "team NOTES"}
    result = world.call("POST", "/v1/search", "reader", json=body).json()
    assert len(result["results"]) == 3
    only = {"mode": "bm25", "documents": [world.docs["multicolumn"]], "k": 2}
    result = world.call("POST", "/v1/search", "reader", json=body | only).json()
    assert result["mode"] == "bm25" and len(result["results"]) == 2
    assert {c["doc_id"] for c in result["results"]} == {world.docs["multicolumn"]}
    assert all(c["scores"]["vector"] is None for c in result["results"])
    # Without a name: the person's first knowledge base ("Scratch", in the list's order).
    result = world.call("POST", "/v1/search", "reader", json={"query": QUERY}).json()
    assert {c["doc_id"] for c in result["results"]} <= {
        world.docs["download"],
        world.docs["delete"],
    }


def test_knowledge_bases_are_those_the_person_may_use(world):
    listed = world.call("GET", "/v1/knowledge-bases", "reader").json()["knowledge_bases"]
    assert [(kb["name"], kb["role"], kb["owner"]) for kb in listed] == [
        ("Scratch", "reader", OWNER.id),
        ("Team notes", "reader", OWNER.id),
    ]
    team = listed[1]
    assert team["documents"] == 2 and team["is_default"] is False
    assert team["search"] | {"k": 3, "fusion": "rrf"} == team["search"]
    assert "all-MiniLM-L6-v2" in team["index"] and "chunks of" in team["index"]
    owned = world.call("GET", "/v1/knowledge-bases", "owner").json()["knowledge_bases"]
    assert [(kb["name"], kb["role"]) for kb in owned] == [
        ("Private", "owner"),
        ("Scratch", "owner"),
        ("Team notes", "owner"),
    ]
    assert world.call("GET", "/v1/knowledge-bases", "stranger").json() == {"knowledge_bases": []}


# Keys and people ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer rag_not-a-key"}, {"Authorization": "Basic b3duZXI6cHc="}],
    ids=["no key", "wrong key", "not a bearer"],
)
def test_a_request_without_a_valid_key_is_refused(world, headers):
    refused = world.call("GET", "/v1/knowledge-bases", headers=headers)
    assert _error(refused, 401)["type"] == "authentication_error"


def test_a_revoked_key_is_refused_from_the_next_request_on(world):
    key, secret = world.services.keys.create(READER, "revoked soon")
    world.keys["reader, revoked"] = secret
    assert world.call("GET", "/v1/knowledge-bases", "reader, revoked").status_code == 200
    assert world.services.keys.revoke(READER, key.id)
    refused = world.call("GET", "/v1/knowledge-bases", "reader, revoked")
    assert "not valid" in _error(refused, 401)["message"]


@pytest.mark.parametrize("name", ["Private", "Nowhere"])
def test_another_persons_private_knowledge_base_is_as_good_as_missing(world, name):
    searched = world.call("POST", "/v1/search", "reader", json={"query": QUERY, "kb": name})
    error = _error(searched, 403)
    assert error == {"message": NOBODY_SHARED.format(name), "type": "permission_error"}
    listed = world.call("GET", f"/v1/knowledge-bases/{name}/documents", "stranger")
    assert _error(listed, 403)["message"] == NOBODY_SHARED.format(name)


def test_documents_are_listed_newest_first(world):
    listed = world.call("GET", "/v1/knowledge-bases/Team notes/documents", "reader").json()
    assert listed["knowledge_base"] == "Team notes"
    documents = listed["documents"]
    assert {d["doc_id"] for d in documents} == {world.docs["minimal"], world.docs["multicolumn"]}
    assert [d["added_at"] for d in documents] == sorted(
        (d["added_at"] for d in documents), reverse=True
    )
    columns = next(d for d in documents if d["name"] == "sf_multicolumn.pdf")
    assert (columns["pages"], columns["unit"]) == (3, "page")
    assert (
        columns["chunks"] > 0 and columns["size_bytes"] == pdf("sf_multicolumn.pdf").stat().st_size
    )


def test_a_reader_may_download_but_not_delete(world):
    doc_id = world.docs["download"]
    path = f"/v1/knowledge-bases/Scratch/documents/{doc_id}"
    got = world.call("GET", f"{path}/file", "reader")
    assert got.status_code == 200, got.text
    assert got.content == pdf("sf_minimal-document.pdf").read_bytes()
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"] == (
        'attachment; filename="_ber _draft_ notes.pdf";'
        " filename*=UTF-8''%C3%9Cber%20%22draft%22%20notes.pdf"
    )
    refused = world.call("DELETE", path, "reader")
    assert "You may not delete documents of 'Scratch'" in _error(refused, 403)["message"]
    assert world.call("GET", f"{path}/file", "reader").status_code == 200  # still there
    missing = world.call("GET", f"{path[:-4]}/file", "reader")  # a prefix is not an id
    assert _error(missing, 404)["type"] == "not_found_error"


def test_an_editor_deletes_and_the_audit_log_says_so(world):
    doc_id = world.docs["delete"]
    path = f"/v1/knowledge-bases/Scratch/documents/{doc_id}"
    deleted = world.call("DELETE", path, "editor")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {
        "knowledge_base": "Scratch",
        "deleted": doc_id,
        "name": "pypdf_multilang.pdf",
    }
    listed = world.call("GET", "/v1/knowledge-bases/Scratch/documents", "editor").json()
    assert doc_id not in {d["doc_id"] for d in listed["documents"]}
    assert _error(world.call("DELETE", path, "editor"), 404)["type"] == "not_found_error"
    assert _error(world.call("GET", f"{path}/file", "owner"), 404)
    audit = world.services.gate.records.audit(world.services.registry.get("Scratch"))
    assert (audit[0].person, audit[0].action, audit[0].detail) == (
        EDITOR.id,
        "delete",
        "pypdf_multilang.pdf",
    )


# Limits and errors ----------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused(world):
    padding = "x" * (BODY_KB * 1024)
    declared = world.call("POST", "/v1/search", "owner", json={"query": QUERY, "pad": padding})
    assert "RAG_API_MAX_BODY_KB" in _error(declared, 413)["message"]
    streamed = world.call(
        "POST",
        "/v1/search",
        "owner",
        content=iter([b'{"query": "', padding.encode(), b'"}']),
        headers={"Content-Type": "application/json"},
    )
    assert "content-length" not in streamed.request.headers  # sent chunked
    assert _error(streamed, 413)["type"] == "too_large_error"


def test_too_many_requests_are_refused_for_that_person_only(world):
    for _ in range(PER_MINUTE):
        assert world.call("GET", "/v1/knowledge-bases", "busy").status_code == 200
    refused = world.call("GET", "/v1/knowledge-bases", "busy")
    assert "RAG_API_REQUESTS_PER_MINUTE" in _error(refused, 429)["message"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert world.call("GET", "/v1/knowledge-bases", "stranger").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": QUERY, "k": 0}, "k"),
        ({"query": ""}, "query"),
        ({"query": "q" * (QUESTION_CHARS + 1)}, "query"),
        ({"query": QUERY, "mode": "semantic"}, "mode"),
        ({"query": QUERY, "top_k": 3}, "top_k"),
        ({"query": QUERY, "vector_weight": 0, "bm25_weight": 0}, "bm25_weight"),
    ],
)
def test_an_invalid_request_names_the_field(world, body, field):
    refused = world.call("POST", "/v1/search", "owner", json=body | {"kb": "Team notes"})
    assert re.search(rf"\b{field}\b", _error(refused, 422)["message"])


def test_an_unexpected_failure_is_an_internal_error_without_details(world):
    # A knowledge base's row written by something else, its settings unreadable.
    database = sqlite3.connect(world.data_dir / REGISTRY_FILE, timeout=30)
    row = ("kb-broken", "Broken", "broken", None, time.time(), "{not json")
    with database:
        database.execute("INSERT INTO knowledge_bases VALUES (?, ?, ?, ?, ?, ?)", row)
    try:
        failed = world.call("GET", "/v1/knowledge-bases", "owner")
    finally:
        with database:
            database.execute("DELETE FROM knowledge_bases WHERE collection = 'kb-broken'")
        database.close()
    assert _error(failed, 500) == {"message": "Internal error", "type": "server_error"}
    assert not re.search(r"Traceback|JSONDecodeError|Expecting|File \"", failed.text)
    assert world.call("GET", "/v1/knowledge-bases", "owner").status_code == 200


def test_the_schema_lists_every_route(world):
    schema = world.call("GET", "/openapi.json").json()
    listed = {(path, method.upper()) for path, ops in schema["paths"].items() for method in ops}
    routes = {
        (route.path_format, method)
        for module in pkgutil.iter_modules(rag.api.__path__)
        if module.name.endswith("_routes")
        for route in __import__(f"rag.api.{module.name}", fromlist=["router"]).router.routes
        for method in route.methods
    }
    assert listed == routes
    assert {
        ("/v1/search", "POST"),
        ("/v1/knowledge-bases/{kb}/documents/{doc_id}/file", "GET"),
    } <= listed


# python -m rag.api ----------------------------------------------------------------------


def test_a_bad_setting_stops_the_service_with_one_line(tmp_path):
    done = run_cli("rag.api", data_dir=tmp_path / "data", env={"RAG_API_MAX_BODY_KB": "0"})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: RAG_API_MAX_BODY_KB must be at least 1, got '0'"
    ]


def test_a_data_folder_in_use_stops_the_service_with_one_line(world):
    assert world.call("GET", "/v1/knowledge-bases", "owner").status_code == 200  # it is open
    done = run_cli("rag.api", "--port", str(free_port()), data_dir=world.data_dir, timeout=120)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: The data folder is already open")


def test_the_service_alone_answers_the_local_user_of_this_machine(tmp_path):
    port = free_port()
    limits = {"RAG_API_REQUESTS_PER_MINUTE": "3", "RAG_API_MAX_BODY_KB": "1"}
    env = {**_environment(tmp_path / "data"), **limits}
    server = subprocess.Popen(
        [sys.executable, "-m", "rag.api", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_up(url, server)
        with httpx.Client(base_url=url, trust_env=False, timeout=60) as client:
            listed = client.get("/v1/knowledge-bases").json()["knowledge_bases"]
            assert [
                (kb["name"], kb["role"], kb["is_default"], kb["documents"]) for kb in listed
            ] == [("documents", "owner", True, 0)]
            # A page on another site reaching 127.0.0.1 through its own name is refused.
            rebound = client.get("/v1/knowledge-bases", headers={"Host": f"evil.test:{port}"})
            assert rebound.status_code == 401 and "localhost" in rebound.json()["error"]["message"]
            big = client.post("/v1/search", json={"query": "x" * 1100})
            assert big.status_code == 413
            assert [client.get("/v1/knowledge-bases").status_code for _ in range(3)] == [
                200,
                200,
                429,
            ]
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert server.returncode == 0, output


def _environment(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "RAG_DATA_DIR": str(data_dir)}


def _wait_up(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"python -m rag.api stopped: {server.communicate()[0]}")
        try:
            httpx.get(f"{url}/openapi.json", trust_env=False, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    stop(server)
    raise AssertionError("python -m rag.api did not start")
