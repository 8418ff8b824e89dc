"""Cosine, dot product and Euclidean distance, chosen per collection at creation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ingest.pipeline import Ingestor
from rag.distances import DISTANCES, measure_all_ways
from rag.errors import EmbedderMismatchError
from rag.results import SearchOptions
from rag.search.retriever import Retriever
from rag.stores.chroma import connect

NOTES = {
    "bees.md": "Honey bees build hexagonal wax cells and store nectar as honey.",
    "tides.md": "Ocean tides are caused by the gravity of the moon and the sun.",
    "rust.md": "Tantivy is a full-text search engine library written in Rust.",
}
QUERY = "what do bees make from nectar"


def test_for_unit_vectors_dot_is_cosine_and_euclidean_follows_from_it():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(20, 16))
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    query = unit[0] + 0.1 * unit[1]
    query /= np.linalg.norm(query)
    for row in measure_all_ways(query, unit):
        assert row.dot == pytest.approx(row.cosine, abs=1e-12)
        assert row.euclidean == pytest.approx(row.euclidean_from_cosine, abs=1e-9)
    # Not unit length: the dot product and the distance part ways with the cosine.
    long = measure_all_ways(query, 3 * unit)
    assert all(r.dot == pytest.approx(3 * r.cosine) for r in long)
    assert any(abs(r.euclidean - r.euclidean_from_cosine) > 0.5 for r in long)


@pytest.mark.parametrize(
    ("name", "chroma_distance", "similarity", "shown", "cosine"),
    [
        ("cosine", 0.25, 0.75, 0.75, 0.75),
        ("dot", 0.25, 0.75, 0.75, 0.75),
        ("euclidean", 0.5, -math.sqrt(0.5), math.sqrt(0.5), 0.75),  # squared 0.5 = 2 - 2cos
    ],
)
def test_chroma_distances_become_similarities_and_shown_scores(
    name, chroma_distance, similarity, shown, cosine
):
    distance = DISTANCES[name]
    assert distance.similarity(chroma_distance) == pytest.approx(similarity)
    assert distance.shown(distance.similarity(chroma_distance)) == pytest.approx(shown)
    assert distance.cosine(distance.similarity(chroma_distance)) == pytest.approx(cosine)


def _search(make_library, distance: str, **options):
    library = make_library(distance=distance, collection=f"notes-{distance}")
    for name, text in NOTES.items():
        Ingestor(library).ingest_bytes(name, text.encode())
    return library, Retriever(library).search(QUERY, SearchOptions(mode="vector", **options))


def test_each_distance_ranks_alike_and_shows_its_own_scores(make_library):
    _, cosine = _search(make_library, "cosine")
    _, dot = _search(make_library, "dot")
    library, euclidean = _search(make_library, "euclidean")
    order = [c.chunk_id for c in cosine.chunks]
    assert [c.chunk_id for c in dot.chunks] == order == [c.chunk_id for c in euclidean.chunks]
    for by_cos, by_dot, by_l2 in zip(cosine.chunks, dot.chunks, euclidean.chunks, strict=True):
        assert by_dot.vector.value == pytest.approx(by_cos.vector.value, abs=1e-5)
        assert by_l2.vector.value == pytest.approx(math.sqrt(2 - 2 * by_cos.vector.value), abs=1e-4)
    assert cosine.chunks[0].vector.kind.describe() == "cosine similarity, -1..1"
    assert dot.chunks[0].vector.kind.label == "dot product"
    assert euclidean.chunks[0].vector.kind.describe() == "Euclidean distance, 0..2 for unit vectors"
    assert not euclidean.chunks[0].vector.kind.higher_is_better
    settings = library.settings
    stored = connect(settings).get_collection(settings.collection, embedding_function=None)
    assert stored.configuration_json["hnsw"]["space"] == "l2"

    # A maximum distance is a minimum similarity of minus that distance.
    best = euclidean.chunks[0].vector.value
    _, close = _search(make_library, "euclidean", min_vector=-(best + 1e-6))
    assert [c.chunk_id for c in close.chunks] == [euclidean.chunks[0].chunk_id]
    hybrid = Retriever(library).search(QUERY, SearchOptions(mode="hybrid"))
    assert hybrid.chunks[0].source == "bees.md"


def test_a_collection_keeps_the_distance_it_was_created_with(make_library):
    make_library(distance="cosine").close()
    with pytest.raises(EmbedderMismatchError, match=r"cosine.*dot"):
        make_library(distance="dot")
