"""One query in every search mode, so a user can see what fusion changes."""

from __future__ import annotations

from dataclasses import replace

from rag.results import SearchMode, SearchOptions, SearchResult
from rag.search.retriever import Retriever


def search_every_mode(
    retriever: Retriever, query: str, options: SearchOptions | None = None
) -> dict[SearchMode, SearchResult]:
    """The results of vector, BM25 and hybrid search for the same query and options."""
    options = options or SearchOptions()
    return {mode: retriever.search(query, replace(options, mode=mode)) for mode in SearchMode}
