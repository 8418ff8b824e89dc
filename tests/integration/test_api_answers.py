"""Answers over HTTP as clients read them: the `openai` package and LangChain's ChatOpenAI
on the OpenAI-compatible routes, and /v1/answer streamed and not, from a real service (real
Chroma, the real embedding model, a real PDF) whose chat model is the fake server on
127.0.0.1; who may ask, how often, and answers without a chat model."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI

from ingest.pipeline import Ingestor
from rag.access import Action, Person, Role
from rag.access.keys import ApiKeys
from rag.api.deps import SLOT_WAIT_S
from rag.api.services import ApiServices
from rag.config import Settings
from tests.conftest import pdf
from tests.support.api_server import running_api
from tests.support.fake_llm import FakeLLM

PDF = "sf_minimal-document.pdf"
KB, NOTES = "Handbook", "Notes"
NOTE = b"Lorem ipsum is placeholder text that printers have used since the 1500s."
QUESTION = "What does the document say about lorem ipsum dolor sit amet?"
REPLY = "Lorem ipsum dolor sit amet, consetetur sadipscing elitr [1]."
SOURCES = f"\n\nSources:\n[1] {PDF}, p. 1"
ADA, BOB, DEE, EVE = (Person(f"{n}@example.com", n.title()) for n in ("ada", "bob", "dee", "eve"))
# The keys of `rag.ask --json`'s object, which /v1/answer returns.
ANSWER_KEYS = {"question", "answer", "mode", "kind", "model", "error", "notice", "warning"}
ANSWER_KEYS |= {"citations", "unverified_citations", "sentences", "no_claim", "support"}
ANSWER_KEYS |= {"chunks", "trace"}


@dataclass(frozen=True)
class Service:
    """A running service and the API keys of the people who use it."""

    url: str
    keys: dict[Person, str]

    def openai(self, person: Person) -> openai.OpenAI:
        # No retries: a refusal must reach the test as it was sent.
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=self.keys[person], max_retries=0)

    def headers(self, person: Person) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[person]}"}


@contextmanager
def serve(
    settings: Settings, owner: Person, others: tuple[Person, ...], shared: bool = False
) -> Iterator[Service]:
    """Knowledge base KB holding the PDF and NOTES holding a note, both owned by `owner`
    (KB shared with everyone signed in as reader when `shared`), served on 127.0.0.1 with a
    key for `owner` and each of `others`."""
    services = ApiServices(settings)
    try:
        kb = services.gate.create(KB, owner)
        services.gate.create(NOTES, owner)
        if shared:
            services.gate.share(kb, owner, "*", Role.READER)
        library = services.workspace(owner, KB).library(Action.ADD)
        assert Ingestor(library).ingest_path(pdf(PDF)).doc_id
        notes = services.workspace(owner, NOTES).library(Action.ADD)
        assert Ingestor(notes).ingest_bytes("notes.txt", NOTE).doc_id
        keys = ApiKeys(services.registry.database)
        secrets = {person: keys.create(person, "test")[1] for person in (owner, *others)}
    except BaseException:
        services.close()  # running_api closes them from here on
        raise
    with running_api(services) as url:
        yield Service(url, secrets)


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


@pytest.fixture(scope="module")
def service(base_settings, llm, tmp_path_factory) -> Iterator[Service]:
    """Ada's knowledge base answered by the fake chat model, one answer at a time; Bob has
    a key and no share."""
    settings = base_settings.with_overrides(
        data_dir=tmp_path_factory.mktemp("api_answers") / "data",
        chat_provider="openai",
        chat_model="fake-model",
        chat_base_url=llm.base_url,
        chat_max_retries=0,
        api_max_concurrent_answers=1,
    )
    with serve(settings, ADA, (BOB,)) as running:
        yield running


@pytest.fixture(scope="module")
def quoting(base_settings, tmp_path_factory) -> Iterator[Service]:
    """Dee's knowledge base without a chat model, shared with Eve, one question a minute
    for each person."""
    settings = base_settings.with_overrides(
        data_dir=tmp_path_factory.mktemp("api_quotes") / "data",
        chat_provider=None,
        chat_model=None,
        person_questions_per_minute=1,
    )
    with serve(settings, DEE, (EVE,), shared=True) as running:
        yield running


def sse_events(text: str) -> list[tuple[str, dict]]:
    """(event, data) of each server-sent event, as a browser's EventSource reads them."""
    events, name, data = [], "message", []
    for line in [*text.splitlines(), ""]:
        if not line:
            if data:
                events.append((name, json.loads("\n".join(data))))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").strip())
    return events


