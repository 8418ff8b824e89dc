"""Retrieval quality, measured: BEIR data sets and question files over the user's PDFs.

Both run the app's own retriever over a real collection, once per search mode, and report
standard ranking metrics with the latency of each query.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime

from rag.eval.metrics import (
    first_relevant_rank,
    hit_at_k,
    mean,
    ndcg_at_k,
    percentile,
    recall_at_k,
    reciprocal_rank,
    unique_in_order,
)
from rag.eval.sets import BeirSet, Evidence, QAItem
from rag.results import ScoredChunk, SearchMode, SearchOptions, SearchResult
from rag.search.retriever import Retriever

BEIR_METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
QA_METRICS = ("hit@1", "hit@5", "hit@10", "mrr@10")
# A BEIR document is ranked by its best chunk; fetching this many chunks leaves at least
# 100 distinct documents for recall@100 when documents have up to three chunks.
BEIR_DEPTH = 300
QA_DEPTH = 10
# (queries done, queries in all) for one mode
EvalProgress = Callable[[SearchMode, int, int], None]


@dataclass(frozen=True)
class ModeResult:
    """The metrics of one search mode, averaged over the queries, and its query latency."""

    mode: SearchMode
    metrics: dict[str, float]
    queries: int
    p50_ms: float
    p95_ms: float

    def as_dict(self) -> dict:
        """JSON-friendly form."""
        return {**asdict(self), "mode": self.mode.value}


@dataclass(frozen=True)
class QuestionResult:
    """For one question: the rank of the first chunk on an evidence page, per mode."""

    question: str
    first_hit: dict[str, int | None]


@dataclass(frozen=True)
class EvalReport:
    """One evaluation run: what was measured, with which settings, and the results."""

    kind: str
    dataset: str
    collection: str
    settings: dict[str, object]
    modes: tuple[ModeResult, ...]
    questions: tuple[QuestionResult, ...] = ()
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def as_dict(self) -> dict:
        """JSON-friendly form, as `python -m rag.eval --json` prints it."""
        return {
            **asdict(self),
            "modes": [m.as_dict() for m in self.modes],
            "questions": [asdict(q) for q in self.questions],
        }

    @classmethod
    def from_dict(cls, data: dict) -> EvalReport:
        """The inverse of `as_dict()` (saved runs are read back with it)."""
        modes = tuple(replace(ModeResult(**m), mode=SearchMode(m["mode"])) for m in data["modes"])
        questions = tuple(QuestionResult(**q) for q in data.get("questions", ()))
        return cls(**{**data, "modes": modes, "questions": questions})

    def rows(self) -> list[dict[str, object]]:
        """One row per mode: every metric, then the query latency."""
        return [
            {"mode": m.mode.value, **m.metrics, "p50 ms": m.p50_ms, "p95 ms": m.p95_ms}
            for m in self.modes
        ]

    def metric_names(self) -> tuple[str, ...]:
        """The metrics this kind of run reports, in display order."""
        return BEIR_METRICS if self.kind == "beir" else QA_METRICS


def search_settings(options: SearchOptions, retriever: Retriever) -> dict[str, object]:
    """What a run's figures depend on, recorded with the run so runs can be compared."""
    settings = retriever.library.settings
    return {
        "embedder": retriever.library.identity.describe(),
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap": settings.chunk_overlap,
        "fusion": options.fusion.value,
        "rrf_k": options.rrf_k,
        "vector_weight": options.vector_weight,
        "bm25_weight": options.bm25_weight,
        "candidates": options.candidates,
        **rerank_settings(options, retriever),
    }


def rerank_settings(options: SearchOptions, retriever: Retriever) -> dict[str, object]:
    """Which reranker reordered how many candidates ("off" and None when none did)."""
    reranker = retriever.reranker if options.rerank else None
    if reranker is None:
        return {"rerank": "off", "rerank_candidates": None}
    return {"rerank": reranker.name, "rerank_candidates": options.rerank_candidates}


def _with_notices(settings: dict[str, object], notices: list[str]) -> dict[str, object]:
    """The settings, and how many searches were not reranked as asked, with the first reason:
    figures measured with a failing reranker must not pass for reranked ones."""
    if not notices:
        return settings
    return {**settings, "not_reranked": len(notices), "rerank_notice": notices[0]}


