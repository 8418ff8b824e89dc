"""Ranking metrics against values worked out by hand."""

from __future__ import annotations

import math

import pytest

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


def test_ndcg_is_one_for_the_ideal_ranking_and_discounts_lower_ranks():
    gains = {"a": 2.0, "b": 1.0}
    assert ndcg_at_k(["a", "b", "x"], gains) == pytest.approx(1.0)
    dcg = 1.0 / math.log2(2) + 2.0 / math.log2(3)
    idcg = 2.0 / math.log2(2) + 1.0 / math.log2(3)
    assert ndcg_at_k(["b", "a"], gains) == pytest.approx(dcg / idcg)


def test_ndcg_counts_only_the_first_k_and_missing_relevant_items_lower_it():
    assert ndcg_at_k(["x", "a"], {"a": 1.0}, k=1) == 0.0
    # One of two relevant documents found at rank 1.
    assert ndcg_at_k(["a"], {"a": 1.0, "b": 1.0}) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert ndcg_at_k(["a"], {}) == 0.0


def test_recall_reciprocal_rank_and_hits():
    ranked = ["x", "a", "y", "b"]
    assert recall_at_k(ranked, {"a", "b"}, 2) == 0.5
    assert recall_at_k(ranked, {"a", "b"}, 10) == 1.0
    assert recall_at_k(ranked, set(), 10) == 0.0
    assert reciprocal_rank(ranked, {"b"}) == 0.25
    assert reciprocal_rank(ranked, {"b"}, k=3) == 0.0
    assert hit_at_k(ranked, {"a"}, 1) == 0.0 and hit_at_k(ranked, {"a"}, 2) == 1.0
    assert first_relevant_rank(ranked, {"y", "b"}, 10) == 3
    assert first_relevant_rank(ranked, {"z"}, 10) is None


def test_mean_percentile_and_best_chunk_order():
    assert mean([]) == 0.0 and mean([1.0, 0.0]) == 0.5
    assert percentile([], 0.5) == 0.0
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert percentile(list(map(float, range(1, 101))), 0.95) == 95.0
    assert unique_in_order(["d2", "d1", "d2", "d3", "d1"]) == ["d2", "d1", "d3"]
