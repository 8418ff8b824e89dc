"""Reciprocal rank fusion: combine ranked lists by rank alone, so unlike scales never mix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# The constant from Cormack et al. (2009); it damps the weight of the very first ranks.
DEFAULT_RRF_K = 60


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