def evaluate_beir(
    retriever: Retriever,
    data: BeirSet,
    modes: Sequence[SearchMode] = tuple(SearchMode),
    options: SearchOptions | None = None,
    progress: EvalProgress | None = None,
) -> EvalReport:
    """nDCG@10, recall@10, recall@100 and MRR@10 of each mode, documents ranked by best chunk."""
    options = options or SearchOptions()
    queries = sorted(data.queries.items())
    results, notices = [], []
    for mode in modes:
        scores: dict[str, list[float]] = {name: [] for name in BEIR_METRICS}
        latencies = []
        for done, (query_id, text) in enumerate(queries, start=1):
            result, ms = _search(retriever, text, mode, BEIR_DEPTH, options, notices)
            latencies.append(ms)
            ranked = unique_in_order(chunk.source for chunk in result.chunks)
            for name, value in _beir_scores(ranked, data.qrels[query_id]).items():
                scores[name].append(value)
            if progress:
                progress(mode, done, len(queries))
        results.append(_mode_result(mode, scores, latencies))
    collection = retriever.library.settings.collection
    settings = _with_notices(search_settings(options, retriever), notices)
    return EvalReport("beir", data.name, collection, settings, tuple(results))


def evaluate_qa(
    retriever: Retriever,
    items: Sequence[QAItem],
    dataset: str,
    modes: Sequence[SearchMode] = tuple(SearchMode),
    options: SearchOptions | None = None,
    progress: EvalProgress | None = None,
) -> EvalReport:
    """hit@1, hit@5, hit@10 and MRR@10 of the chunks that lie on an evidence page."""
    options = options or SearchOptions()
    results, notices = [], []
    first_hits: list[dict[str, int | None]] = [{} for _ in items]
    for mode in modes:
        scores: dict[str, list[float]] = {name: [] for name in QA_METRICS}
        latencies = []
        for done, item in enumerate(items, start=1):
            result, ms = _search(retriever, item.question, mode, QA_DEPTH, options, notices)
            latencies.append(ms)
            hits = [str(c.rank) for c in result.chunks if _on_evidence(c, item.evidence)]
            ranked = [str(c.rank) for c in result.chunks]
            for name, value in _qa_scores(ranked, set(hits)).items():
                scores[name].append(value)
            first_hits[done - 1][mode.value] = first_relevant_rank(ranked, set(hits), QA_DEPTH)
            if progress:
                progress(mode, done, len(items))
        results.append(_mode_result(mode, scores, latencies))
    questions = tuple(
        QuestionResult(item.question, hits) for item, hits in zip(items, first_hits, strict=True)
    )
    collection = retriever.library.settings.collection
    settings = _with_notices(search_settings(options, retriever), notices)
    return EvalReport("qa", dataset, collection, settings, tuple(results), questions)


def missing_sources(items: Sequence[QAItem], names: set[str]) -> list[str]:
    """Evidence file names that no document of the collection has (a likely typo)."""
    return sorted({e.source for item in items for e in item.evidence} - names)


def _search(
    retriever: Retriever,
    query: str,
    mode: SearchMode,
    depth: int,
    options: SearchOptions,
    notices: list[str],
) -> tuple[SearchResult, float]:
    """The result and its milliseconds; a notice (reranking not done) is added to `notices`.

    Each retriever fetches `depth` hits (at least the candidates); fusion still scales scores
    over the first `candidates` of them, and the reranker reorders only its first
    `rerank_candidates`, so the top ranks are the app's own.
    """
    run = replace(options, mode=mode, k=depth)
    started = time.perf_counter()
    result = retriever.search(query, run)
    ms = (time.perf_counter() - started) * 1000
    if result.notice:
        notices.append(result.notice)
    return result, ms


def _beir_scores(ranked: list[str], gains: dict[str, float]) -> dict[str, float]:
    return {
        "ndcg@10": ndcg_at_k(ranked, gains, 10),
        "recall@10": recall_at_k(ranked, gains.keys(), 10),
        "recall@100": recall_at_k(ranked, gains.keys(), 100),
        "mrr@10": reciprocal_rank(ranked, gains.keys(), 10),
    }


def _qa_scores(ranked: list[str], hits: set[str]) -> dict[str, float]:
    return {
        "hit@1": hit_at_k(ranked, hits, 1),
        "hit@5": hit_at_k(ranked, hits, 5),
        "hit@10": hit_at_k(ranked, hits, 10),
        "mrr@10": reciprocal_rank(ranked, hits, 10),
    }


def _on_evidence(chunk: ScoredChunk, evidence: Sequence[Evidence]) -> bool:
    return any(
        chunk.source == e.source and chunk.page_start <= e.page <= chunk.page_end for e in evidence
    )


def _mode_result(
    mode: SearchMode, scores: dict[str, list[float]], latencies: list[float]
) -> ModeResult:
    return ModeResult(
        mode=mode,
        metrics={name: round(mean(values), 4) for name, values in scores.items()},
        queries=len(latencies),
        p50_ms=round(percentile(latencies, 0.5), 2),
        p95_ms=round(percentile(latencies, 0.95), 2),
    )
