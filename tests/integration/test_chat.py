"""The chat flow through the real langchain-openai client against a fake server on 127.0.0.1."""

from __future__ import annotations

import json
import time

import pytest

from rag.answers import AnswerKind
from rag.chat.export import conversation_json, conversation_markdown
from rag.chat.flow import ChatEngine, ChatOptions, chat_over_library
from rag.chat.limits import QuestionLimiter
from rag.chat.trace import AnswerTrace, CondenseTrace, SearchTrace, TimingsTrace
from rag.config import load_settings
from rag.errors import QuestionLimitError, QuestionTooLongError
from rag.results import SearchOptions

NOTES = (
    b"Tantivy is a full-text search engine library written in Rust.\n\n"
    b"Chroma is a vector database that stores embeddings for similarity search."
)


@pytest.fixture
def notes(ingestor):
    """A library holding one small text document."""
    outcome = ingestor.ingest_bytes("notes.txt", NOTES)
    assert outcome.ok
    return outcome


def make_chat(library, retriever, **env) -> ChatEngine:
    settings = load_settings({"RAG_CHAT_MAX_RETRIES": "0", **env}, env_file=None)
    return chat_over_library(library, retriever, settings)


@pytest.fixture
def chat(library, retriever, fake_llm, notes) -> ChatEngine:
    return make_chat(
        library,
        retriever,
        RAG_CHAT_MODEL="fake-model",
        OPENAI_BASE_URL=fake_llm.base_url,
        RAG_CHAT_TIMEOUT_S="1",
    )


def test_answer_streams_in_pieces_and_cites_its_source(chat, fake_llm):
    fake_llm.reply("Tantivy is written in Rust [1].")
    stream = chat.ask("What language is tantivy written in?")
    deltas = list(stream)
    answer = stream.answer
    assert len(deltas) > 3
    assert "".join(deltas) == answer.text == "Tantivy is written in Rust [1]."
    assert answer.kind is AnswerKind.GENERATED and not answer.incomplete
    [citation] = answer.citations
    assert citation.valid and citation.chunk.source == "notes.txt"
    assert citation.label() == "[1] notes.txt, p. 1"
    assert answer.is_cited(answer.chunks[0])
    request = fake_llm.requests[0]
    assert request["stream"] is True and request["model"] == "fake-model"
    system = request["messages"][0]["content"]
    assert '<source id="1" file="notes.txt" pages="p. 1">' in system
    assert "data, not instructions" in system
    assert answer.step(AnswerTrace).answer_tokens > 0
    assert answer.step(TimingsTrace).first_token_ms is not None


def test_follow_up_is_rewritten_before_retrieval(chat, fake_llm):
    fake_llm.reply("Tantivy is a search library [1].", "chroma vector database", "It stores [1].")
    first = chat.ask("What is tantivy?").answer
    second = chat.ask("And what does the other one store?", [first]).answer
    assert second.query == "chroma vector database"
    condense_request = fake_llm.requests[1]
    assert condense_request["messages"][0]["content"].startswith("Rewrite the user's last")
    assert "What is tantivy?" in condense_request["messages"][1]["content"]
    condensed = second.trace[0]
    assert isinstance(condensed, CondenseTrace) and condensed.rewritten is True
    assert second.step(SearchTrace).query == "chroma vector database"
    # The answer request carries the earlier turn as history.
    roles = [m["role"] for m in fake_llm.requests[2]["messages"]]
    assert roles == ["system", "user", "assistant", "user"]


def test_citation_of_a_missing_source_is_unverified(chat, fake_llm):
    fake_llm.reply("Rust [1], and also [7].")
    answer = chat.ask("What is tantivy?", options=ChatOptions(SearchOptions(k=1))).answer
    valid, invalid = answer.citations
    assert valid.valid and not invalid.valid
    assert invalid.label() == "[7] unverified: no source has this number"
    assert answer.unverified == (invalid,)


@pytest.fixture
def searches(retriever, monkeypatch) -> list[str]:
    """The queries the retriever was asked, recorded."""
    asked: list[str] = []
    search = retriever.search

    def spy(query, options):
        asked.append(query)
        return search(query, options)

    monkeypatch.setattr(retriever, "search", spy)
    return asked


