"""Many sessions at once, as Streamlit runs them: threads sharing one engine.

Several sessions upload (new files, the same file twice at once, two versions of one name
at once) while others ask questions through the real chat client and the fake model.
Nothing may fail, nothing may be lost or duplicated, and each conversation keeps to itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from ingest.files import FileStatus
from ingest.pipeline import Ingestor
from rag.chat.flow import chat_over_library
from rag.documents import DocumentStatus
from rag.search.retriever import Retriever
from tests.support.fake_llm import FakeLLM

ANIMALS = ["bees", "wasps", "ants", "moths", "beetles", "crickets"]
ROUNDS = 3  # questions per asking session


def note(animal: str, version: int = 1) -> bytes:
    """A short note about an animal; a new version has new bytes."""
    return (
        f"# {animal.title()}\n\nField notes on {animal}, version {version}. "
        + f"The {animal} were counted at dawn and again at dusk. " * 30
    ).encode()


def run_together(tasks: list[Callable[[], None]], timeout_s: float = 240) -> list[BaseException]:
    """Start every task at the same moment in its own thread; the errors they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(tasks))

    def run(task: Callable[[], None]) -> None:
        start.wait()
        try:
            task()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(task,)) for task in tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout_s)
    assert not any(thread.is_alive() for thread in threads), "a session hung"
    return errors


@pytest.fixture
def chat(library, base_settings):
    with FakeLLM() as server:
        settings = base_settings.with_overrides(
            chat_provider="openai", chat_model="fake-model", chat_base_url=server.base_url
        )
        yield chat_over_library(library, Retriever(library), settings)


def test_sessions_upload_and_ask_at_once_without_loss_or_crosstalk(library, chat):
    ingestor = Ingestor(library)
    ingestor.ingest_bytes("bees.md", note("bees"))  # something to ask about from the start
    outcomes = []
    conversations: dict[int, list] = {}

    def upload(name: str, data: bytes) -> Callable[[], None]:
        return lambda: outcomes.append(ingestor.ingest_bytes(name, data))

    def converse(session: int) -> None:
        history = conversations.setdefault(session, [])
        for turn in range(ROUNDS):
            answer = chat.ask(f"session {session} turn {turn}: where are the bees?", history)
            history.append(answer.answer)

    tasks = [upload(f"{a}.md", note(a)) for a in ANIMALS[1:]]
    tasks += [upload("shared.md", note("shared")) for _ in range(2)]  # one file, twice
    tasks += [upload("policy.md", note("policy", v)) for v in (1, 2)]  # two versions
    tasks += [lambda s=s: converse(s) for s in range(3)]
    assert run_together(tasks) == []

    assert all(o.status is not FileStatus.FAILED for o in outcomes), outcomes
    shared = sorted(o.status.value for o in outcomes if o.path == "shared.md")
    assert shared == ["ingested", "unchanged"]  # the second upload waited for the first
    names = [d.name for d in library.documents()]
    expected = {f"{a}.md" for a in ANIMALS} | {"shared.md", "policy.md"}
    assert sorted(names) == sorted(expected)  # each once: no loss, no duplicate
    stores = library.inspect_stores()
    records = stores.catalog.records()
    assert all(r.status is DocumentStatus.READY for r in records)
    chunks = {d.doc_id: d.chunks for d in library.documents()}
    assert stores.chunks.chunk_counts() == stores.words.chunk_counts() == chunks
    for session, history in conversations.items():
        asked = [answer.question for answer in history]
        assert asked == [f"session {session} turn {t}: where are the bees?" for t in range(3)]
        assert all(answer.error is None and answer.text for answer in history)
