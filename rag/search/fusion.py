"""Reciprocal rank fusion: combine ranked lists by rank alone, so unlike scales never mix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rag.results import DEFAULT_RRF_K


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[str]],
    weights: Mapping[str, float] | None = None,
    k: int = DEFAULT_RRF_K,
) -> list[tuple[str, float]]:
    """Fuse ranked id lists into (id, score) pairs, best first.

    score(id) = sum over lists of weight / (k + rank), rank counted from 1. Ties keep the
    order in which ids were first seen, so the result is deterministic.
    """
    if k < 0:
        raise ValueError("the RRF constant k must not be negative")
    scores: dict[str, float] = {}
    for name, ids in rankings.items():
        weight = 1.0 if weights is None else weights.get(name, 1.0)
        for rank, item in enumerate(ids, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: pair[1], reverse=True)


def relative_score_fusion(
    scored: Mapping[str, Sequence[tuple[str, float]]],
    weights: Mapping[str, float] | None = None,
    window: int | None = None,
) -> list[tuple[str, float]]:
    """Fuse scored lists by their min-max normalised scores, weighted: (id, score) best first.

    Each list's scores are mapped to 0..1 (its best hit 1, the weakest of its first
    `window` hits 0, anything weaker clipped to 0), so a retriever's confidence survives
    fusion, which ranks alone discard: a clear BM25 winner stays ahead of a crowd of
    near-equal vector scores. The window makes the scale independent of how deep a list was
    fetched (an evaluation fetches deeper than the app). An id missing from a list gets 0
    from it. The score is the weighted mean over the lists, so it stays in 0..1.
    """
    total = sum(1.0 if weights is None else weights.get(name, 1.0) for name in scored)
    scores: dict[str, float] = {}
    for name, hits in scored.items():
        weight = (1.0 if weights is None else weights.get(name, 1.0)) / (total or 1.0)
        values = _min_max([s for _, s in hits], window or len(hits))
        for (item, _), value in zip(hits, values, strict=True):
            scores[item] = scores.get(item, 0.0) + weight * value
    return sorted(scores.items(), key=lambda pair: pair[1], reverse=True)


def _min_max(values: Sequence[float], window: int) -> list[float]:
    if not values:
        return []
    head = values[:window]
    low, high = min(head), max(head)
    if high == low:
        return [1.0 if value >= high else 0.0 for value in values]
    return [max(0.0, (value - low) / (high - low)) for value in values]