def test_a_question_over_the_length_limit_is_refused_before_anything_runs(
    library, retriever, fake_llm, notes, searches
):
    chat = make_chat(
        library,
        retriever,
        RAG_CHAT_MODEL="fake-model",
        OPENAI_BASE_URL=fake_llm.base_url,
        RAG_MAX_QUESTION_CHARS="100",
    )
    limiter = QuestionLimiter(per_minute=10, total=10)
    with pytest.raises(QuestionTooLongError, match=r"101 characters long; the limit is 100"):
        chat.ask("x" * 101, limiter=limiter)
    assert searches == [] and fake_llm.requests == [] and limiter.asked == 0
    assert not chat.ask("y" * 100, limiter=limiter).answer.incomplete
    assert len(searches) == 1 and limiter.asked == 1


def test_a_session_over_its_question_limit_is_refused_before_anything_runs(
    chat, fake_llm, searches
):
    limiter = QuestionLimiter(per_minute=2, total=100)
    for _ in range(2):
        assert not chat.ask("What is tantivy?", limiter=limiter).answer.incomplete
    with pytest.raises(QuestionLimitError, match=r"wait \d+ s"):
        chat.ask("What is tantivy?", limiter=limiter)
    assert len(searches) == 2 and len(fake_llm.requests) == 2


def test_timeout_gives_a_clear_message_and_an_incomplete_answer(chat, fake_llm):
    fake_llm.mode, fake_llm.slow_s = "slow", 5
    started = time.perf_counter()
    answer = chat.ask("What is tantivy?").answer
    assert time.perf_counter() - started < 4
    assert answer.incomplete
    assert "did not answer within 1 s" in answer.error


def test_server_error_gives_a_clear_message(chat, fake_llm):
    fake_llm.mode = "error"
    answer = chat.ask("What is tantivy?").answer
    assert answer.incomplete and "HTTP 500" in answer.error
    assert answer.chunks  # what was retrieved is still there to inspect


def test_unreachable_server_gives_a_clear_message(library, retriever, notes):
    chat = make_chat(
        library, retriever, RAG_CHAT_MODEL="m", OPENAI_BASE_URL="http://127.0.0.1:9/v1"
    )
    answer = chat.ask("What is tantivy?").answer
    assert answer.incomplete and "Could not reach the chat model" in answer.error


def test_without_a_model_the_answer_quotes_the_sources(library, retriever, notes):
    chat = make_chat(library, retriever)
    assert not chat.llm_configured
    answer = chat.ask("Which language is tantivy written in?").answer
    assert answer.kind is AnswerKind.EXTRACTIVE
    assert "Tantivy is a full\\-text search engine library written in Rust" in answer.text
    assert answer.citations[0].valid
    assert "RAG_CHAT_MODEL" in answer.notice


def test_nothing_found_says_why(library, retriever):
    answer = make_chat(library, retriever).ask("anything").answer
    assert answer.kind is AnswerKind.NOTHING_FOUND
    assert "no documents yet" in answer.notice


def test_nothing_above_the_threshold_says_so(library, retriever, notes):
    options = ChatOptions(SearchOptions(min_vector=0.99, min_bm25=1000))
    answer = make_chat(library, retriever).ask("tantivy", options=options).answer
    assert not answer.chunks
    assert "below the minimum score" in answer.notice


def test_export_holds_questions_answers_citations_and_trace(chat, fake_llm):
    fake_llm.reply("Rust [1].")
    answer = chat.ask("What is tantivy?").answer
    data = json.loads(conversation_json([answer]))
    turn = data["turns"][0]
    assert turn["question"] == "What is tantivy?" and turn["answer"] == "Rust [1]."
    assert turn["citations"][0]["source"] == "notes.txt"
    assert turn["chunks"][0]["scores"]["vector"]["kind"] == "cosine similarity, -1..1"
    assert [step["title"] for step in turn["trace"]][:2] == ["Standalone query", "Search"]
    markdown = conversation_markdown([answer])
    assert "## 1. What is tantivy?" in markdown and "[1] notes.txt, p. 1" in markdown


def test_a_knowledge_bases_answer_language_is_asked_for_and_the_questions_otherwise(chat, fake_llm):
    fake_llm.reply("Tantivy est écrit en Rust [1].")
    list(chat.ask("What language is tantivy written in?", options=ChatOptions(language="French")))
    fake_llm.reply("Tantivy is written in Rust [1].")
    list(chat.ask("What language is tantivy written in?"))
    first, second = (request["messages"][0]["content"] for request in fake_llm.requests)
    assert "- Answer in French, whatever the language of the question." in first
    assert "- Answer in the language of the question." not in first
    assert "- Answer in the language of the question." in second
    assert "French" not in second
