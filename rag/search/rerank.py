"""Reranking: the first candidates of a ranking scored again by a reranker, and reordered.

A cross-encoder reads the query and each chunk together, so it judges relevance better than
the vectors or word counts that found the chunk, but it is too slow to run over a whole
collection: it reorders the few best candidates of fusion (or of one retriever). A failing
reranker never fails the search: the ranking stays as it was and a notice says why.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rag.providers.rerankers import Reranker, RerankError
from rag.results import Score, ScoredChunk, SearchMode

log = logging.getLogger(__name__)

NO_RERANKER = "No reranker is configured: set RAG_RERANK_PROVIDER (see README)."
# What the order is called when reranking did not change it.
ORDER_NAMES = {SearchMode.HYBRID: "fused", SearchMode.VECTOR: "vector", SearchMode.BM25: "BM25"}


@dataclass(frozen=True)
class Reranked:
    """The final ranking, and why it is not reranked when the reranker failed."""

    chunks: tuple[ScoredChunk, ...]
    notice: str | None = None


def rerank(
    reranker: Reranker,
    query: str,
    ranked: Sequence[ScoredChunk],
    k: int,
    candidates: int,
    order: str = "fused",
) -> Reranked:
    """The top `k` of `ranked` after its first `candidates` chunks are reordered by the
    reranker's scores (ties keep their order); chunks beyond them follow in their order.

    Each reranked chunk gets its rerank score and rank; `rank` becomes its final place. On
    any failure the first `k` of `ranked` come back unchanged, with a notice.
    """
    head, tail = list(ranked[:candidates]), list(ranked[candidates:])
    if not head:
        return Reranked(())
    try:
        scores = _checked(reranker.score(query, [c.indexed_text() for c in head]), len(head))
    except RerankError as exc:
        log.warning("reranker %s failed: %s", reranker.name, exc)
        return Reranked(tuple(ranked[:k]), failure_notice(str(exc), order))
    except Exception as exc:  # a reranker must never fail the search; the log keeps the detail
        log.exception("reranker %s failed unexpectedly", reranker.name)
        return Reranked(tuple(ranked[:k]), failure_notice(type(exc).__name__, order))
    # sorted() is stable, so chunks with equal scores keep their order before reranking.
    best_first = sorted(range(len(head)), key=lambda i: -scores[i])
    reordered = [
        replace(head[i], rerank=Score(reranker.kind, scores[i], rank))
        for rank, i in enumerate(best_first, start=1)
    ]
    final = [*reordered, *tail][:k]
    return Reranked(tuple(replace(c, rank=rank) for rank, c in enumerate(final, start=1)))


def failure_notice(reason: str, order: str = "fused") -> str:
    """What the user reads when the reranker failed, e.g. "The reranker failed (HTTP 500
    from http://localhost:8080/rerank); results are in fused order."."""
    return f"The reranker failed ({reason}); results are in {order} order."


def _checked(scores: Sequence[float], count: int) -> list[float]:
    """The scores, if there is one finite number per chunk; else RerankError."""
    values = [float(score) for score in scores]
    if len(values) != count:
        raise RerankError(f"it returned {len(values)} scores for {count} chunks")
    if not all(math.isfinite(value) for value in values):
        raise RerankError("it returned a score that is not a number")
    return values
