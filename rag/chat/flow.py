"""The chat flow: condense a follow-up, retrieve, fit the prompt, stream, check citations.

`ChatEngine.ask` runs the fast stages (condense and retrieval) at once and returns an
`AnswerStream`: iterate it for the answer's text as it arrives, then read `.answer` for the
final `Answer` with its sources, citations and trace. Model errors never escape: the answer
keeps what arrived, is marked incomplete and carries the error's message. A question over
the limits (its length, or the session's questions) is refused before anything is searched
or sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from rag.answers import Answer, AnswerKind, TraceStep, answer_markdown
from rag.chat.context import FittedContext, count_tokens, fit_context
from rag.chat.extractive import EXTRACTIVE_NOTICE, extractive_answer
from rag.chat.limits import QuestionLimiter, check_question
from rag.chat.prompts import (
    ANSWER_SYSTEM,
    CONDENSE_SYSTEM,
    CONDENSE_USER,
    NO_SOURCES_ANSWER,
    format_history,
    format_source,
    format_sources,
)
from rag.citations import check_citations
from rag.config import Settings
from rag.errors import LLMError
from rag.providers.chat_model import (
    ChatModel,
    GenerationOptions,
    Message,
    clamp_options,
    make_chat_model,
)
from rag.results import SearchOptions, SearchResult
from rag.search.explain import low_score_warning, why_nothing_found
from rag.search.retriever import Retriever
from rag.stores.library import Library

HOW_TO_CONFIGURE = (
    "To get written answers, set RAG_CHAT_MODEL (and OPENAI_BASE_URL for Ollama, vLLM or"
    " LM Studio), or OPENAI_API_KEY, or AZURE_OPENAI_ENDPOINT with AZURE_OPENAI_DEPLOYMENT."
)
# Earlier messages the condense step sees; older ones rarely change what "it" refers to.
CONDENSE_MESSAGES = 6

ModelFactory = Callable[[Settings, GenerationOptions], ChatModel]


@dataclass(frozen=True)
class ChatOptions:
    """Retrieval and generation choices for one question."""

    search: SearchOptions = field(default_factory=SearchOptions)
    generation: GenerationOptions = field(default_factory=GenerationOptions)


class ChatEngine:
    """Answers questions over a library; holds no per-conversation state."""

    def __init__(
        self,
        library: Library,
        retriever: Retriever,
        settings: Settings,
        model_factory: ModelFactory = make_chat_model,
    ) -> None:
        self._library = library
        self._retriever = retriever
        self._settings = settings
        self._model_factory = model_factory

    @property
    def llm_configured(self) -> bool:
        """True when answers are generated; False means retrieval-only answers."""
        return self._settings.llm_configured

    def ask(
        self,
        question: str,
        history: Sequence[Answer] = (),
        options: ChatOptions | None = None,
        limiter: QuestionLimiter | None = None,
    ) -> AnswerStream:
        """Condense and retrieve now; the returned stream generates the answer.

        Raises QuestionTooLongError or QuestionLimitError (from `limiter`) before any search.
        """
        check_question(question, self._settings)
        if limiter is not None:
            limiter.admit()
        options = options or ChatOptions()
        started = time.perf_counter()
        model = self._model(options.generation)
        messages = _history_messages(history)
        query, condense_step, condense_error = self._condense(model, question, messages)
        result = self._retriever.search(query, options.search)
        search_step = _search_step(result, options.search)
        draft = Answer(
            question=question,
            query=query,
            text="",
            kind=AnswerKind.GENERATED,
            chunks=result.chunks,
            trace=(condense_step, search_step),
            warning=low_score_warning(result.chunks),
            model=model.name if model else None,
        )
        if not result.chunks:
            reason = why_nothing_found(self._library, self._retriever, query, options.search)
            return AnswerStream.fixed(
                replace(draft, text=NO_SOURCES_ANSWER, kind=AnswerKind.NOTHING_FOUND, notice=reason)
            )
        if condense_error is not None:
            # The model just failed: asking it again would double the wait (and the requests).
            return AnswerStream.fixed(replace(draft, incomplete=True, error=condense_error))
        if model is None:
            sources = result.chunks
            text = extractive_answer(query, sources)
            return AnswerStream.fixed(
                replace(
                    draft,
                    text=text,
                    kind=AnswerKind.EXTRACTIVE,
                    sources=sources,
                    citations=check_citations(text, sources),
                    notice=f"{EXTRACTIVE_NOTICE} {HOW_TO_CONFIGURE}",
                )
            )
        return AnswerStream(
            lambda finish: self._generate(model, draft, messages, result, started, finish)
        )

    def _model(self, options: GenerationOptions) -> ChatModel | None:
        if not self._settings.llm_configured:
            return None
        return self._model_factory(self._settings, clamp_options(self._settings, options))

    def _condense(
        self, model: ChatModel | None, question: str, history: list[Message]
    ) -> tuple[str, TraceStep, str | None]:
        """The standalone query, its trace step, and the model's error if it failed."""
        if model is None or not history:
            why = "no language model configured" if model is None else "first question"
            step = TraceStep("Standalone query", {"query": question, "rewritten": why})
            return question, step, None
        started = time.perf_counter()
        prompt = CONDENSE_USER.format(
            history=format_history(history[-CONDENSE_MESSAGES:]), question=question
        )
        error: str | None = None
        try:
            query = _clean_query(model.complete([("system", CONDENSE_SYSTEM), ("user", prompt)]))
            detail: dict[str, object] = {"question": question, "query": query or question}
        except LLMError as exc:
            query, error = "", str(exc)
            detail = {"question": question, "error": error}
        detail["rewritten"] = bool(query) and query != question
        step = TraceStep("Standalone query", detail, _ms_since(started))
        return query or question, step, error

    def _generate(
        self,
        model: ChatModel,
        draft: Answer,
        history: list[Message],
        result: SearchResult,
        started: float,
        finish: Callable[[Answer], None],
    ) -> Iterator[str]:
        fitted = fit_context(
            ANSWER_SYSTEM.format(sources="") + draft.question,
            [(chunk, format_source(chunk.rank, chunk)) for chunk in result.chunks],
            history,
            self._settings.context_tokens,
        )
        messages = [
            ("system", ANSWER_SYSTEM.format(sources=format_sources(fitted.sources))),
            *fitted.history,
            ("user", draft.question),
        ]
        parts: list[str] = []
        error: str | None = None
        first_token_ms: float | None = None
        generation_started = time.perf_counter()
        try:
            for delta in model.stream(messages):
                if first_token_ms is None:
                    first_token_ms = _ms_since(generation_started)
                parts.append(delta)
                yield delta
        except LLMError as exc:
            error = str(exc)
        text = "".join(parts)
        answer_step = _answer_step(model, text, error, first_token_ms, generation_started)
        timings = _timings_step(draft, result, first_token_ms, started)
        finish(
            replace(
                draft,
                text=text,
                sources=fitted.sources,
                citations=check_citations(text, fitted.sources),
                trace=(*draft.trace, _prompt_step(fitted), answer_step, timings),
                incomplete=error is not None,
                error=error,
            )
        )


