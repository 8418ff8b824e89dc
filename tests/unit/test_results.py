"""Result data: every score carries its kind, and the JSON shape is stable."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError

import pytest

from rag.results import (
    BM25_SCORE,
    FUSED_SCORE,
    VECTOR_SCORE,
    Score,
    ScoredChunk,
    SearchMode,
    SearchResult,
    SearchTimings,
)

SCORE_KEYS = {"score", "rank", "kind"}


def test_a_chunk_of_another_format_is_cited_by_its_location():
    chunk = scored_chunk(location="slide 4")
    assert chunk.pages == "slide 4" and chunk.as_dict()["location"] == "slide 4"


def scored_chunk(**changes) -> ScoredChunk:
    fields = {
        "rank": 1,
        "chunk_id": "abc123-00004",
        "doc_id": "abc123",
        "source": "report.pdf",
        "page_start": 3,
        "page_end": 3,
        "text": "The tax is due in April.",
        "header": "Tax guide › Deadlines",
        "vector": Score(VECTOR_SCORE, 0.8125, 2),
        "bm25": None,
        "fused": Score(FUSED_SCORE, 1 / 62, 1),
    }
    return ScoredChunk(**(fields | changes))


def test_score_kind_labels_name_the_scale():
    assert VECTOR_SCORE.describe() == "cosine similarity, -1..1"
    assert BM25_SCORE.describe() == "BM25, unbounded"
    assert FUSED_SCORE.describe().startswith("RRF")
    assert "rank" in FUSED_SCORE.describe()


def test_every_score_kind_is_higher_is_better_and_distinct():
    kinds = [VECTOR_SCORE, BM25_SCORE, FUSED_SCORE]
    assert all(kind.higher_is_better for kind in kinds)
    assert [kind.name for kind in kinds] == ["vector", "bm25", "fused"]
    assert len({kind.describe() for kind in kinds}) == 3


def test_score_as_dict():
    assert Score(BM25_SCORE, 7.25, 3).as_dict() == {
        "score": 7.25,
        "rank": 3,
        "kind": "BM25, unbounded",
    }


@pytest.mark.parametrize(
    ("start", "end", "label"), [(3, 3, "p. 3"), (3, 4, "pp. 3-4"), (1, 12, "pp. 1-12")]
)
def test_pages_label(start, end, label):
    assert scored_chunk(page_start=start, page_end=end).pages == label


def test_scores_in_display_order():
    chunk = scored_chunk()
    assert list(chunk.scores()) == ["vector", "bm25", "fused", "rerank"]
    assert chunk.scores()["bm25"] is None
    assert chunk.scores()["vector"] == Score(VECTOR_SCORE, 0.8125, 2)


def test_scored_chunk_as_dict_with_a_missing_score():
    data = scored_chunk().as_dict()
    assert data == {
        "rank": 1,
        "chunk_id": "abc123-00004",
        "doc_id": "abc123",
        "source": "report.pdf",
        "page_start": 3,
        "page_end": 3,
        "header": "Tax guide › Deadlines",
        "location": "p. 3",
        "ocr": False,
        "knowledge_base": "",
        "text": "The tax is due in April.",
        "scores": {
            "vector": {"score": 0.8125, "rank": 2, "kind": "cosine similarity, -1..1"},
            "bm25": None,
            "fused": {"score": pytest.approx(1 / 62), "rank": 1, "kind": FUSED_SCORE.describe()},
            "rerank": None,
        },
    }


def test_missing_score_is_null_in_json():
    text = json.dumps(scored_chunk(vector=None).as_dict())
    assert '"vector": null' in text
    assert '"bm25": null' in text
    assert json.loads(text)["scores"]["fused"]["rank"] == 1


def test_search_result_json_shape():
    chunks = (
        scored_chunk(),
        scored_chunk(
            rank=2,
            chunk_id="abc123-00005",
            page_end=4,
            vector=None,
            bm25=Score(BM25_SCORE, 3.5, 1),
            fused=Score(FUSED_SCORE, 1 / 61, 2),
        ),
    )
    timings = SearchTimings(embed_ms=2.0, vector_ms=3.5, bm25_ms=1.0, fusion_ms=4.0, total_ms=12.5)
    result = SearchResult("when is tax due", SearchMode.HYBRID, chunks, timings)
    data = json.loads(json.dumps(result.as_dict()))
    assert set(data) >= {"query", "mode", "results"}
    assert data["query"] == "when is tax due"
    assert data["mode"] == "hybrid"
    assert [r["rank"] for r in data["results"]] == [1, 2]
    for row in data["results"]:
        assert set(row) >= {
            "rank",
            "chunk_id",
            "source",
            "page_start",
            "page_end",
            "text",
            "scores",
        }
        assert set(row["scores"]) == {"vector", "bm25", "fused", "rerank"}
        for score in row["scores"].values():
            assert score is None or set(score) >= SCORE_KEYS
    second = data["results"][1]
    assert (second["page_start"], second["page_end"]) == (3, 4)
    assert second["scores"]["vector"] is None
    assert second["scores"]["bm25"] == {"score": 3.5, "rank": 1, "kind": "BM25, unbounded"}
    assert data["timings_ms"] == {
        "embed_ms": 2.0,
        "vector_ms": 3.5,
        "bm25_ms": 1.0,
        "fusion_ms": 4.0,
        "total_ms": 12.5,
    }


def test_empty_search_result():
    data = SearchResult("nothing", SearchMode.BM25, ()).as_dict()
    assert data["results"] == []
    assert data["mode"] == "bm25"
    assert data["timings_ms"] == {"total_ms": 0.0}


def test_search_modes():
    assert [mode.value for mode in SearchMode] == ["vector", "bm25", "hybrid"]
    assert SearchMode("hybrid") is SearchMode.HYBRID


def test_results_are_frozen():
    with pytest.raises(FrozenInstanceError):
        scored_chunk().rank = 2  # type: ignore[misc]
