"""The chat flow stage by stage, with a hand-made retriever and a queued chat model."""

from __future__ import annotations

import time

import pytest

from rag.answers import AnswerKind
from rag.chat.claims import ClaimsTrace
from rag.chat.flow import HOW_TO_CONFIGURE, NOTHING_MATCHED, ChatEngine, ChatOptions
from rag.chat.limits import QuestionLimiter
from rag.chat.stages import condense, draft_answer, fit_prompt, retrieve
from rag.chat.stream import AnswerStream, replay, write_answer
from rag.chat.trace import AnswerTrace, CondenseTrace, PromptTrace, SearchTrace, TimingsTrace
from rag.config import load_settings
from rag.errors import LLMStreamError, LLMTimeoutError, QuestionLimitError, QuestionTooLongError
from rag.providers.chat_model import TokenUsage
from rag.results import (
    VECTOR_SCORE,
    Score,
    ScoredChunk,
    SearchMode,
    SearchOptions,
    SearchResult,
    SearchTimings,
)
from tests.fakes import QueuedChatModel

TIMINGS = SearchTimings(embed_ms=1.5, vector_ms=2.5, bm25_ms=3.5, fusion_ms=0.5, total_ms=7.0)
TEXTS = (
    "Tantivy is a full-text search engine library written in Rust.",
    "Chroma is a vector database that stores embeddings.",
)
QUESTION = "What is tantivy written in?"
REPLY = "Tantivy is written in Rust [1]."


def chunk(rank: int, text: str) -> ScoredChunk:
    score = Score(VECTOR_SCORE, 0.9 - rank / 10, rank)
    return ScoredChunk(
        rank, f"notes-{rank:05d}", "notes", "notes.txt", 1, 1, text, score, None, None
    )


class HandMadeRetriever:
    """Returns the same chunks for every query (none when empty) and records the queries."""

    def __init__(self, texts: tuple[str, ...] = TEXTS) -> None:
        self.chunks = tuple(chunk(rank, text) for rank, text in enumerate(texts, start=1))
        self.queries: list[str] = []

    def search(self, query: str, options: SearchOptions) -> SearchResult:
        self.queries.append(query)
        return SearchResult(query, options.mode, self.chunks[: options.k], TIMINGS)


