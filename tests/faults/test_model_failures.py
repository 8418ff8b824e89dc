"""Every way the chat model fails, through the real langchain-openai client and a fake server.

Each failure must end, within a time computed from the settings, in an incomplete answer
that keeps what arrived and says what happened and what to check; retries are bounded and
never re-send once text has arrived; no key appears anywhere; the next question works.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

import pytest

from rag.chat.flow import ChatEngine, chat_over_library
from rag.chat.prompts import ANSWER_SYSTEM
from rag.chat.trace import AnswerTrace
from rag.config import load_settings
from rag.errors import (
    LLMAuthenticationError,
    LLMContentFilterError,
    LLMContextLengthError,
    LLMError,
    LLMRateLimitError,
    LLMStreamError,
    LLMTimeoutError,
    LLMTruncatedError,
)
from rag.providers.chat_model import GenerationOptions, RetryPolicy, make_chat_model
from tests.support.fake_llm import FakeLLM
from tests.support.helpers import free_port

SENTINEL = "sk-test-SENTINEL"
SYSTEM_PROMPT_START = ANSWER_SYSTEM[:40]
NOTES = b"Tantivy is a full-text search engine library written in Rust."
TIMEOUT_S = 1.0
RETRIES = 2
# Query embedding, retrieval and a busy shared machine, on top of the modelled time.
SLACK_S = 3.0
REPLY = "Tantivy is written in Rust [1]."
PARTIAL = "Tantivy is written"  # the first three pieces of REPLY


@dataclass(frozen=True)
class Case:
    """One way to fail: the server's mode, what the user must be told, what it may cost."""

    mode: str
    error: type[LLMError]
    says: tuple[str, ...]
    requests: int  # what the fake server must receive, retries included
    timeouts: int = 0  # tries that each wait out the whole timeout
    retry_after: str | None = None
    kept: str = ""  # the text that must survive


POLICY = RetryPolicy(RETRIES)
CASES = {
    "timeout": Case(
        "slow",
        LLMTimeoutError,
        ("did not answer within 1 s", "tried 3 times", "RAG_CHAT_TIMEOUT_S"),
        1 + RETRIES,
        timeouts=1 + RETRIES,
    ),
    "401": Case("unauthorized", LLMAuthenticationError, ("HTTP 401", "OPENAI_API_KEY"), 1),
    "429": Case(
        "rate_limit",
        LLMRateLimitError,
        ("HTTP 429", "tried 3 times", "Wait a minute", "rate limits of your plan"),
        1 + RETRIES,
    ),
    "429 Retry-After 1": Case(
        "rate_limit",
        LLMRateLimitError,
        ("HTTP 429", "asks to wait 1 s"),
        1 + RETRIES,
        retry_after="1",
    ),
    "429 Retry-After an hour": Case(
        "rate_limit",
        LLMRateLimitError,
        ("HTTP 429", "tried once", "asks to wait 3600 s"),
        1,
        retry_after="3600",
    ),
    "429 quota": Case("quota", LLMRateLimitError, ("no quota left", "billing"), 1),
    "500": Case("error", LLMError, ("HTTP 500", "tried 3 times", "Try again"), 1 + RETRIES),
    "context length": Case(
        "context_length",
        LLMContextLengthError,
        ("context length exceeded", "RAG_CONTEXT_TOKENS (now 6000)", "Top k", "new chat"),
        1,
    ),
    "content filter (HTTP 400)": Case(
        "content_filter_400",
        LLMContentFilterError,
        ("content filter refused the request", "Rephrase"),
        1,
    ),
    "content filter (stream)": Case(
        "content_filter",
        LLMContentFilterError,
        ("content filter stopped the answer", "Rephrase"),
        1,
        kept=PARTIAL,
    ),
    "stream breaks midway": Case(
        "break", LLMStreamError, ("broke in the middle of its answer", "Ask again"), 1, kept=PARTIAL
    ),
    "stream closes without [DONE]": Case(
        "cut", LLMStreamError, ("broke in the middle of its answer",), 1, kept=PARTIAL
    ),
    "stream stalls midway": Case(
        "stall",
        LLMStreamError,
        ("stopped sending for more than 1 s", "RAG_CHAT_TIMEOUT_S"),
        1,
        timeouts=1,
        kept=PARTIAL,
    ),
    "error event midway": Case(
        "error_event", LLMError, ("reported an error in the middle of its answer",), 1, kept=PARTIAL
    ),
    "answer over its token limit": Case(
        "length",
        LLMTruncatedError,
        ("limit of 800 tokens", "Maximum answer tokens"),
        1,
        kept=PARTIAL,
    ),
}


