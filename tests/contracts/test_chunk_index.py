"""The ChunkIndex contract (rag.stores.protocols), on Chroma and on the in-memory fake."""

from __future__ import annotations

import numpy as np
import pytest

from rag.distances import DISTANCES
from rag.documents import chunk_id_for, doc_id_of
from rag.stores.protocols import ChunkIndex
from tests.contracts.support import DIMENSIONS, unit_vectors
from tests.fakes import make_chunk


@pytest.fixture
def index(stores) -> ChunkIndex:
    """An empty chunk index, measuring by cosine."""
    return stores.chunks


def fill(index: ChunkIndex, layout: dict[str, int], seed: int = 0) -> dict[str, np.ndarray]:
    """Add `layout[doc_id]` chunks per document; their vectors by chunk id, in order added."""
    chunks = [make_chunk(d, i, f"text {i} of {d}") for d, n in layout.items() for i in range(n)]
    vectors = unit_vectors(len(chunks), seed)
    index.add(chunks, vectors)
    return {chunk.chunk_id: row for chunk, row in zip(chunks, vectors, strict=True)}


def test_added_chunks_come_back_whole(index):
    chunks = [make_chunk("a", i, f"chunk number {i}", page=i + 1) for i in range(3)]
    index.add(chunks, unit_vectors(3))
    assert index.get([c.chunk_id for c in chunks]) == {c.chunk_id: c for c in chunks}


def test_adding_a_stored_chunk_id_replaces_it(index):
    first, second = unit_vectors(2)
    index.add([make_chunk("a", 0, "old text")], first[None])
    index.add([make_chunk("a", 0, "new text")], second[None])
    chunk_id = chunk_id_for("a", 0)
    assert index.count() == 1
    assert index.chunk_ids() == [chunk_id]
    assert index.get([chunk_id])[chunk_id].text == "new text"
    np.testing.assert_allclose(index.vectors([chunk_id])[chunk_id], second, atol=1e-6)


@pytest.mark.parametrize("distance", sorted(DISTANCES))
def test_query_gives_the_nearest_first_higher_being_closer(make_stores, distance):
    index = make_stores(distance).chunks
    vectors = fill(index, {"a": 4, "b": 4})
    query = vectors[chunk_id_for("b", 1)]
    hits = index.query(query, 8)
    similarities = [hit.similarity for hit in hits]
    assert hits[0].chunk_id == chunk_id_for("b", 1)
    assert similarities == sorted(similarities, reverse=True)
    for hit in hits:
        expected = similarity(distance, vectors[hit.chunk_id], query)
        assert hit.similarity == pytest.approx(expected, abs=1e-4)


def similarity(distance: str, stored: np.ndarray, query: np.ndarray) -> float:
    """What rag.distances calls the similarity of two unit vectors: higher is closer."""
    if distance == "euclidean":
        return -float(np.linalg.norm(stored - query))
    return float(stored @ query)  # the cosine and the dot product of unit vectors


def test_query_gives_at_most_n_hits(index):
    query = next(iter(fill(index, {"a": 5}).values()))
    assert len(index.query(query, 3)) == 3
    assert len(index.query(query, 50)) == 5


def test_query_of_an_empty_index_finds_nothing(index):
    assert index.query(unit_vectors(1)[0], 5) == []


def test_query_for_no_hits_gives_none(index):
    fill(index, {"a": 2})
    assert index.query(unit_vectors(1)[0], 0) == []


def test_query_with_doc_ids_keeps_to_those_documents(index):
    fill(index, {"a": 3, "b": 3, "c": 3})
    query = unit_vectors(1, seed=9)[0]
    hits = index.query(query, 9, ["b", "c"])
    assert {doc_id_of(hit.chunk_id) for hit in hits} == {"b", "c"}
    assert len(hits) == 6
    assert index.query(query, 9, ["unknown"]) == []


@pytest.mark.parametrize("doc_ids", [None, []])
def test_query_without_doc_ids_searches_everything(index, doc_ids):
    fill(index, {"a": 2, "b": 2})
    assert len(index.query(unit_vectors(1, seed=9)[0], 9, doc_ids)) == 4


def test_get_leaves_unknown_ids_out(index):
    fill(index, {"a": 2})
    found = index.get([chunk_id_for("a", 1), "missing-00000", chunk_id_for("b", 0)])
    assert list(found) == [chunk_id_for("a", 1)]
    assert index.get([]) == {}


def test_chunks_of_a_document_come_in_index_order(index):
    order = [3, 0, 4, 1, 2]
    index.add([make_chunk("a", i, f"piece {i}") for i in order], unit_vectors(5))
    fill(index, {"b": 2}, seed=1)
    assert [c.index for c in index.chunks_of("a")] == [0, 1, 2, 3, 4]
    assert {c.doc_id for c in index.chunks_of("a")} == {"a"}
    assert index.chunks_of("unknown") == []


def test_chunk_ids_lists_every_stored_chunk_once(index):
    fill(index, {"a": 3, "b": 2})
    fill(index, {"a": 1}, seed=2)  # a chunk added again is still listed once
    expected = [chunk_id_for(d, i) for d, n in (("a", 3), ("b", 2)) for i in range(n)]
    assert sorted(index.chunk_ids()) == sorted(expected)


def test_chunk_counts_per_document_with_chunks(index):
    fill(index, {"a": 3, "b": 1, "c": 2})
    index.delete_documents(["c"])
    assert index.chunk_counts() == {"a": 3, "b": 1}


def test_vectors_are_float32_rows_as_stored_unknown_left_out(index):
    vectors = fill(index, {"a": 3})
    found = index.vectors([chunk_id_for("a", 2), chunk_id_for("a", 0), "missing-00000"])
    assert set(found) == {chunk_id_for("a", 2), chunk_id_for("a", 0)}
    for chunk_id, row in found.items():
        assert row.dtype == np.float32
        assert row.shape == (DIMENSIONS,)
        np.testing.assert_allclose(row, vectors[chunk_id], atol=1e-6)


def test_vector_pages_hold_every_chunk_once_rows_matching_ids(index):
    vectors = fill(index, {"a": 4, "b": 3})
    seen: list[str] = []
    for ids, rows in index.vector_pages():
        assert rows.dtype == np.float32
        assert rows.shape == (len(ids), DIMENSIONS)
        for chunk_id, row in zip(ids, rows, strict=True):
            np.testing.assert_allclose(row, vectors[chunk_id], atol=1e-6)
        seen += ids
    assert sorted(seen) == sorted(vectors)


def test_vector_pages_of_an_empty_index_are_empty(index):
    assert [ids for ids, _ in index.vector_pages() if ids] == []


def test_delete_documents_removes_all_their_chunks(index):
    fill(index, {"a": 3, "b": 2})
    index.delete_documents(["a"])
    assert index.count() == 2
    assert index.chunks_of("a") == []
    assert index.get([chunk_id_for("a", 0)]) == {}
    assert {doc_id_of(hit.chunk_id) for hit in index.query(unit_vectors(1)[0], 9)} == {"b"}


def test_delete_documents_ignores_unknown_ids_and_an_empty_list(index):
    fill(index, {"a": 2})
    index.delete_documents(["unknown"])
    index.delete_documents([])
    assert index.count() == 2


def test_count_is_the_number_of_chunks_stored(index):
    assert index.count() == 0
    fill(index, {"a": 3, "b": 2})
    assert index.count() == 5
