"""Vector, BM25 and hybrid search over a library on in-memory stores."""

from __future__ import annotations

import pytest

from rag.distances import DISTANCES
from rag.documents import chunk_id_for
from rag.results import (
    BM25_SCORE,
    FUSED_SCORE,
    RELATIVE_SCORE,
    VECTOR_SCORE,
    Fusion,
    SearchMode,
    SearchOptions,
    VectorIndex,
)
from rag.search.retriever import Retriever
from rag.stores.library import Library
from tests.fakes import memory_library, store_document

DOCUMENTS = {
    "rivers": [
        "The river runs quickly through the old town.",
        "Boats carry grain down the river to the sea.",
    ],
    "taxes": ["Taxes are due in April.", "Late taxes cost a fee each month."],
    "birds": ["Swallows fly south before the winter."],
}
VECTOR, BM25, HYBRID = SearchMode.VECTOR, SearchMode.BM25, SearchMode.HYBRID


def filled(library: Library) -> Library:
    """The library with DOCUMENTS published."""
    for doc_id, texts in DOCUMENTS.items():
        store_document(library, doc_id, texts)
    return library


@pytest.fixture
def library(tmp_path) -> Library:
    """A library holding DOCUMENTS."""
    return filled(memory_library(tmp_path / "data"))


@pytest.fixture
def retriever(library) -> Retriever:
    """Searches `library`."""
    return Retriever(library)


def search(retriever: Retriever, query: str, **options):
    """The chunks found for `query` with these options."""
    return retriever.search(query, SearchOptions(**options)).chunks


def test_vector_search_scores_every_chunk_by_cosine_with_its_rank(retriever):
    chunks = search(retriever, "the river", mode=VECTOR, k=5)
    assert len(chunks) == 5
    assert chunks[0].doc_id == "rivers"
    assert [c.rank for c in chunks] == [1, 2, 3, 4, 5]
    assert [c.vector.rank for c in chunks] == [1, 2, 3, 4, 5]
    assert {c.vector.kind for c in chunks} == {VECTOR_SCORE}
    values = [c.vector.value for c in chunks]
    assert values == sorted(values, reverse=True)
    assert all(c.bm25 is None and c.fused is None for c in chunks)


def test_bm25_search_returns_only_chunks_with_a_query_word(retriever):
    chunks = search(retriever, "taxes", mode=BM25, k=5)
    assert [c.chunk_id for c in chunks] == [chunk_id_for("taxes", 0), chunk_id_for("taxes", 1)]
    assert [(c.bm25.kind, c.bm25.rank) for c in chunks] == [(BM25_SCORE, 1), (BM25_SCORE, 2)]
    assert all(c.vector is None and c.fused is None for c in chunks)


def test_hybrid_search_gives_every_score_and_none_where_not_returned(retriever):
    chunks = search(retriever, "river", mode=HYBRID, k=5)
    assert [c.fused.rank for c in chunks] == [c.rank for c in chunks]
    assert {c.fused.kind for c in chunks} == {RELATIVE_SCORE}
    assert all(c.vector is not None for c in chunks)  # every chunk is somewhere by vector
    by_words = [c for c in chunks if c.bm25 is not None]
    assert {c.doc_id for c in by_words} == {"rivers"}
    assert any(c.bm25 is None for c in chunks)


def test_a_chunk_carries_its_stored_text_and_source(retriever):
    chunk = search(retriever, "swallows", mode=BM25)[0]
    assert (chunk.text, chunk.source) == (DOCUMENTS["birds"][0], "birds.txt")
    assert (chunk.page_start, chunk.page_end, chunk.doc_id) == (1, 1, "birds")


@pytest.mark.parametrize("mode", list(SearchMode))
def test_doc_ids_keep_the_search_to_those_documents(retriever, mode):
    chunks = search(retriever, "river taxes", mode=mode, doc_ids=("taxes",))
    assert chunks
    assert {c.doc_id for c in chunks} == {"taxes"}


def test_doc_ids_of_no_visible_document_find_nothing(retriever):
    assert search(retriever, "river", doc_ids=("unknown",)) == ()


@pytest.mark.parametrize("mode", list(SearchMode))
def test_unpublished_documents_are_never_returned(library, retriever, mode):
    store_document(library, "draft", ["Secret river plans."], publish=False)
    found = search(retriever, "secret river plans", mode=mode, k=10)
    assert "draft" not in {c.doc_id for c in found}
    assert search(retriever, "secret", mode=mode, doc_ids=("draft",)) == ()