def modelled_s(case: Case) -> float:
    """What the case should take, from the settings: timeouts plus the waits between tries."""
    retry_after = float(case.retry_after) if case.retry_after else None
    waits = [POLICY.wait_s(n, retry_after) for n in range(1, case.requests)]
    return case.timeouts * TIMEOUT_S + sum(w for w in waits if w is not None)


def chat_settings(base_url: str, **env: str):
    return load_settings(
        {
            "RAG_CHAT_MODEL": "fake-model",
            "OPENAI_BASE_URL": base_url,
            "OPENAI_API_KEY": SENTINEL,
            "RAG_CHAT_TIMEOUT_S": str(TIMEOUT_S),
            "RAG_CHAT_MAX_RETRIES": str(RETRIES),
            **env,
        },
        env_file=None,
    )


@pytest.fixture
def fake_llm(fake_llm: FakeLLM) -> FakeLLM:
    """The shared fake server, slow enough past the client's timeout to trip it."""
    fake_llm.slow_s = 5 * TIMEOUT_S
    return fake_llm


@pytest.fixture
def chat(library, retriever, ingestor, fake_llm, monkeypatch) -> ChatEngine:
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL)
    assert ingestor.ingest_bytes("notes.txt", NOTES).ok
    return chat_over_library(library, retriever, chat_settings(fake_llm.base_url))


def assert_no_key(answer, caplog) -> None:
    """Neither the key nor the system prompt shows in the answer, its trace or the log."""
    exported = json.dumps(answer.as_dict(), default=str)
    for text in (answer.text, answer.error or "", exported, caplog.text):
        assert "SENTINEL" not in text
    assert SYSTEM_PROMPT_START not in (answer.error or "") + caplog.text


@pytest.mark.parametrize("name", list(CASES))
def test_failure_is_told_clearly_fast_and_the_next_question_works(name, chat, fake_llm, caplog):
    case = CASES[name]
    caplog.set_level(logging.DEBUG)
    fake_llm.reply(REPLY)
    fake_llm.fail(case.mode, times=case.requests, retry_after=case.retry_after)
    started = time.perf_counter()
    answer = chat.ask("What is tantivy written in?").answer
    elapsed = time.perf_counter() - started

    assert answer.incomplete and answer.text == case.kept
    for phrase in case.says:
        assert phrase in answer.error
    assert len(fake_llm.requests) == case.requests
    assert elapsed < modelled_s(case) + SLACK_S
    assert modelled_s(case) <= POLICY.longest_s(TIMEOUT_S)
    assert answer.chunks  # what was retrieved is still there to inspect
    assert fake_llm.headers[0]["authorization"] == f"Bearer {SENTINEL}"  # it was sent...
    assert_no_key(answer, caplog)  # ...and never shown or logged

    fake_llm.reply("It is Rust [1].")
    after = chat.ask("What is tantivy written in?").answer
    assert not after.incomplete and after.text == "It is Rust [1]."


def test_retries_wait_as_the_server_asks(chat, fake_llm):
    fake_llm.fail("rate_limit", times=RETRIES + 1, retry_after="1")
    started = time.perf_counter()
    answer = chat.ask("What is tantivy?").answer
    assert time.perf_counter() - started >= RETRIES * 1.0
    assert answer.incomplete and isinstance(answer.error, str)


def test_a_failure_that_clears_is_retried_into_a_complete_answer(chat, fake_llm):
    fake_llm.reply("(used up by the refused request)", REPLY)
    fake_llm.fail("rate_limit", times=1, retry_after="0.2")
    answer = chat.ask("What is tantivy?").answer
    assert not answer.incomplete and answer.text == REPLY
    assert len(fake_llm.requests) == 2
    assert answer.step(AnswerTrace).requests_sent == 2


def test_a_broken_stream_is_never_sent_again(chat, fake_llm):
    fake_llm.reply(REPLY, REPLY)
    fake_llm.fail("break", times=5)  # it would break on every retry too
    deltas = list(stream := chat.ask("What is tantivy?"))
    assert "".join(deltas) == stream.answer.text == PARTIAL  # no repeated text
    assert len(fake_llm.requests) == 1


