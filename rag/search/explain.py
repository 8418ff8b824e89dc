"""Explain weak or empty retrieval: low-score warnings and why nothing was found."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rag.results import ScoredChunk, SearchMode, SearchOptions
from rag.search.retriever import Retriever
from rag.stores.library import Library

# MiniLM cosine similarity of unrelated text is mostly below this; related text above.
LOW_VECTOR_SIMILARITY = 0.3


def low_score_warning(chunks: Sequence[ScoredChunk]) -> str | None:
    """A warning when every retrieved chunk has a low vector similarity, else None."""
    scored = [c.vector for c in chunks if c.vector is not None]
    # The threshold is a cosine (a dot product of unit vectors is the same number).
    if not scored or not scored[0].kind.higher_is_better:
        return None
    vector = [score.value for score in scored]
    if max(vector) >= LOW_VECTOR_SIMILARITY:
        return None
    return (
        f"Every retrieved chunk scores low: the best {scored[0].kind.describe()} is"
        f" {max(vector):.2f}, under {LOW_VECTOR_SIMILARITY}. The documents may not cover"
        " this question; check the sources before trusting the answer."
    )


def why_nothing_found(
    library: Library, retriever: Retriever, query: str, options: SearchOptions
) -> str:
    """The most likely reason a search returned nothing, with what to change."""
    documents = library.documents()
    if not documents:
        return "There are no documents yet: add some on the Documents page."
    if options.doc_ids and not set(options.doc_ids) & {d.doc_id for d in documents}:
        return "The chosen documents are no longer in the library: change the document filter."
    relaxed = replace(options, min_vector=None, min_bm25=None, min_fused=None)
    if relaxed != options:
        found = retriever.search(query, relaxed).chunks
        if found:
            return (
                f"All {len(found)} results scored below the minimum score"
                f" ({_best(found)}). Lower or clear the minimum score in the sidebar."
            )
    if options.doc_ids:
        return (
            f"Nothing in the {len(options.doc_ids)} chosen document(s) matches; clear the"
            " document filter to search all documents."
        )
    if options.mode is SearchMode.BM25:
        return (
            "No chunk contains any word of the query (BM25 matches words, not meaning): try"
            " other words, or the vector or hybrid mode."
        )
    return "Nothing matched the query."


def _best(chunks: Sequence[ScoredChunk]) -> str:
    parts = []
    for name in ("vector", "bm25", "fused"):
        values = [s.value for c in chunks if (s := c.scores()[name]) is not None]
        if values:
            parts.append(f"best {name} {max(values):.3f}")
    return ", ".join(parts)
