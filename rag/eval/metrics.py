"""Ranking metrics, as BEIR and TREC define them, over ranked ids and relevance judgements.

Each function scores one query; `mean` averages over queries. A query with no relevant
item has no defined score and is left out by the callers, as BEIR's evaluation does.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence


def ndcg_at_k(ranked: Sequence[str], gains: Mapping[str, float], k: int = 10) -> float:
    """Normalised discounted cumulative gain of the first `k` ids.

    Gains are the graded judgements (linear gain, log2 discount), as trec_eval computes
    nDCG for BEIR; the ideal ranking sorts every judged item by its gain.
    """
    dcg = sum(gains.get(item, 0.0) / math.log2(rank + 1) for rank, item in _top(ranked, k))
    ideal = sorted((g for g in gains.values() if g > 0), reverse=True)[:k]
    idcg = sum(gain / math.log2(rank + 1) for rank, gain in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """The share of the relevant ids found in the first `k`."""
    if not relevant:
        return 0.0
    found = {item for _, item in _top(ranked, k) if item in relevant}
    return len(found) / len(relevant)


def reciprocal_rank(ranked: Sequence[str], relevant: Collection[str], k: int = 10) -> float:
    """1 / the rank of the first relevant id within the first `k`, else 0 (MRR@k per query)."""
    rank = first_relevant_rank(ranked, relevant, k)
    return 0.0 if rank is None else 1.0 / rank


def hit_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """1.0 if any of the first `k` ids is relevant, else 0.0."""
    return 1.0 if first_relevant_rank(ranked, relevant, k) is not None else 0.0


def first_relevant_rank(ranked: Sequence[str], relevant: Collection[str], k: int) -> int | None:
    """The 1-based rank of the first relevant id within the first `k`, or None."""
    return next((rank for rank, item in _top(ranked, k) if item in relevant), None)


def mean(values: Iterable[float]) -> float:
    """The arithmetic mean; 0.0 for no values."""
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (share in 0..1) of `values`; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def unique_in_order(items: Iterable[str]) -> list[str]:
    """Items without repeats, each at its first position (a document ranked by its best chunk)."""
    return list(dict.fromkeys(items))


def _top(ranked: Sequence[str], k: int) -> Iterable[tuple[int, str]]:
    return enumerate(ranked[:k], start=1)