def settings(model: bool = True, **env):
    if model:
        env |= {"RAG_CHAT_MODEL": "queued-model", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    return load_settings(env, env_file=None)


def no_model(*_):
    raise AssertionError("no chat model may be built when none is configured")


@pytest.fixture
def retriever() -> HandMadeRetriever:
    return HandMadeRetriever()


@pytest.fixture
def model() -> QueuedChatModel:
    return QueuedChatModel(usage=TokenUsage(prompt=120, completion=None))


@pytest.fixture
def chat(retriever, model) -> ChatEngine:
    return ChatEngine(retriever, settings(), lambda _settings, _options: model)


def test_a_first_question_runs_every_stage_and_traces_each(chat, model, retriever):
    model.reply(REPLY)
    answer = chat.ask(QUESTION).answer
    kinds = [type(step) for step in answer.trace]
    assert kinds == [
        CondenseTrace, SearchTrace, PromptTrace, AnswerTrace, TimingsTrace, ClaimsTrace
    ]  # fmt: skip
    assert answer.kind is AnswerKind.GENERATED and answer.text == REPLY
    assert not answer.incomplete and answer.model == "queued-model"
    assert retriever.queries == [QUESTION]
    assert len(model.calls) == 1  # no condense call for a first question
    condensed = answer.step(CondenseTrace)
    assert condensed.skipped == "first question" and condensed.query == QUESTION
    assert not condensed.rewritten and condensed.ms is None


def test_the_answer_cites_the_sources_it_was_given(chat, model):
    model.reply(REPLY)
    answer = chat.ask(QUESTION).answer
    assert answer.sources == answer.chunks
    [citation] = answer.citations
    assert citation.valid and citation.chunk.rank == 1
    system, user = model.calls[0]
    assert system[0] == "system" and '<source id="2" file="notes.txt"' in system[1]
    assert user == ("user", QUESTION)


def test_the_search_step_carries_the_options_count_and_timings(chat, model):
    model.reply(REPLY)
    options = ChatOptions(SearchOptions(mode=SearchMode.BM25, k=1, min_bm25=0.5))
    searched = chat.ask(QUESTION, options=options).answer.step(SearchTrace)
    assert searched.query == QUESTION and searched.options == options.search
    assert searched.chunks_found == 1
    assert searched.timings == TIMINGS and searched.ms == TIMINGS.total_ms


def test_the_prompt_step_counts_tokens_sources_and_history(chat, model):
    model.reply("First [1].", "tantivy language", REPLY)
    first = chat.ask("What is tantivy?").answer
    prompted = chat.ask("What is it written in?", [first]).answer.step(PromptTrace)
    assert prompted.budget == 6000 and 0 < prompted.prompt_tokens <= prompted.budget
    assert prompted.sources_given == ("notes-00001", "notes-00002")
    assert prompted.sources_dropped == () and prompted.history_dropped == 0
    assert prompted.history_kept == 2


def test_the_answer_step_names_the_model_and_its_usage(chat, model):
    model.reply(REPLY)
    answered = chat.ask(QUESTION).answer.step(AnswerTrace)
    assert answered.model == "queued-model" and answered.requests_sent == 1
    assert answered.prompt_tokens == 120  # as the server counted them
    assert answered.answer_tokens > 0  # counted here: the server did not say
    assert answered.first_token_ms is not None and answered.error is None


def test_timings_take_each_stage_from_its_own_step(chat, model):
    model.reply("First [1].", "tantivy language", REPLY)
    first = chat.ask("What is tantivy?").answer
    answer = chat.ask("What is it written in?", [first]).answer
    timings = answer.step(TimingsTrace)
    assert timings.condense_ms == answer.step(CondenseTrace).ms is not None
    assert (timings.embed_ms, timings.vector_ms, timings.bm25_ms, timings.fusion_ms) == (
        TIMINGS.embed_ms,
        TIMINGS.vector_ms,
        TIMINGS.bm25_ms,
        TIMINGS.fusion_ms,
    )
    assert timings.first_token_ms == answer.step(AnswerTrace).first_token_ms is not None
    assert timings.total_ms >= timings.first_token_ms and timings.ms == timings.total_ms


def test_a_follow_up_is_condensed_and_searched_as_rewritten(chat, model, retriever):
    model.reply("First [1].", '"tantivy implementation language"', REPLY)
    first = chat.ask("What is tantivy?").answer
    second = chat.ask("What is it written in?", [first]).answer
    assert retriever.queries[-1] == second.query == "tantivy implementation language"
    condensed = second.step(CondenseTrace)
    assert condensed.rewritten and condensed.question == "What is it written in?"
    assert condensed.skipped is None and condensed.ms is not None
    condense_call = model.calls[1]
    assert "What is tantivy?" in condense_call[1][1]
    roles = [role for role, _ in model.calls[2]]
    assert roles == ["system", "user", "assistant", "user"]


def test_only_a_turn_with_text_counts_as_history(chat, model):
    model.fail(LLMTimeoutError("no answer"))
    failed = chat.ask("What is tantivy?").answer
    assert failed.incomplete and not failed.text
    model.reply(REPLY)
    assert not chat.ask(QUESTION, [failed]).answer.incomplete
    assert len(model.calls) == 2  # no condense call: the history holds nothing
    assert [role for role, _ in model.calls[1]] == ["system", "user"]


def test_a_model_failing_to_condense_is_not_asked_again(chat, model, retriever):
    model.reply("First [1].").fail(LLMTimeoutError("did not answer within 1 s"))
    first = chat.ask("What is tantivy?").answer
    second = chat.ask("And who wrote it?", [first]).answer
    assert len(model.calls) == 2 and model.pending == 0
    assert second.incomplete and second.error == "did not answer within 1 s"
    assert second.query == "And who wrote it?" == retriever.queries[-1]
    assert second.chunks and not second.text
    condensed = second.step(CondenseTrace)
    assert condensed.error == second.error and not condensed.rewritten


def test_nothing_found_answers_without_the_model(model):
    chat = ChatEngine(HandMadeRetriever(()), settings(), lambda *_: model)
    answer = chat.ask(QUESTION).answer
    assert answer.kind is AnswerKind.NOTHING_FOUND and answer.notice == NOTHING_MATCHED
    assert model.calls == [] and not answer.chunks
    assert [type(step) for step in answer.trace] == [CondenseTrace, SearchTrace]


def test_nothing_found_says_why_as_it_is_told(model):
    def explain(query: str, options: SearchOptions) -> str:
        return f"nothing for {query} in mode {options.mode.value}"

    chat = ChatEngine(HandMadeRetriever(()), settings(), lambda *_: model, explain)
    answer = chat.ask(QUESTION).answer
    assert answer.notice == f"nothing for {QUESTION} in mode hybrid"


def test_without_a_model_the_answer_is_quoted_from_the_sources(retriever):
    chat = ChatEngine(retriever, settings(model=False), no_model)
    assert not chat.llm_configured
    answer = chat.ask("Which language is tantivy written in?").answer
    assert answer.kind is AnswerKind.EXTRACTIVE and answer.model is None
    assert "written in Rust" in answer.text and answer.citations[0].valid
    assert answer.sources == answer.chunks and HOW_TO_CONFIGURE in answer.notice
    assert answer.step(CondenseTrace).skipped == "no language model configured"
    assert [type(step) for step in answer.trace] == [CondenseTrace, SearchTrace]


def test_a_model_error_mid_stream_keeps_the_text_and_marks_it_incomplete(chat, model):
    model.fail(LLMStreamError("the stream broke"), after="Tantivy is written")
    stream = chat.ask(QUESTION)
    deltas = list(stream)
    answer = stream.answer
    assert deltas == ["Tantivy ", "is ", "written"]
    assert answer.text == "Tantivy is written" and answer.incomplete
    assert answer.error == "the stream broke" == answer.step(AnswerTrace).error
    assert answer.step(TimingsTrace) is not None


def test_the_answer_generator_returns_the_final_answer(retriever, model):
    model.reply(REPLY)
    started = time.perf_counter()
    query, condensed = condense(model, QUESTION, [])
    result, searched = retrieve(retriever, query, SearchOptions())
    draft = draft_answer(QUESTION, query, result, (condensed, searched), model)
    prompt, _ = fit_prompt(draft, [], 6000)
    generator = write_answer(model, draft, prompt, (condensed, searched), started)
    deltas = []
    with pytest.raises(StopIteration) as stopped:
        while True:
            deltas.append(next(generator))
    answer = stopped.value.value
    assert "".join(deltas) == answer.text == REPLY
    steps = (answer.step(AnswerTrace), answer.step(TimingsTrace), answer.step(ClaimsTrace))
    assert answer.trace[-3:] == steps


def test_a_finished_answer_replays_as_a_stream(retriever):
    answer = ChatEngine(retriever, settings(model=False), no_model).ask("tantivy").answer
    assert list(replay(answer)) == [answer.text]
    stream = AnswerStream.of(answer)
    assert stream.answer is answer and stream.kind is AnswerKind.EXTRACTIVE


def test_questions_over_the_limits_are_refused_before_any_search(retriever, model):
    chat = ChatEngine(retriever, settings(RAG_MAX_QUESTION_CHARS="100"), lambda *_: model)
    limiter = QuestionLimiter(per_minute=1, total=10)
    with pytest.raises(QuestionTooLongError):
        chat.ask("x" * 101, limiter=limiter)
    assert retriever.queries == [] and limiter.asked == 0
    model.reply(REPLY)
    assert chat.ask(QUESTION, limiter=limiter).answer.text == REPLY
    with pytest.raises(QuestionLimitError):
        chat.ask(QUESTION, limiter=limiter)
    assert retriever.queries == [QUESTION] and len(model.calls) == 1


def test_the_trace_exports_under_the_labels_people_read(chat, model):
    model.reply(REPLY)
    trace = chat.ask(QUESTION).answer.as_dict()["trace"]
    assert [step["title"] for step in trace] == [
        "Standalone query",
        "Search",
        "Prompt",
        "Answer",
        "Timings",
        "Claim check",
    ]
    search, prompt = trace[1]["detail"], trace[2]["detail"]
    assert search["chunks found"] == 2 and search["weights (vector, BM25)"] == [1.0, 1.0]
    assert prompt["sources given"] == ["[1] notes-00001", "[2] notes-00002"]
    assert trace[4]["ms"] == trace[4]["detail"]["total ms"]