def test_a_document_is_found_once_published(library, retriever):
    store_document(library, "notes", ["Secret plans."])
    assert search(retriever, "secret", mode=BM25)[0].doc_id == "notes"


def test_min_vector_drops_weaker_vector_scores(retriever):
    everything = search(retriever, "river", mode=VECTOR, k=5)
    cut = everything[1].vector.value
    kept = search(retriever, "river", mode=VECTOR, k=5, min_vector=cut)
    assert [c.chunk_id for c in kept] == [c.chunk_id for c in everything[:2]]


def test_min_bm25_drops_weaker_bm25_scores(retriever):
    everything = search(retriever, "river town", mode=BM25, k=5)
    assert len(everything) == 2
    kept = search(retriever, "river town", mode=BM25, min_bm25=everything[0].bm25.value)
    assert [c.chunk_id for c in kept] == [everything[0].chunk_id]


def test_min_fused_drops_weaker_fused_scores(retriever):
    everything = search(retriever, "river", mode=HYBRID, k=5)
    kept = search(retriever, "river", mode=HYBRID, k=5, min_fused=everything[1].fused.value)
    assert [c.chunk_id for c in kept] == [c.chunk_id for c in everything[:2]]
    assert all(c.fused.value >= everything[1].fused.value for c in kept)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_k_chunks_at_most(retriever, k):
    assert len(search(retriever, "the river", mode=HYBRID, k=k)) == k


def test_rrf_fusion_sums_weight_over_k_plus_rank(retriever):
    chunks = search(retriever, "river", mode=HYBRID, fusion=Fusion.RRF, rrf_k=60, k=5)
    assert {c.fused.kind for c in chunks} == {FUSED_SCORE}
    for chunk in chunks:
        ranks = [s.rank for s in (chunk.vector, chunk.bm25) if s is not None]
        assert chunk.fused.value == pytest.approx(sum(1 / (60 + r) for r in ranks))


def test_relative_fusion_scores_lie_between_0_and_1(retriever):
    chunks = search(retriever, "river", mode=HYBRID, fusion=Fusion.RELATIVE, k=5)
    values = [c.fused.value for c in chunks]
    assert values == sorted(values, reverse=True)
    assert all(0.0 <= v <= 1.0 for v in values)
    assert values[0] == pytest.approx(1.0)  # the best of both lists


def test_weights_change_which_retriever_leads(retriever):
    query = "swallows river"
    by_words = search(retriever, query, mode=HYBRID, vector_weight=0.0, bm25_weight=1.0)
    assert by_words[0].chunk_id == search(retriever, query, mode=BM25)[0].chunk_id


@pytest.mark.parametrize(
    ("mode", "ran", "skipped"),
    [
        (VECTOR, {"embed_ms", "vector_ms", "fusion_ms"}, {"bm25_ms"}),
        (BM25, {"bm25_ms", "fusion_ms"}, {"embed_ms", "vector_ms"}),
        (HYBRID, {"embed_ms", "vector_ms", "bm25_ms", "fusion_ms"}, set()),
    ],
)
def test_timings_of_the_steps_that_ran(retriever, mode, ran, skipped):
    timings = retriever.search("river", SearchOptions(mode=mode)).timings
    assert all(getattr(timings, step) >= 0 for step in ran)
    assert all(getattr(timings, step) is None for step in skipped)
    assert timings.total_ms >= 0
    assert set(timings.as_dict()) == ran | {"total_ms"}


def test_binary_index_finds_what_the_graph_finds(retriever):
    graph = search(retriever, "the river", mode=VECTOR, k=3)
    binary = search(retriever, "the river", mode=VECTOR, k=3, vector_index=VectorIndex.BINARY)
    assert [c.chunk_id for c in binary] == [c.chunk_id for c in graph]


def test_euclidean_scores_are_shown_as_distances(tmp_path):
    retriever = Retriever(filled(memory_library(tmp_path / "data", distance="euclidean")))
    chunks = search(retriever, "the river", mode=VECTOR, k=5)
    assert {c.vector.kind for c in chunks} == {DISTANCES["euclidean"].kind}
    values = [c.vector.value for c in chunks]
    assert values == sorted(values)  # nearest first: the smallest distance
    assert all(0.0 <= v <= 2.0 for v in values)