class AnswerStream:
    """Iterate for the text as it arrives; then `.answer` is the final Answer."""

    def __init__(
        self,
        produce: Callable[[Callable[[Answer], None]], Iterator[str]],
        kind: AnswerKind = AnswerKind.GENERATED,
    ) -> None:
        self.kind = kind
        self._answer: Answer | None = None
        self._deltas = produce(self._finish)

    @classmethod
    def fixed(cls, answer: Answer) -> AnswerStream:
        """A stream of an answer that is already complete (no model involved)."""

        def produce(finish: Callable[[Answer], None]) -> Iterator[str]:
            finish(answer)
            return iter([answer.text] if answer.text else [])

        return cls(produce, answer.kind)

    def _finish(self, answer: Answer) -> None:
        self._answer = answer

    def __iter__(self) -> Iterator[str]:
        return self._deltas

    def markdown(self, text_so_far: str) -> str:
        """What has arrived so far, safe to render as Markdown."""
        return answer_markdown(text_so_far, self.kind)

    @property
    def answer(self) -> Answer:
        """The final answer; finishes the stream first if it was not read to the end."""
        for _ in self._deltas:
            pass
        if self._answer is None:
            raise RuntimeError("the answer stream ended without an answer")
        return self._answer


def _history_messages(history: Sequence[Answer]) -> list[Message]:
    messages: list[Message] = []
    for answer in history:
        if answer.text:  # a turn that failed before any text adds nothing to go on
            messages += [("user", answer.question), ("assistant", answer.text)]
    return messages


def _clean_query(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0].strip("\"'“”«» ") if lines else ""


def _prompt_step(fitted: FittedContext) -> TraceStep:
    numbered = enumerate(fitted.sources, start=1)
    return TraceStep(
        "Prompt",
        {
            "token budget": fitted.budget,
            "prompt tokens (cl100k estimate)": fitted.prompt_tokens,
            "sources given": [f"[{n}] {chunk.chunk_id}" for n, chunk in numbered],
            "sources dropped (over budget)": [c.chunk_id for c in fitted.dropped_sources],
            "history messages kept": len(fitted.history),
            "history messages dropped (over budget)": fitted.dropped_messages,
        },
    )


def _answer_step(
    model: ChatModel, text: str, error: str | None, first_token_ms: float | None, started: float
) -> TraceStep:
    usage = model.last_usage
    detail = {
        "model": model.name,
        "prompt tokens (server)": usage.prompt,
        "answer tokens": usage.completion if usage.completion is not None else count_tokens(text),
        "first token ms": first_token_ms,
        "requests sent": model.last_tries,
        "error": error,
    }
    return TraceStep("Answer", detail, _ms_since(started))


def _search_step(result: SearchResult, options: SearchOptions) -> TraceStep:
    detail = {
        "query": result.query,
        "mode": options.mode.value,
        "top k": options.k,
        "weights (vector, BM25)": [options.vector_weight, options.bm25_weight],
        "fusion": options.fusion.value,
        "vector index": options.vector_index.value,
        "RRF k": options.rrf_k,
        "minimum scores (vector, BM25, fused)": [
            options.min_vector,
            options.min_bm25,
            options.min_fused,
        ],
        "restricted to documents": list(options.doc_ids),
        "chunks found": len(result.chunks),
    }
    return TraceStep("Search", detail, result.timings.total_ms)


def _timings_step(
    draft: Answer, result: SearchResult, first_token_ms: float | None, started: float
) -> TraceStep:
    timings = {
        "condense ms": draft.trace[0].ms,
        "query embedding ms": result.timings.embed_ms,
        "vector search ms": result.timings.vector_ms,
        "BM25 ms": result.timings.bm25_ms,
        "fusion ms": result.timings.fusion_ms,
        "first token ms (after prompt sent)": first_token_ms,
        "total ms": _ms_since(started),
    }
    return TraceStep("Timings", timings, timings["total ms"])


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
