"""Search several knowledge bases at once: one ranked list, each chunk labelled with where
it came from."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Protocol

from rag.results import ScoredChunk, SearchOptions, SearchResult, SearchTimings
from rag.search.fusion import reciprocal_rank_fusion

# Each knowledge base's search is mostly waiting on its stores and model (which release the
# GIL), so a few run side by side; more would only contend for the same cores.
MAX_THREADS = 4


class Searcher(Protocol):
    """Finds the chunks for a query in one knowledge base (a Retriever, a Workspace)."""

    def search(self, query: str, options: SearchOptions) -> SearchResult:
        """The chunks found for `query`, ranked, with every score and the timings."""
        ...


class Across:
    """Searches every knowledge base of `searchers` (label, searcher) and fuses the lists.

    Their scores cannot be compared: each knowledge base may embed with another model (at
    another precision or dimension), measure another distance, and keeps its own BM25
    statistics, so a cosine of 0.6 in one says nothing against a dot product of 0.6 or a
    BM25 of 12 in another. The lists are therefore fused by reciprocal rank fusion over
    each chunk's final rank in its own list. Where one reranker scored every list, its
    scores can be compared (one model read every passage against the same query): the
    chunks are then ordered by them. Every chunk keeps the scores its own knowledge base
    gave it; only `rank` becomes its place in the fused list.
    """

    def __init__(self, searchers: Sequence[tuple[str, Searcher]]) -> None:
        labels = [label for label, _ in searchers]
        if not labels:
            raise ValueError("searching across knowledge bases needs at least one")
        if len(set(labels)) != len(labels):
            raise ValueError(f"each knowledge base is searched once; got {labels}")
        self._searchers = tuple(searchers)

    @property
    def labels(self) -> tuple[str, ...]:
        """The names of the knowledge bases searched, in the order given."""
        return tuple(label for label, _ in self._searchers)

    def search(self, query: str, options: SearchOptions | None = None) -> SearchResult:
        """The top `options.k` chunks of all the knowledge bases for `query`, fused.

        A chunk found in several knowledge bases (the same document added to each has the
        same chunk ids) is kept once, as the best-ranked copy; a tie goes to the knowledge
        base listed first. Any knowledge base's failure is raised, naming it.
        """
        options = options or SearchOptions()
        began = time.perf_counter()
        results = self._search_each(query, options)
        lists = [[replace(c, knowledge_base=label) for c in r.chunks] for label, r in results]
        rerankers = {r.reranker for _, r in results}
        if len(rerankers) == 1 and None not in rerankers:
            chunks = _by_rerank_score(lists, options.k)
        else:
            chunks = _fuse(lists, options)
        return SearchResult(
            query,
            options.mode,
            chunks,
            SearchTimings(total_ms=round((time.perf_counter() - began) * 1000, 2)),
            next((r.reranker for _, r in results if r.reranker is not None), None),
            _notices(results),
        )

    def _search_each(self, query: str, options: SearchOptions) -> list[tuple[str, SearchResult]]:
        """Each knowledge base's result, in the order given; the first failure raised."""
        workers = min(len(self._searchers), MAX_THREADS)
        with ThreadPoolExecutor(workers, thread_name_prefix="across") as pool:
            futures = [
                (label, pool.submit(searcher.search, query, options))
                for label, searcher in self._searchers
            ]
            return [(label, _result(label, future)) for label, future in futures]


def _result(label: str, future) -> SearchResult:
    try:
        return future.result()
    except Exception as exc:
        # The error as it was raised, so callers still catch it by type, with the name of
        # the knowledge base that raised it.
        exc.add_note(f"while searching the knowledge base {label!r}")
        raise


def _fuse(
    lists: Sequence[Sequence[ScoredChunk]], options: SearchOptions
) -> tuple[ScoredChunk, ...]:
    """The first `options.k` chunks of the lists fused by their own ranks, each chunk once.

    Each copy is fused under its own key, so a chunk two knowledge bases hold is not
    counted twice (that would favour documents added to several over a better match held
    by one); its best-ranked copy then comes first in the fused order and is the one kept.
    """
    copies = {
        f"{index}:{chunk.chunk_id}": chunk for index, chunks in enumerate(lists) for chunk in chunks
    }
    # Each list in the order of its chunks' final ranks, as its knowledge base ranked them.
    rankings = {
        str(index): [f"{index}:{c.chunk_id}" for c in sorted(chunks, key=lambda c: c.rank)]
        for index, chunks in enumerate(lists)
    }
    kept: dict[str, ScoredChunk] = {}
    for key, _ in reciprocal_rank_fusion(rankings, k=options.rrf_k):
        chunk = copies[key]
        if chunk.chunk_id not in kept:
            kept[chunk.chunk_id] = replace(chunk, rank=len(kept) + 1)
        if len(kept) == options.k:
            break
    return tuple(kept.values())


def _by_rerank_score(lists: Sequence[Sequence[ScoredChunk]], k: int) -> tuple[ScoredChunk, ...]:
    """The first `k` chunks of all the lists by the one reranker's score, each chunk once;
    those it did not score (beyond its candidates) after, in their own rank order."""
    pooled = sorted(
        (chunk for chunks in lists for chunk in chunks),
        key=lambda c: (c.rerank is None, -(c.rerank.value if c.rerank else 0.0), c.rank),
    )
    kept: dict[str, ScoredChunk] = {}
    for chunk in pooled:
        if chunk.chunk_id not in kept:
            kept[chunk.chunk_id] = replace(chunk, rank=len(kept) + 1)
    return tuple(kept.values())[:k]


def _notices(results: Sequence[tuple[str, SearchResult]]) -> str | None:
    """Every list's notice once; one that not every knowledge base gave names those that
    did."""
    given: dict[str, list[str]] = {}
    for label, result in results:
        if result.notice:
            given.setdefault(result.notice, []).append(label)
    notices = [
        notice if len(labels) == len(results) else f"{', '.join(labels)}: {notice}"
        for notice, labels in given.items()
    ]
    return " ".join(notices) or None
