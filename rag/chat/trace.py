"""The trace of one answer: a typed step per stage, shown on the page and exported.

Each step keeps its numbers as fields; `labelled()` gives them the labels people read (the
same labels the JSON and Markdown exports carry).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import ClassVar

from rag.answers import TraceStep, label
from rag.results import SearchOptions, SearchResult, SearchTimings


def ms_since(started: float) -> float:
    """Milliseconds since `started` (a `time.perf_counter()` reading), to 0.01 ms."""
    return round((time.perf_counter() - started) * 1000, 2)


@dataclass(frozen=True)
class CondenseTrace(TraceStep):
    """The standalone query a follow-up was rewritten to, or why it was not rewritten.

    `skipped` says why the model was not asked (no model, or a first question); `error` is
    the model's failure, in which case the question itself is the query.
    """

    title: ClassVar[str] = "Standalone query"

    question: str
    query: str
    rewritten: bool = False
    skipped: str | None = None
    error: str | None = None
    ms: float | None = None

    def labelled(self) -> dict[str, object]:
        """The query and whether it was rewritten; the error instead of the query if any."""
        if self.skipped is not None:
            return {"query": self.query, "rewritten": self.skipped}
        outcome = {"error": self.error} if self.error is not None else {"query": self.query}
        return {"question": self.question, **outcome, "rewritten": self.rewritten}


@dataclass(frozen=True)
class SearchTrace(TraceStep):
    """The query searched, every search setting, how many chunks came back and how fast.

    `reranker` names the reranker that was asked to reorder the chunks; `notice` says why
    the chunks are not reranked when reranking was asked for.
    """

    title: ClassVar[str] = "Search"

    query: str
    options: SearchOptions
    chunks_found: int
    timings: SearchTimings
    reranker: str | None = None
    notice: str | None = None

    @classmethod
    def of(cls, result: SearchResult, options: SearchOptions) -> SearchTrace:
        """The step of a search that returned `result`."""
        return cls(
            result.query,
            options,
            len(result.chunks),
            result.timings,
            result.reranker,
            result.notice,
        )

    @property
    def ms(self) -> float:
        """The wall time of the whole search."""
        return self.timings.total_ms

    def labelled(self) -> dict[str, object]:
        """The settings by their sidebar names, then the number of chunks found."""
        options = self.options
        return {
            "query": self.query,
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
            "rerank": self._rerank_label(),
            "chunks found": self.chunks_found,
            **({"notice": self.notice} if self.notice else {}),
        }

    def _rerank_label(self) -> str:
        """Which reranker reordered how many candidates, "failed" (the notice says why) or
        "off"."""
        if not self.options.rerank or self.reranker is None:
            return "off"
        if self.notice:
            return f"{self.reranker}: failed, the order before reranking kept"
        return f"{self.reranker}, {self.options.rerank_candidates} candidates"


@dataclass(frozen=True)
class PromptTrace(TraceStep):
    """What the prompt holds against its token budget, and what did not fit.

    Sources are chunk ids in the order the model sees them, so the first is source [1].
    """

    title: ClassVar[str] = "Prompt"

    budget: int = label("token budget")
    prompt_tokens: int = label("prompt tokens (cl100k estimate)")
    sources_given: tuple[str, ...] = label("sources given")
    sources_dropped: tuple[str, ...] = label("sources dropped (over budget)")
    history_kept: int = label("history messages kept")
    history_dropped: int = label("history messages dropped (over budget)")

    def labelled(self) -> dict[str, object]:
        """The budget and counts; each source given with the [n] the model cites it by."""
        numbered = enumerate(self.sources_given, start=1)
        given = {"sources given": [f"[{n}] {chunk_id}" for n, chunk_id in numbered]}
        return {**super().labelled(), **given}


@dataclass(frozen=True)
class AnswerTrace(TraceStep):
    """The model's side: which model, tokens each way, first token, requests, error."""

    title: ClassVar[str] = "Answer"

    model: str = label("model")
    prompt_tokens: int | None = label("prompt tokens (server)")
    answer_tokens: int = label("answer tokens")
    first_token_ms: float | None = label("first token ms")
    requests_sent: int = label("requests sent")
    error: str | None = label("error")
    ms: float | None = None


@dataclass(frozen=True)
class TimingsTrace(TraceStep):
    """Where the time of the whole answer went, stage by stage."""

    title: ClassVar[str] = "Timings"

    condense_ms: float | None = label("condense ms")
    embed_ms: float | None = label("query embedding ms")
    vector_ms: float | None = label("vector search ms")
    bm25_ms: float | None = label("BM25 ms")
    fusion_ms: float | None = label("fusion ms")
    # Keyword-only with a default, so steps built without reranking need not name it.
    rerank_ms: float | None = field(default=None, kw_only=True, metadata={"label": "rerank ms"})
    first_token_ms: float | None = label("first token ms (after prompt sent)")
    total_ms: float = label("total ms")

    @property
    def ms(self) -> float:
        """The whole answer, from the question to the last token."""
        return self.total_ms