def ask(service: Service, person: Person, **body) -> httpx.Response:
    """POST /v1/answer as `person`: QUESTION of KB unless `body` says otherwise."""
    return httpx.post(
        f"{service.url}/v1/answer",
        json={"question": QUESTION, "kb": KB, **body},
        headers=service.headers(person),
        timeout=60,
    )


def test_models_are_the_knowledge_bases_the_person_may_use(service):
    listed = service.openai(ADA).models.list().data
    assert sorted(m.id for m in listed) == [KB, NOTES]
    assert {(m.object, m.owned_by) for m in listed} == {("model", ADA.id)}
    assert service.openai(BOB).models.list().data == []


def test_a_completion_is_the_models_answer_with_its_sources_and_citations(service, llm):
    llm.reply(REPLY)
    completion = service.openai(ADA).chat.completions.create(
        model=KB,
        messages=[
            {"role": "system", "content": "Answer like a pirate."},
            {"role": "user", "content": QUESTION},
        ],
        temperature=0.3,
    )
    [choice] = completion.choices
    assert choice.message.content == REPLY + SOURCES and choice.finish_reason == "stop"
    [citation] = completion.model_extra["citations"]
    assert citation["n"] == 1 and citation["source"] == PDF and citation["page_start"] == 1
    assert completion.model == KB and completion.usage.completion_tokens > 0
    sent = llm.requests[-1]
    assert sent["temperature"] == 0.3 and sent["model"] == "fake-model"
    # The caller's system message is not the knowledge base's prompt.
    assert not any("pirate" in m["content"] for m in sent["messages"])
    assert f'file="{PDF}"' in sent["messages"][0]["content"]


