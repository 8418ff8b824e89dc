"""Reranking: the stage's order and ranks, its fallback, the score kinds, the results' JSON
and trace, and the retriever wiring on in-memory stores (settings and parsing:
test_rerank_parsing.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest

from rag.chat.trace import SearchTrace
from rag.providers.rerankers import (
    CROSS_ENCODER_SCORE,
    LLM_GRADE,
    SERVER_SCORE,
    FastEmbedReranker,
    RerankError,
)
from rag.results import (
    FUSED_SCORE,
    Score,
    ScoredChunk,
    SearchMode,
    SearchOptions,
    SearchResult,
    SearchTimings,
)
from rag.search.rerank import NO_RERANKER, failure_notice, rerank
from rag.search.retriever import Retriever
from tests.fakes import memory_library, store_document


@dataclass
class ScriptedReranker:
    """A reranker of our own interface: scores from a function of the text, or a failure."""

    scores_by_word: dict[str, float] = field(default_factory=dict)
    error: Exception | None = None
    name: str = "scripted"
    kind = SERVER_SCORE
    calls: list[tuple[str, list[str]]] = field(default_factory=list)

    def score(self, query: str, texts) -> list[float]:
        self.calls.append((query, list(texts)))
        if self.error is not None:
            raise self.error
        return [
            max((v for w, v in self.scores_by_word.items() if w in t), default=0.0) for t in texts
        ]

    def close(self) -> None:
        pass


def fused_chunk(rank: int, text: str, header: str = "") -> ScoredChunk:
    """A chunk at fused rank `rank`."""
    return ScoredChunk(
        rank, f"doc-{rank:05d}", "doc", "doc.txt", 1, 1, text, None, None,
        Score(FUSED_SCORE, 1 / (60 + rank), rank), header=header,
    )  # fmt: skip


RANKED = tuple(
    fused_chunk(n, text) for n, text in enumerate(["alpha", "beta", "gamma", "delta"], 1)
)


# The stage --------------------------------------------------------------------------------


def test_candidates_are_reordered_by_rerank_score_and_ranked_anew():
    reranker = ScriptedReranker({"gamma": 9.0, "beta": 5.0, "alpha": 1.0})
    done = rerank(reranker, "q", RANKED, k=4, candidates=3)
    assert [c.text for c in done.chunks] == ["gamma", "beta", "alpha", "delta"]
    assert [c.rank for c in done.chunks] == [1, 2, 3, 4]
    # Each chunk keeps its own fused rank; the rerank rank is its place among the candidates.
    assert [c.fused.rank for c in done.chunks] == [3, 2, 1, 4]
    assert [c.rerank.rank for c in done.chunks[:3]] == [1, 2, 3]
    assert [c.rerank.value for c in done.chunks[:3]] == [9.0, 5.0, 1.0]
    assert {c.rerank.kind for c in done.chunks[:3]} == {SERVER_SCORE}
    # Beyond the candidates: not reranked, so no score rather than a zero.
    assert done.chunks[3].rerank is None and done.notice is None


def test_only_the_candidates_are_sent_with_their_header():
    chunks = (fused_chunk(1, "first text", header="Guide › Part 1"), *RANKED[1:])
    reranker = ScriptedReranker()
    rerank(reranker, "the query", chunks, k=2, candidates=2)
    assert reranker.calls == [("the query", ["Guide › Part 1\n\nfirst text", "beta"])]


def test_ties_keep_the_order_before_reranking_and_k_cuts_the_list():
    reranker = ScriptedReranker({"delta": 3.0})
    done = rerank(reranker, "q", RANKED, k=3, candidates=4)
    assert [c.text for c in done.chunks] == ["delta", "alpha", "beta"]
    assert [c.rank for c in done.chunks] == [1, 2, 3]


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            RerankError("HTTP 500 from http://127.0.0.1:9/rerank"),
            "HTTP 500 from http://127.0.0.1:9",
        ),
        (KeyError("boom"), "KeyError"),
    ],
)
def test_a_failure_keeps_the_fused_order_with_no_rerank_score(error, reason):
    done = rerank(ScriptedReranker(error=error), "q", RANKED, k=3, candidates=4)
    assert [c.text for c in done.chunks] == ["alpha", "beta", "gamma"]
    assert [c.rank for c in done.chunks] == [1, 2, 3]
    assert all(c.rerank is None for c in done.chunks)
    assert reason in done.notice and done.notice.endswith("; results are in fused order.")


@pytest.mark.parametrize("scores", [[1.0], [1.0, math.nan, 2.0, 3.0]])
def test_a_wrong_count_or_a_non_number_is_a_failure(scores):
    class Wrong(ScriptedReranker):
        def score(self, query, texts):
            return scores

    done = rerank(Wrong(), "q", RANKED, k=4, candidates=4)
    assert [c.text for c in done.chunks] == ["alpha", "beta", "gamma", "delta"]
    assert done.notice.startswith("The reranker failed (it returned")


def test_failure_notice_reads_plainly():
    assert failure_notice("HTTP 500 from http://h/rerank") == (
        "The reranker failed (HTTP 500 from http://h/rerank); results are in fused order."
    )
    assert failure_notice("x", "BM25").endswith("results are in BM25 order.")


# Results, options and trace ---------------------------------------------------------------


def test_scores_come_in_display_order_with_rerank_last_and_null_when_missing():
    chunk = fused_chunk(2, "text")
    assert list(chunk.scores()) == ["vector", "bm25", "fused", "rerank"]
    assert chunk.as_dict()["scores"]["rerank"] is None
    reranked = rerank(ScriptedReranker({"text": 4.5}), "q", (chunk,), k=1, candidates=1).chunks[0]
    assert reranked.as_dict()["scores"]["rerank"] == {
        "score": 4.5,
        "rank": 1,
        "kind": "relevance score, per the rerank server",
    }


def test_search_result_json_carries_reranker_and_notice_only_when_set():
    plain = SearchResult("q", SearchMode.HYBRID, ()).as_dict()
    assert "notice" not in plain and "reranker" not in plain
    timings = SearchTimings(fusion_ms=1.0, rerank_ms=2.5, total_ms=4.0)
    data = SearchResult("q", SearchMode.HYBRID, (), timings, "http:m", "it failed").as_dict()
    assert data["notice"] == "it failed" and data["reranker"] == "http:m"
    assert data["timings_ms"]["rerank_ms"] == 2.5


def test_rerank_candidates_must_be_positive():
    assert SearchOptions().rerank is False and SearchOptions().rerank_candidates == 30
    with pytest.raises(ValueError, match="rerank_candidates"):
        SearchOptions(rerank=True, rerank_candidates=0)


def test_score_kinds_name_their_scale():
    assert CROSS_ENCODER_SCORE.describe() == "cross-encoder, unbounded logit"
    assert SERVER_SCORE.describe() == "relevance score, per the rerank server"
    assert LLM_GRADE.describe() == "LLM grade, 0..10"


def test_the_search_step_shows_the_reranker_or_off_and_the_notice():
    options = SearchOptions(rerank=True, rerank_candidates=12)
    result = SearchResult("q", SearchMode.HYBRID, (), reranker="http:m", notice="it failed")
    shown = SearchTrace.of(result, options).labelled()
    assert shown["rerank"] == "http:m: failed, the order before reranking kept"
    assert shown["notice"] == "it failed"
    worked = SearchResult("q", SearchMode.HYBRID, (), reranker="http:m")
    assert SearchTrace.of(worked, options).labelled()["rerank"] == "http:m, 12 candidates"
    off = SearchTrace.of(SearchResult("q", SearchMode.HYBRID, ()), SearchOptions()).labelled()
    assert off["rerank"] == "off" and "notice" not in off


# The retriever ----------------------------------------------------------------------------


@pytest.fixture
def library(tmp_path):
    library = memory_library(tmp_path / "data")
    texts = [
        "The river runs through the old town.",
        "Boats carry grain down the river to the sea.",
        "A river delta forms where the river meets the sea.",
    ]
    store_document(library, "rivers", texts)
    return library


def test_the_retriever_reranks_only_when_asked(library):
    reranker = ScriptedReranker({"grain": 8.0, "delta": 4.0}, name="scripted:model")
    retriever = Retriever(library, reranker)
    before = retriever.search("river", SearchOptions(k=3))
    assert before.reranker is None and all(c.rerank is None for c in before.chunks)
    assert before.timings.rerank_ms is None and reranker.calls == []
    after = retriever.search("river", SearchOptions(k=2, rerank=True))
    assert [c.text.split()[0] for c in after.chunks] == ["Boats", "A"]
    assert [c.rank for c in after.chunks] == [1, 2] and after.reranker == "scripted:model"
    assert after.timings.rerank_ms is not None and after.notice is None
    # All three candidates were scored, though only two are returned.
    assert len(reranker.calls[0][1]) == 3


def test_asking_for_reranking_without_a_reranker_gives_a_notice(library):
    result = Retriever(library).search("river", SearchOptions(k=2, rerank=True))
    assert result.notice == NO_RERANKER
    assert len(result.chunks) == 2 and all(c.rerank is None for c in result.chunks)
    assert [c.fused.rank for c in result.chunks] == [1, 2]


def test_a_single_mode_falls_back_to_its_own_order(library):
    reranker = ScriptedReranker(error=RerankError("no answer within 15 s from http://h/rerank"))
    options = SearchOptions(mode=SearchMode.BM25, k=3, rerank=True)
    result = Retriever(library, reranker).search("river", options)
    assert [c.bm25.rank for c in result.chunks] == [1, 2, 3]
    assert result.notice == (
        "The reranker failed (no answer within 15 s from http://h/rerank); results are in"
        " BM25 order."
    )


def test_a_cross_encoder_that_cannot_load_is_not_loaded_again_on_every_search(
    tmp_path, monkeypatch
):
    reranker = FastEmbedReranker("Xenova/ms-marco-MiniLM-L-6-v2", str(tmp_path / "missing"))
    loads = []
    real_load = reranker._load
    monkeypatch.setattr(reranker, "_load", lambda: loads.append(1) or real_load())
    for _ in range(3):
        with pytest.raises(RerankError, match="could not be loaded"):
            reranker.score("query", ["text"])
    assert loads == [1]
