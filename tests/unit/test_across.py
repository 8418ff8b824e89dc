"""Searching several knowledge bases at once, over hand-made searchers: the fused order,
labels, duplicates, top-k, notices, errors, and the chat flow on top."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from rag.answers import AnswerKind
from rag.chat.flow import ChatEngine, ChatOptions
from rag.config import load_settings
from rag.providers.rerankers import CROSS_ENCODER_SCORE
from rag.results import (
    BM25_SCORE,
    FUSED_SCORE,
    VECTOR_SCORE,
    Score,
    ScoredChunk,
    SearchMode,
    SearchOptions,
    SearchResult,
    SearchTimings,
)
from rag.search.across import Across
from rag.search.fusion import reciprocal_rank_fusion


def chunk(rank: int, chunk_id: str, text: str = "") -> ScoredChunk:
    """A chunk at `rank` of its own list, with scores on that list's own scale."""
    doc_id = chunk_id.split("-")[0]
    return ScoredChunk(
        rank,
        chunk_id,
        doc_id,
        f"{doc_id}.txt",
        1,
        1,
        text or f"Text of {chunk_id}.",
        Score(VECTOR_SCORE, 0.9 - rank / 10, rank),
        Score(BM25_SCORE, 20.0 / rank, rank),
        Score(FUSED_SCORE, 1 / (60 + rank), rank),
    )


class HandMadeSearcher:
    """Returns its chunks (the first k) for every query, as one knowledge base would."""

    def __init__(self, *ids: str, notice: str | None = None, reranker: str | None = None):
        self.chunks = tuple(chunk(rank, i) for rank, i in enumerate(ids, start=1))
        self.notice, self.reranker = notice, reranker
        self.options: list[SearchOptions] = []

    def search(self, query: str, options: SearchOptions) -> SearchResult:
        self.options.append(options)
        timings = SearchTimings(embed_ms=1.0, total_ms=2.0)
        chunks = self.chunks[: options.k]
        return SearchResult(query, options.mode, chunks, timings, self.reranker, self.notice)


class FailingSearcher:
    def search(self, query: str, options: SearchOptions) -> SearchResult:
        raise ConnectionError("the vector store is down")


def test_lists_are_fused_by_rank_and_labelled_with_their_knowledge_base():
    papers = HandMadeSearcher("p-1", "p-2", "p-3")
    notes = HandMadeSearcher("n-1", "n-2")
    found = Across([("Papers", papers), ("Notes", notes)]).search("q", SearchOptions(k=5))
    assert [(c.chunk_id, c.knowledge_base) for c in found.chunks] == [
        ("p-1", "Papers"),
        ("n-1", "Notes"),
        ("p-2", "Papers"),
        ("n-2", "Notes"),
        ("p-3", "Papers"),
    ]
    assert [c.rank for c in found.chunks] == [1, 2, 3, 4, 5]
    assert all(c.as_dict()["knowledge_base"] == c.knowledge_base for c in found.chunks)
    assert papers.options == notes.options == [SearchOptions(k=5)]


def test_the_fused_order_is_reciprocal_rank_fusion_of_the_lists():
    lists = {"A": ("a-1", "a-2", "a-3", "a-4"), "B": ("b-1",), "C": ("c-1", "c-2", "c-3")}
    across = Across([(name, HandMadeSearcher(*ids)) for name, ids in lists.items()])
    found = across.search("q", SearchOptions(k=8, rrf_k=0))
    expected = [
        i for i, _ in reciprocal_rank_fusion({n: list(ids) for n, ids in lists.items()}, k=0)
    ]
    assert [c.chunk_id for c in found.chunks] == expected
    # At k = 0 a first place (1/1) outweighs everything below it (1/2 + ...) by far.
    assert [c.chunk_id for c in found.chunks][:3] == ["a-1", "b-1", "c-1"]


def test_each_chunk_keeps_its_own_scores_only_the_rank_changes():
    notes = HandMadeSearcher("n-1", "n-2", "n-3")
    found = Across([("Papers", HandMadeSearcher("p-1")), ("Notes", notes)]).search("q")
    n3 = next(c for c in found.chunks if c.chunk_id == "n-3")
    own = notes.chunks[2]
    assert (n3.vector, n3.bm25, n3.fused) == (own.vector, own.bm25, own.fused)
    assert n3.fused.rank == 3 and n3.rank == 4  # its own list's place, then the fused one


def test_top_k_is_respected():
    across = Across([("A", HandMadeSearcher("a-1", "a-2", "a-3")), ("B", HandMadeSearcher("b-1"))])
    assert [c.chunk_id for c in across.search("q", SearchOptions(k=2)).chunks] == ["a-1", "b-1"]
    assert len(across.search("q", SearchOptions(k=3)).chunks) == 3


def test_a_chunk_in_two_knowledge_bases_is_kept_once_at_its_better_rank():
    # The same document in both: "same-1" is third in A, first in B.
    a = HandMadeSearcher("a-1", "a-2", "same-1", "a-4")
    b = HandMadeSearcher("same-1", "b-2")
    found = Across([("A", a), ("B", b)]).search("q", SearchOptions(k=10))
    ids = [c.chunk_id for c in found.chunks]
    assert ids.count("same-1") == 1 and len(ids) == len(set(ids)) == 5
    kept = next(c for c in found.chunks if c.chunk_id == "same-1")
    assert kept.knowledge_base == "B" and kept.vector == b.chunks[0].vector
    # Counted once, at B's first place: level with A's first, not above it.
    assert ids[:2] == ["a-1", "same-1"]


