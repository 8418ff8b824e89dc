"""Claims checked in the real chat flow: real retriever and stores, the real langchain-openai
client, and scripted answers from a fake model server on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from rag.chat.claims import SUPPORT_THRESHOLD, ClaimsTrace, Verdict
from rag.chat.export import conversation_json, conversation_markdown
from rag.chat.flow import ChatEngine, chat_over_library
from rag.config import load_settings
from rag.results import SearchOptions

SEARCH = (
    b"Tantivy is a full-text search engine library written in Rust.\n\n"
    b"Chroma is a vector database that stores embeddings for similarity search."
)
RESULTS = (
    b"Annual results. Total revenue was $1,600 million in fiscal 2023, compared with"
    b" $1,420 million in fiscal 2022. Operating income rose 12.5 percent."
)
QUESTION = "What was the total revenue in fiscal 2023, and what is tantivy?"


@pytest.fixture
def library_with_two_files(library, ingestor):
    for name, data in (("search.txt", SEARCH), ("results.txt", RESULTS)):
        assert ingestor.ingest_bytes(name, data).ok
    return library


def make_chat(library, retriever, **env) -> ChatEngine:
    settings = load_settings({"RAG_CHAT_MAX_RETRIES": "0", **env}, env_file=None)
    return chat_over_library(library, retriever, settings)


def source_numbers(retriever) -> dict[str, int]:
    """The [n] each file will have as a source of the answer (the order retrieval gives)."""
    found = retriever.search(QUESTION, SearchOptions())
    numbers = {chunk.source: rank for rank, chunk in enumerate(found.chunks, start=1)}
    assert set(numbers) == {"search.txt", "results.txt"}
    return numbers


def test_each_sentence_gets_a_verdict_against_the_source_it_cites(
    library_with_two_files, retriever, fake_llm
):
    n = source_numbers(retriever)
    results, search = n["results.txt"], n["search.txt"]
    fake_llm.reply(
        f"Total revenue was $1,600 million in fiscal 2023 [{results}].\n"
        f"Total revenue was $1,577 million in fiscal 2023 [{results}].\n"
        f"- Total revenue reached 1.6 billion in fiscal 2023.[{results}]\n"
        f"- Tantivy is a search engine library written in Rust [{results}].\n"
        "Chroma stores embeddings for similarity search.\n"
        "The sources do not say who maintains Chroma."
    )
    chat = make_chat(
        library_with_two_files, retriever, RAG_CHAT_MODEL="m", OPENAI_BASE_URL=fake_llm.base_url
    )
    answer = chat.ask(QUESTION).answer
    assert not answer.incomplete
    assert [(s.verdict, s.citations) for s in answer.sentences] == [
        (Verdict.SUPPORTED, (results,)),
        (Verdict.UNSUPPORTED, (results,)),
        (Verdict.SUPPORTED, (results,)),
        (Verdict.UNSUPPORTED, (results,)),
        (Verdict.UNCITED, ()),
        (Verdict.NO_CLAIM, ()),
    ]
    correct, wrong, rounded, misplaced, uncited, _ = answer.sentences
    assert wrong.reason == f"$1,577 million not found in [{results}]"
    assert rounded.text == f"Total revenue reached 1.6 billion in fiscal 2023.[{results}]"
    assert misplaced.reason.startswith(f"few of its words are in [{results}] (support 0.")
    assert misplaced.support < SUPPORT_THRESHOLD <= correct.support
    assert uncited.reason == "states a fact but cites no source"
    # The right source holds the misplaced sentence's words.
    assert search != results
    assert all(answer.text[s.start : s.end] == s.text for s in answer.sentences)
    assert answer.support_summary == "2 of 5 sentences supported by their sources"

    step = answer.step(ClaimsTrace)
    assert answer.trace[-1] is step and step.ms is not None
    assert (step.sentences, step.supported, step.unsupported, step.uncited) == (6, 2, 2, 1)

    turn = json.loads(conversation_json([answer]))["turns"][0]
    assert [s["verdict"] for s in turn["sentences"]] == [
        "supported",
        "unsupported",
        "supported",
        "unsupported",
        "uncited",
        "no claim",
    ]
    assert turn["support_summary"] == answer.support_summary
    assert turn["trace"][-1]["title"] == "Claim check"
    assert turn["trace"][-1]["detail"]["uncited"] == 1
    markdown = conversation_markdown([answer])
    assert "**Claim check:** 2 of 5 sentences supported by their sources." in markdown
    assert f"($1,577 million not found in [{results}])" in markdown
    assert "- *uncited:* “Chroma stores embeddings for similarity search.”" in markdown
    assert "- *supported:*" not in markdown


def test_a_retrieval_only_answer_is_quoted_from_its_sources(library_with_two_files, retriever):
    answer = make_chat(library_with_two_files, retriever).ask(QUESTION).answer
    assert answer.sentences and {s.verdict for s in answer.sentences} == {Verdict.QUOTE}
    assert all(s.citations and s.text in answer.text for s in answer.sentences)
    count = len(answer.sentences)
    assert answer.support_summary in (
        f"All {count} sentences are quoted from the sources",
        "The sentence is quoted from the sources",
    )
    assert json.loads(conversation_json([answer]))["turns"][0]["sentences"][0]["verdict"] == (
        "quote"
    )
