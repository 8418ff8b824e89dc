"""The stages of answering before the model writes: admit, condense, retrieve, short answers,
and fitting the prompt. Each returns its value and, where the stage does work worth showing,
its trace step.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from rag.answers import Answer, AnswerKind, Message, TraceStep
from rag.chat.claims import quoted
from rag.chat.context import FittedContext, fit_context
from rag.chat.extractive import extractive_answer
from rag.chat.limits import QuestionLimiter, check_question
from rag.chat.prompts import (
    CONDENSE_SYSTEM,
    CONDENSE_USER,
    NO_SOURCES_ANSWER,
    answer_system,
    format_history,
    format_source,
    format_sources,
)
from rag.chat.trace import CondenseTrace, PromptTrace, SearchTrace, ms_since
from rag.citations import check_citations
from rag.config import Settings
from rag.errors import LLMError
from rag.providers.chat_model import ChatModel
from rag.results import ScoredChunk, SearchOptions, SearchResult
from rag.search.explain import low_score_warning

# Earlier messages the condense step sees; older ones rarely change what "it" refers to.
CONDENSE_MESSAGES = 6


class Searcher(Protocol):
    """Finds the chunks for a query, as the retriever does."""

    def search(self, query: str, options: SearchOptions) -> SearchResult:
        """The chunks found for `query`, ranked, with every score and the timings."""
        ...


@dataclass(frozen=True)
class Prompt:
    """The messages sent to the model, and how the sources and history were fitted."""

    messages: tuple[Message, ...]
    fitted: FittedContext

    @property
    def sources(self) -> tuple[ScoredChunk, ...]:
        """The chunks given to the model, numbered from [1] in this order."""
        return self.fitted.sources


def admit(question: str, settings: Settings, limiter: QuestionLimiter | None) -> None:
    """Refuse a question over the length limit, then count it against the session's limits.

    Raises QuestionTooLongError or QuestionLimitError before anything is searched or sent.
    """
    check_question(question, settings)
    if limiter is not None:
        limiter.admit()


def history_messages(history: Sequence[Answer]) -> list[Message]:
    """Earlier turns as user/assistant messages; a turn that failed before any text adds
    nothing to go on, so it is left out."""
    messages: list[Message] = []
    for answer in history:
        if answer.text:
            messages += [("user", answer.question), ("assistant", answer.text)]
    return messages


def condense(
    model: ChatModel | None, question: str, history: Sequence[Message]
) -> tuple[str, CondenseTrace]:
    """The standalone query for a follow-up (the question itself for a first question, or
    without a model), and its step; a model error is kept in the step."""
    if model is None or not history:
        why = "no language model configured" if model is None else "first question"
        return question, CondenseTrace(question, question, skipped=why)
    started = time.perf_counter()
    prompt = CONDENSE_USER.format(
        history=format_history(history[-CONDENSE_MESSAGES:]), question=question
    )
    try:
        reply = model.complete([("system", CONDENSE_SYSTEM), ("user", prompt)])
    except LLMError as exc:
        return question, CondenseTrace(question, question, error=str(exc), ms=ms_since(started))
    query = _clean_query(reply) or question
    return query, CondenseTrace(question, query, query != question, ms=ms_since(started))


def retrieve(
    searcher: Searcher, query: str, options: SearchOptions
) -> tuple[SearchResult, SearchTrace]:
    """The chunks found for `query`, and the step with every setting and timing."""
    result = searcher.search(query, options)
    return result, SearchTrace.of(result, options)


def draft_answer(
    question: str,
    query: str,
    result: SearchResult,
    trace: tuple[TraceStep, ...],
    model: ChatModel | None,
) -> Answer:
    """The answer before any text: what was retrieved, the trace so far, the model's name."""
    return Answer(
        question=question,
        query=query,
        text="",
        kind=AnswerKind.GENERATED,
        chunks=result.chunks,
        trace=trace,
        warning=" ".join(filter(None, (result.notice, low_score_warning(result.chunks)))) or None,
        model=model.name if model else None,
    )


def nothing_found(draft: Answer, reason: str) -> Answer:
    """The fixed answer for an empty search, with the likely reason as its notice."""
    return replace(draft, text=NO_SOURCES_ANSWER, kind=AnswerKind.NOTHING_FOUND, notice=reason)


def condense_failed(draft: Answer, error: str) -> Answer:
    """An incomplete answer: the model just failed, and asking it again would double the
    wait (and the requests)."""
    return replace(draft, incomplete=True, error=error)


def extractive(draft: Answer, notice: str) -> Answer:
    """The retrieval-only answer: the best sentences of the top chunks, quoted and cited
    (each with the verdict "quote")."""
    text = extractive_answer(draft.query, draft.chunks)
    return replace(
        draft,
        text=text,
        kind=AnswerKind.EXTRACTIVE,
        sources=draft.chunks,
        citations=check_citations(text, draft.chunks),
        sentences=quoted(text, draft.chunks),
        notice=notice,
    )


def fit_prompt(
    draft: Answer, history: Sequence[Message], budget: int, language: str | None = None
) -> tuple[Prompt, PromptTrace]:
    """The answer prompt: the top sources and newest history that fit `budget` tokens;
    the answer in `language` when given, else in the question's."""
    fitted = fit_context(
        answer_system("", language) + draft.question,
        [(chunk, format_source(chunk.rank, chunk)) for chunk in draft.chunks],
        history,
        budget,
    )
    messages = (
        ("system", answer_system(format_sources(fitted.sources), language)),
        *fitted.history,
        ("user", draft.question),
    )
    return Prompt(messages, fitted), _prompt_trace(fitted)


def _prompt_trace(fitted: FittedContext) -> PromptTrace:
    return PromptTrace(
        budget=fitted.budget,
        prompt_tokens=fitted.prompt_tokens,
        sources_given=tuple(chunk.chunk_id for chunk in fitted.sources),
        sources_dropped=tuple(chunk.chunk_id for chunk in fitted.dropped_sources),
        history_kept=len(fitted.history),
        history_dropped=fitted.dropped_messages,
    )


def _clean_query(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0].strip("\"'“”«» ") if lines else ""