def test_a_tie_between_copies_goes_to_the_knowledge_base_listed_first():
    found = Across([("A", HandMadeSearcher("x-1")), ("B", HandMadeSearcher("x-1"))]).search("q")
    assert [(c.chunk_id, c.knowledge_base, c.rank) for c in found.chunks] == [("x-1", "A", 1)]


def test_timings_reranker_and_notices_of_the_lists():
    late = "The reranker failed; the chunks are in their search order."
    across = Across(
        [
            ("A", HandMadeSearcher("a-1", notice="No reranker is configured.")),
            ("B", HandMadeSearcher("b-1", notice="No reranker is configured.", reranker="m1")),
            ("C", HandMadeSearcher("c-1", notice=late, reranker="m2")),
        ]
    )
    found = across.search("q", SearchOptions(mode=SearchMode.BM25))
    assert found.mode is SearchMode.BM25 and found.query == "q"
    assert found.reranker == "m1"
    assert found.notice == f"A, B: No reranker is configured. C: {late}"
    assert found.timings.total_ms > 0 and found.timings.embed_ms is None
    same = Across(
        [("A", HandMadeSearcher("a-1", notice="x.")), ("B", HandMadeSearcher(notice="x."))]
    )
    assert same.search("q").notice == "x."
    assert Across([("A", HandMadeSearcher("a-1"))]).search("q").notice is None


def test_the_knowledge_bases_are_searched_at_the_same_time():
    both = threading.Barrier(2, timeout=5)

    class Waiting(HandMadeSearcher):
        def search(self, query, options):
            both.wait()  # broken (an error) unless the other search runs meanwhile
            return super().search(query, options)

    found = Across([("A", Waiting("a-1")), ("B", Waiting("b-1"))]).search("q")
    assert {c.knowledge_base for c in found.chunks} == {"A", "B"}


def test_one_failing_knowledge_base_fails_the_search_naming_it():
    across = Across([("Papers", HandMadeSearcher("p-1")), ("Notes", FailingSearcher())])
    with pytest.raises(ConnectionError, match="the vector store is down") as raised:
        across.search("q")
    assert "while searching the knowledge base 'Notes'" in raised.value.__notes__


def test_labels_are_needed_and_unique():
    with pytest.raises(ValueError, match="at least one"):
        Across([])
    with pytest.raises(ValueError, match="searched once"):
        Across([("A", HandMadeSearcher()), ("A", HandMadeSearcher())])
    assert Across([("A", HandMadeSearcher()), ("B", HandMadeSearcher())]).labels == ("A", "B")


def test_the_chat_flow_answers_over_several_knowledge_bases():
    papers = HandMadeSearcher()
    papers.chunks = (chunk(1, "p-1", "Tantivy is a full-text search engine written in Rust."),)
    notes = HandMadeSearcher()
    notes.chunks = (chunk(1, "n-1", "Chroma is a vector database that stores embeddings."),)
    single = ChatEngine(HandMadeSearcher("x-1"), load_settings({}, env_file=None))
    chat = single.over(Across([("Papers", papers), ("Notes", notes)]))
    answer = chat.ask("Which search engine is written in Rust?", options=ChatOptions()).answer
    assert answer.kind is AnswerKind.EXTRACTIVE
    assert {(c.chunk_id, c.knowledge_base) for c in answer.sources} == {
        ("p-1", "Papers"),
        ("n-1", "Notes"),
    }
    assert "Rust" in answer.text


def test_the_chat_flow_over_nothing_found_reports_it():
    chat = ChatEngine(HandMadeSearcher("x-1"), load_settings({}, env_file=None))
    empty = chat.over(Across([("A", HandMadeSearcher()), ("B", HandMadeSearcher())]))
    answer = empty.ask("anything?").answer
    assert answer.kind is AnswerKind.NOTHING_FOUND and not answer.sources


class RerankedSearcher(HandMadeSearcher):
    """A knowledge base whose chunks one reranker scored (`grades`, in list order)."""

    def __init__(self, *graded: tuple[str, float | None], reranker: str = "cross-encoder"):
        super().__init__(*(i for i, _ in graded), reranker=reranker)
        self.chunks = tuple(
            replace(c, rerank=None if g is None else Score(CROSS_ENCODER_SCORE, g, c.rank))
            for c, (_, g) in zip(self.chunks, graded, strict=True)
        )


def test_lists_one_reranker_scored_are_ordered_by_its_scores():
    papers = RerankedSearcher(("p-1", 0.2), ("p-2", 0.1))
    notes = RerankedSearcher(("n-1", 0.9), ("n-2", 0.5), ("n-3", None))
    found = Across([("Papers", papers), ("Notes", notes)]).search("q", SearchOptions(k=4))
    # By the one model's grades, not alternating by rank: Notes holds the answer.
    assert [c.chunk_id for c in found.chunks] == ["n-1", "n-2", "p-1", "p-2"]
    assert [c.rank for c in found.chunks] == [1, 2, 3, 4]


def test_lists_scored_by_different_rerankers_are_fused_by_rank():
    papers = RerankedSearcher(("p-1", 0.2), ("p-2", 0.1), reranker="model-a")
    notes = RerankedSearcher(("n-1", 0.9), ("n-2", 0.5), reranker="model-b")
    found = Across([("Papers", papers), ("Notes", notes)]).search("q", SearchOptions(k=4))
    assert [c.chunk_id for c in found.chunks] == ["p-1", "n-1", "p-2", "n-2"]
