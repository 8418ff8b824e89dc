"""Reciprocal rank fusion, checked against sums worked out by hand."""

from __future__ import annotations

import pytest

from rag.results import DEFAULT_RRF_K
from rag.search.fusion import reciprocal_rank_fusion, relative_score_fusion


def test_default_k_is_60():
    assert DEFAULT_RRF_K == 60


def test_scores_are_sums_of_reciprocal_ranks():
    fused = dict(reciprocal_rank_fusion({"vector": ["a", "b", "c"], "bm25": ["b", "d", "a"]}, k=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 63)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["c"] == pytest.approx(1 / 63)
    assert fused["d"] == pytest.approx(1 / 62)
    assert len(fused) == 4


def test_result_is_best_first():
    fused = reciprocal_rank_fusion({"vector": ["a", "b", "c"], "bm25": ["b", "d", "a"]})
    assert [item for item, _ in fused] == ["b", "a", "d", "c"]
    scores = [score for _, score in fused]
    assert scores == sorted(scores, reverse=True)


def test_default_k_is_used_when_not_given():
    assert reciprocal_rank_fusion({"x": ["a"]}) == [("a", pytest.approx(1 / 61))]


def test_other_k():
    fused = dict(reciprocal_rank_fusion({"x": ["a", "b"], "y": ["b"]}, k=0))
    assert fused == {"a": pytest.approx(1.0), "b": pytest.approx(1 / 2 + 1)}


def test_weights_scale_each_list():
    fused = dict(
        reciprocal_rank_fusion(
            {"vector": ["a", "b"], "bm25": ["b", "a"]}, weights={"vector": 2.0, "bm25": 0.5}, k=10
        )
    )
    assert fused["a"] == pytest.approx(2.0 / 11 + 0.5 / 12)
    assert fused["b"] == pytest.approx(2.0 / 12 + 0.5 / 11)
    assert fused["a"] > fused["b"]


def test_a_list_without_weight_counts_once():
    fused = dict(reciprocal_rank_fusion({"vector": ["a"], "bm25": ["b"]}, weights={"vector": 3}))
    assert fused["a"] == pytest.approx(3 / 61)
    assert fused["b"] == pytest.approx(1 / 61)


def test_weights_can_reverse_the_order():
    rankings = {"vector": ["a", "b"], "bm25": ["b", "a"]}
    heavy_bm25 = reciprocal_rank_fusion(rankings, weights={"vector": 1, "bm25": 2})
    heavy_vector = reciprocal_rank_fusion(rankings, weights={"vector": 2, "bm25": 1})
    assert heavy_bm25[0][0] == "b"
    assert heavy_vector[0][0] == "a"


def test_an_id_in_only_one_list_gets_that_list_alone():
    fused = dict(reciprocal_rank_fusion({"vector": ["a", "only-vector"], "bm25": ["a"]}))
    assert fused["only-vector"] == pytest.approx(1 / 62)
    assert fused["a"] == pytest.approx(2 / 61)


def test_ties_keep_first_seen_order():
    # Every id is at rank 1 or 2 of exactly one list: two ties, broken by first sight.
    rankings = {"vector": ["v1", "v2"], "bm25": ["b1", "b2"]}
    fused = reciprocal_rank_fusion(rankings)
    assert [item for item, _ in fused] == ["v1", "b1", "v2", "b2"]
    swapped = reciprocal_rank_fusion({"bm25": ["b1", "b2"], "vector": ["v1", "v2"]})
    assert [item for item, _ in swapped] == ["b1", "v1", "b2", "v2"]


def test_same_input_same_output():
    ids = [f"c{i}" for i in range(30)]
    rankings = {"vector": ids, "bm25": ids[::-1]}
    first = reciprocal_rank_fusion(rankings)
    assert all(first == reciprocal_rank_fusion(rankings) for _ in range(5))
    # c_i and c_(29-i) tie; the extremes score highest; each tie in first-seen order.
    expected = [name for i in range(15) for name in (f"c{i}", f"c{29 - i}")]
    assert [item for item, _ in first] == expected


@pytest.mark.parametrize("rankings", [{}, {"vector": []}, {"vector": [], "bm25": []}])
def test_empty_input_gives_empty_output(rankings):
    assert reciprocal_rank_fusion(rankings) == []


def test_negative_k_raises():
    with pytest.raises(ValueError, match="k"):
        reciprocal_rank_fusion({"x": ["a"]}, k=-1)


def test_relative_fusion_keeps_each_retrievers_confidence():
    vector = [("a", 0.62), ("b", 0.61), ("c", 0.60)]
    bm25 = [("c", 20.0), ("a", 5.0), ("d", 4.0)]
    fused = dict(relative_score_fusion({"vector": vector, "bm25": bm25}))
    # c: vector 0 (its weakest) + BM25 1 (a clear winner); a: vector 1 + BM25 0.0625.
    assert fused["c"] == pytest.approx(0.5)
    assert fused["a"] == pytest.approx((1 + 1 / 16) / 2)
    assert fused["b"] == pytest.approx(0.25) and fused["d"] == 0.0
    assert [item for item, _ in relative_score_fusion({"vector": vector, "bm25": bm25})][:2] == [
        "a",
        "c",
    ]


def test_relative_fusion_weights_and_edge_cases():
    lists = {"vector": [("a", 0.9), ("b", 0.1)], "bm25": [("b", 3.0), ("a", 1.0)]}
    assert relative_score_fusion(lists, {"vector": 3, "bm25": 1})[0] == ("a", pytest.approx(0.75))
    assert relative_score_fusion(lists, {"vector": 1, "bm25": 3})[0] == ("b", pytest.approx(0.75))
    assert relative_score_fusion({"x": [("a", 2.0), ("b", 2.0)]}) == [("a", 1.0), ("b", 1.0)]
    assert relative_score_fusion({"x": [], "y": []}) == []
    scores = [
        s for _, s in relative_score_fusion({"x": [("a", -5.0), ("b", 7.0)], "y": [("a", 1.0)]})
    ]
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_relative_fusion_scales_over_a_window_so_depth_does_not_change_the_top():
    vector = [("a", 0.9), ("b", 0.5), ("c", 0.4), ("d", 0.1)]
    bm25 = [("b", 8.0), ("a", 2.0), ("d", 1.0)]
    shallow = {"vector": vector[:2], "bm25": bm25[:2]}
    deep = {"vector": vector, "bm25": bm25}
    top = relative_score_fusion(shallow, window=2)
    assert relative_score_fusion(deep, window=2)[:2] == top
    fused = dict(relative_score_fusion(deep, window=2))
    assert fused["c"] == 0.0 and fused["d"] == 0.0  # below the window's weakest: clipped
    # Without a window the deeper list stretches the scale and the order can change.
    assert dict(relative_score_fusion(deep))["a"] != fused["a"]