def test_unreachable_server_is_retried_then_told(library, retriever, ingestor, caplog):
    caplog.set_level(logging.DEBUG)
    assert ingestor.ingest_bytes("notes.txt", NOTES).ok
    settings = chat_settings(f"http://127.0.0.1:{free_port()}/v1")
    started = time.perf_counter()
    answer = chat_over_library(library, retriever, settings).ask("What is tantivy?").answer
    elapsed = time.perf_counter() - started
    assert answer.incomplete and "Could not reach the chat model at http://127.0.0.1:" in (
        answer.error
    )
    assert "tried 3 times" in answer.error
    assert elapsed < sum(POLICY.wait_s(n) for n in range(1, RETRIES + 1)) + SLACK_S
    assert_no_key(answer, caplog)


def test_a_failed_follow_up_does_not_ask_the_model_twice(chat, fake_llm, caplog):
    fake_llm.reply("Tantivy is written in Rust [1].")
    first = chat.ask("What is tantivy?").answer
    fake_llm.fail("unauthorized")
    second = chat.ask("And who wrote it?", [first]).answer
    assert len(fake_llm.requests) == 2  # the first answer, then the condense step only
    assert second.incomplete and "HTTP 401" in second.error
    assert second.chunks and second.query == "And who wrote it?"
    assert_no_key(second, caplog)


def test_a_failed_turn_without_text_is_left_out_of_the_history(chat, fake_llm):
    fake_llm.fail("error", times=1 + RETRIES)
    failed = chat.ask("What is tantivy?").answer
    assert failed.incomplete and not failed.text
    fake_llm.reply("Rust [1].")
    assert not chat.ask("What is tantivy written in?", [failed]).answer.incomplete
    roles = [m["role"] for m in fake_llm.requests[-1]["messages"]]
    assert roles == ["system", "user"]  # no condense step, no empty turn


def test_the_answer_token_limit_is_enforced_whatever_the_ui_asks(chat, fake_llm):
    options = GenerationOptions(max_tokens=1_000_000)
    settings = chat_settings(fake_llm.base_url, RAG_MAX_ANSWER_TOKENS="1000")
    model = make_chat_model(settings, options)
    assert model.complete([("user", "hi")])
    request = fake_llm.requests[-1]
    assert request.get("max_completion_tokens", request.get("max_tokens")) == 1000


def test_azure_content_filter_and_key_through_the_azure_client(library, retriever, ingestor):
    assert ingestor.ingest_bytes("notes.txt", NOTES).ok
    with FakeLLM() as fake:
        settings = load_settings(
            {
                "AZURE_OPENAI_ENDPOINT": fake.endpoint,
                "AZURE_OPENAI_DEPLOYMENT": "gpt4o",
                "AZURE_OPENAI_API_KEY": SENTINEL,
                "RAG_CHAT_MAX_RETRIES": str(RETRIES),
                "RAG_CHAT_TIMEOUT_S": str(TIMEOUT_S),
            },
            env_file=None,
        )
        chat = chat_over_library(library, retriever, settings)
        fake.fail("content_filter_400", times=1)
        filtered = chat.ask("What is tantivy?").answer
        fake.fail("unauthorized", times=1)
        refused = chat.ask("What is tantivy?").answer
        fake.reply("Rust [1].")
        fine = chat.ask("What is tantivy?").answer
        assert len(fake.requests) == 3
        assert fake.headers[0]["api-key"] == SENTINEL
    assert "content filter refused the request" in filtered.error
    assert "HTTP 401" in refused.error and "AZURE_OPENAI_API_KEY" in refused.error
    assert SENTINEL not in refused.error
    assert fine.text == "Rust [1]." and not fine.incomplete


def test_retry_policy_waits_grow_are_capped_and_honour_the_server():
    policy = RetryPolicy(3, first_wait_s=0.5, max_wait_s=10)
    assert [policy.wait_s(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, None]
    assert policy.wait_s(1, retry_after=7) == 7
    assert policy.wait_s(1, retry_after=11) is None  # the user is told to wait instead
    assert RetryPolicy(0).wait_s(1) is None
    assert policy.longest_s(2.0) == 4 * 2.0 + 3 * 10
