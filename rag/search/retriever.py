"""Search the library by vector, BM25 or both fused, and label every score."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from rag.documents import doc_id_of
from rag.providers.rerankers import Reranker
from rag.results import (
    BM25_SCORE,
    FUSED_SCORES,
    Fusion,
    Score,
    ScoredChunk,
    SearchMode,
    SearchOptions,
    SearchResult,
    SearchTimings,
    VectorIndex,
)
from rag.search.fusion import reciprocal_rank_fusion, relative_score_fusion
from rag.search.rerank import NO_RERANKER, ORDER_NAMES, rerank
from rag.stores.library import Library

# Hits of one retriever, ranked: (chunk id, score) best first.
Ranked = list[tuple[str, float]]
# The same query is often embedded again at once: each mode of search_every_mode, a page
# rerun, the chat's search after the search page's. A vector is small (1.5 KB at 384
# dimensions), so the last this many are kept.
QUERY_VECTORS_KEPT = 256


class Retriever:
    """Runs searches against a library; safe to share between threads.

    With a `reranker`, a search that asks for reranking has its first candidates scored
    again and reordered (rag.search.rerank).
    """

    def __init__(self, library: Library, reranker: Reranker | None = None) -> None:
        self._library = library
        self._reranker = reranker
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bm25")
        self._embed = functools.lru_cache(maxsize=QUERY_VECTORS_KEPT)(
            functools.partial(_read_only_vector, library.embed_query)
        )

    @property
    def library(self) -> Library:
        """The library this retriever searches."""
        return self._library

    @property
    def reranker(self) -> Reranker | None:
        """The reranker searches may ask for, or None when none is configured."""
        return self._reranker

    def search(self, query: str, options: SearchOptions | None = None) -> SearchResult:
        """The top-k chunks for `query` with every score, its kind and rank."""
        options = options or SearchOptions()
        began = time.perf_counter()
        # Filled by the steps as they run (BM25 in another thread), then frozen.
        timings: dict[str, float] = {}
        visible = self._library.visible_ids()
        doc_ids = tuple(d for d in options.doc_ids if d in visible) or None
        if options.doc_ids and doc_ids is None:
            return SearchResult(query, options.mode, ())
        # The reranker sees its candidates whatever each retriever proposes for fusion.
        reranked = options.rerank_candidates if options.rerank else 0
        fetch = max(options.candidates, options.k, reranked)
        lexical = None
        if options.mode is not SearchMode.VECTOR:
            lexical = self._pool.submit(
                _timed, timings, "bm25_ms", self._bm25, query, fetch, doc_ids
            )
        vector: Ranked = []
        if options.mode is not SearchMode.BM25:
            vector = self._vector(query, fetch, doc_ids, options.vector_index, timings)
        bm25 = lexical.result() if lexical else []
        vector = _visible(vector, visible, options.min_vector)
        bm25 = _visible(bm25, visible, options.min_bm25)
        started = time.perf_counter()
        reranking = options.rerank and self._reranker is not None
        depth = max(options.k, options.rerank_candidates) if reranking else options.k
        chunks = self._fuse(vector, bm25, options, depth)
        timings["fusion_ms"] = _ms_since(started)
        chunks, notice = self._rerank(query, chunks, options, timings)
        timings["total_ms"] = _ms_since(began)
        reranker = self._reranker.name if reranking and self._reranker else None
        return SearchResult(query, options.mode, chunks, SearchTimings(**timings), reranker, notice)

    def _rerank(
        self, query: str, chunks: tuple[ScoredChunk, ...], options: SearchOptions, timings
    ) -> tuple[tuple[ScoredChunk, ...], str | None]:
        """The final top k, and a notice when reranking was asked for but did not happen."""
        if not options.rerank:
            return chunks, None
        if self._reranker is None:
            return chunks[: options.k], NO_RERANKER
        done = _timed(
            timings,
            "rerank_ms",
            rerank,
            self._reranker,
            query,
            chunks,
            options.k,
            options.rerank_candidates,
            ORDER_NAMES[options.mode],
        )
        return done.chunks, done.notice

    def _vector(
        self, query: str, n: int, doc_ids, index: VectorIndex, timings: dict[str, float]
    ) -> Ranked:
        library = self._library
        vector = _timed(timings, "embed_ms", self._embed, query)
        hits = _timed(timings, "vector_ms", library.search_vectors, vector, n, doc_ids, index)
        return [(hit.chunk_id, hit.similarity) for hit in hits]

    def _bm25(self, query: str, n: int, doc_ids) -> Ranked:
        return [(hit.chunk_id, hit.score) for hit in self._library.search_words(query, n, doc_ids)]

    def _fuse(
        self, vector: Ranked, bm25: Ranked, options: SearchOptions, depth: int
    ) -> tuple[ScoredChunk, ...]:
        """The first `depth` chunks of the fused (or single) list, with every score."""
        weights = {"vector": options.vector_weight, "bm25": options.bm25_weight}
        if options.fusion is Fusion.RELATIVE:
            lists = {"vector": vector, "bm25": bm25}
            fused = relative_score_fusion(lists, weights, window=options.candidates)
        else:
            rankings = {"vector": [c for c, _ in vector], "bm25": [c for c, _ in bm25]}
            fused = reciprocal_rank_fusion(rankings, weights, options.rrf_k)
        if options.min_fused is not None:
            fused = [(c, s) for c, s in fused if s >= options.min_fused]
        top = fused[:depth]
        stored = self._library.stored_chunks([c for c, _ in top])
        distance = self._library.distance
        vector_scores = {
            chunk_id: Score(distance.kind, distance.shown(similarity), rank)
            for rank, (chunk_id, similarity) in enumerate(vector, start=1)
        }
        bm25_scores = _scores(bm25, BM25_SCORE)
        hybrid = options.mode is SearchMode.HYBRID
        return tuple(
            ScoredChunk.of(
                stored[chunk_id],
                rank,
                vector=vector_scores.get(chunk_id),
                bm25=bm25_scores.get(chunk_id),
                fused=Score(FUSED_SCORES[options.fusion], score, rank) if hybrid else None,
            )
            for rank, (chunk_id, score) in enumerate(
                ((c, s) for c, s in top if c in stored), start=1
            )
        )


def _visible(ranked: Ranked, visible: set[str], minimum: float | None) -> Ranked:
    """Drop chunks of documents that are not published, and scores under the minimum."""
    return [
        (chunk_id, score)
        for chunk_id, score in ranked
        if doc_id_of(chunk_id) in visible and (minimum is None or score >= minimum)
    ]


def _read_only_vector(embed: Callable[[str], np.ndarray], query: str) -> np.ndarray:
    """A query's vector that no caller can change, since cached vectors are shared."""
    vector = np.asarray(embed(query))
    vector.flags.writeable = False
    return vector


def _scores(ranked: Ranked, kind) -> dict[str, Score]:
    return {chunk_id: Score(kind, score, rank) for rank, (chunk_id, score) in enumerate(ranked, 1)}


def _timed(timings: dict[str, float], name: str, function: Callable, *args):
    started = time.perf_counter()
    try:
        return function(*args)
    finally:
        timings[name] = _ms_since(started)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