def test_a_streamed_completion_ends_with_the_sources_and_the_citations(service, llm):
    llm.reply("lorem ipsum dolor sit amet", REPLY)  # the follow-up is condensed first
    chunks = list(
        service.openai(ADA).chat.completions.create(
            model=KB,
            messages=[
                {"role": "user", "content": "What is the document?"},
                {"role": "assistant", "content": "A sample text [1]." + SOURCES},
                {"role": "user", "content": "And what does it say?"},
            ],
            stream=True,
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == REPLY + SOURCES and len(chunks) > 5
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert [c["source"] for c in last.model_extra["citations"]] == [PDF]
    condensed = json.dumps(llm.requests[-2]["messages"])
    assert "What is the document?" in condensed and "A sample text [1]." in condensed
    assert "Sources:" not in condensed


def test_langchain_invokes_and_streams_a_knowledge_base(service, llm):
    chat = ChatOpenAI(
        base_url=f"{service.url}/v1", api_key=service.keys[ADA], model=KB, max_retries=0
    )
    llm.reply(REPLY, REPLY)
    assert chat.invoke(QUESTION).content == REPLY + SOURCES
    pieces = [chunk.content for chunk in chat.stream(QUESTION)]
    assert "".join(pieces) == REPLY + SOURCES and len(pieces) > 3


def test_the_answer_streams_as_events_that_join_to_its_json(service, llm):
    llm.reply(REPLY, REPLY)
    streamed = ask(service, ADA)
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = sse_events(streamed.text)
    names = [name for name, _ in events]
    assert names[-2:] == ["answer", "done"] and set(names[:-2]) == {"delta"}
    answer = events[-2][1]
    assert "".join(data["text"] for _, data in events[:-2]) == answer["answer"] == REPLY
    whole = ask(service, ADA, stream=False).json()
    assert set(whole) == ANSWER_KEYS
    # The same answer either way, but for the times it took.
    assert {**answer, "trace": None} == {**whole, "trace": None}
    assert [s["title"] for s in answer["trace"]] == [s["title"] for s in whole["trace"]]
    [citation] = whole["citations"]
    assert citation["source"] == PDF and citation["chunk_id"] == whole["chunks"][0]["chunk_id"]
    assert whole["mode"] == "generated" and whole["sentences"][0]["citations"] == [1]
    assert set(whole["chunks"][0]["scores"]) == {"vector", "bm25", "fused", "rerank"}


def test_search_options_and_the_model_reach_the_answer(service, llm):
    llm.reply(REPLY)
    answer = ask(service, ADA, stream=False, mode="bm25", k=1, model="other-model").json()
    assert len(answer["chunks"]) == 1 and answer["chunks"][0]["scores"]["vector"] is None
    assert answer["model"] == llm.requests[-1]["model"] == "other-model"


def test_several_knowledge_bases_answer_one_question(service, llm):
    llm.reply(REPLY)
    answer = ask(service, ADA, stream=False, kb=None, kbs=[KB, NOTES], k=4).json()
    assert {c["knowledge_base"] for c in answer["chunks"]} == {KB, NOTES}
    assert {c["source"] for c in answer["chunks"]} == {PDF, "notes.txt"}
    sent = llm.requests[-1]["messages"][0]["content"]
    assert f'file="{PDF}"' in sent and 'file="notes.txt"' in sent


def test_someone_without_a_share_is_refused_before_anything_is_searched(service, llm):
    asked = len(llm.requests)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        service.openai(BOB).chat.completions.create(
            model=KB, messages=[{"role": "user", "content": QUESTION}], stream=True
        )
    assert f"No knowledge base named '{KB}' is shared with you" in str(refused.value)
    streamed = ask(service, BOB)
    assert streamed.status_code == 403
    assert streamed.json()["error"]["type"] == "permission_error"
    assert len(llm.requests) == asked


def test_a_model_that_fails_is_an_error_each_client_reads(service, llm):
    llm.fail("error", times=3)
    events = sse_events(ask(service, ADA).text)
    assert [name for name, _ in events] == ["answer", "error", "done"]
    assert events[0][1]["error"] == events[1][1]["error"]["message"]
    assert events[1][1]["error"]["type"] == "model_error"
    client, messages = service.openai(ADA), [{"role": "user", "content": QUESTION}]
    with pytest.raises(openai.InternalServerError) as failed:
        client.chat.completions.create(model=KB, messages=messages)
    assert failed.value.status_code == 502 and "HTTP 500" in failed.value.message
    with pytest.raises(openai.APIError, match="HTTP 500"):
        list(client.chat.completions.create(model=KB, messages=messages, stream=True))


def test_a_client_that_leaves_midway_gives_its_answer_slot_back(service, llm):
    llm.chunk_delay_s = 0.3  # the answer takes seconds to write
    body, headers = {"question": QUESTION, "kb": KB}, service.headers(ADA)
    try:
        with httpx.stream("POST", f"{service.url}/v1/answer", json=body, headers=headers) as sent:
            assert next(sent.iter_lines()) == "event: delta"
    finally:
        llm.chunk_delay_s = 0.0
    # The service writes one answer at a time: this one waits for the slot, not in vain.
    started = time.monotonic()
    assert ask(service, ADA, stream=False).status_code == 200
    assert time.monotonic() - started < SLOT_WAIT_S


def test_without_a_chat_model_the_answer_quotes_its_sources(quoting):
    answer = ask(quoting, DEE, stream=False).json()
    assert answer["mode"] == "retrieval-only" and answer["kind"] == "extractive"
    assert answer["answer"].startswith("> “") and "Lorem ipsum" in answer["answer"]
    assert answer["citations"] and {c["source"] for c in answer["citations"]} == {PDF}
    assert {s["verdict"] for s in answer["sentences"]} == {"quote"}


def test_a_person_over_their_questions_per_minute_is_told_to_wait(quoting):
    client, messages = quoting.openai(EVE), [{"role": "user", "content": QUESTION}]
    completion = client.chat.completions.create(model=KB, messages=messages)
    assert completion.choices[0].message.content.endswith(f"[1] {PDF}, p. 1")
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model=KB, messages=messages)
    assert "RAG_PERSON_QUESTIONS_PER_MINUTE" in str(limited.value)
