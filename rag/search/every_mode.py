"""One query in every search mode, so a user can see what fusion and reranking change."""

from __future__ import annotations

from dataclasses import replace

from rag.results import SearchMode, SearchOptions, SearchResult
from rag.search.retriever import Retriever

RERANKED = "reranked"


def search_every_mode(
    retriever: Retriever, query: str, options: SearchOptions | None = None
) -> dict[str, SearchResult]:
    """The results of vector, BM25 and hybrid search for the same query and options, by
    mode; with `options.rerank`, also hybrid search reranked (under RERANKED)."""
    options = options or SearchOptions()
    plain = replace(options, rerank=False)
    results = {
        mode.value: retriever.search(query, replace(plain, mode=mode)) for mode in SearchMode
    }
    if options.rerank:
        results[RERANKED] = retriever.search(query, replace(options, mode=SearchMode.HYBRID))
    return results
