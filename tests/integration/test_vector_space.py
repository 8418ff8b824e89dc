"""The vector space behind the embedding lab: PCA, sampling, score spread, neighbours."""

from __future__ import annotations

import importlib.machinery
import sys
import types

import numpy as np
import pytest

from ingest.files import TextDocument
from rag.lab import projection as projections
from rag.lab.projection import fit_pca, project
from rag.lab.sampling import sample_ids
from rag.lab.vector_space import explore, nearest_neighbours, score_spread
from rag.results import SearchOptions

TEXTS = {
    "bread.txt": "Bread is made of flour, water, salt and yeast, kneaded and left to rise.",
    "pasta.txt": "Pasta is boiled in plenty of salted water until it is al dente.",
    "soup.txt": "A vegetable soup simmers carrots, onions and celery in stock.",
    "rust.txt": "Rust is a systems programming language with a borrow checker.",
    "python.txt": "Python is a programming language loved for its readable syntax.",
    "tantivy.txt": "Tantivy is a full-text search engine library written in Rust.",
    "chroma.txt": "Chroma stores embedding vectors and finds the nearest ones to a query.",
    "tides.txt": "Tides rise and fall twice a day, pulled by the moon and the sun.",
}


def stretched(rows: int = 400, seed: int = 1) -> np.ndarray:
    """Random points whose variance falls off along the first axes, around an offset."""
    scales = np.array([10.0, 5.0, 2.0, 0.5, 0.1, 0.1])
    return np.random.default_rng(seed).normal(size=(rows, 6)) * scales + 3.0


def test_pca_orders_components_by_explained_variance_and_finds_the_stretched_axes():
    pca = fit_pca(stretched(), 3)
    shares = pca.explained_variance
    assert shares[0] > shares[1] > shares[2] > 0
    assert sum(shares) < 1
    assert shares[0] == pytest.approx(100 / (100 + 25 + 4 + 0.25 + 0.02), abs=0.05)
    # The components are the axes the data was stretched along, signs made positive.
    assert np.allclose(pca.components, np.eye(6)[:3], atol=0.05)


def test_pca_projects_a_known_vector_onto_its_components():
    pca = fit_pca(stretched(), 2)
    vector = pca.mean + 2.0 * pca.components[0] - 1.5 * pca.components[1]
    assert np.allclose(pca.transform(vector), [[2.0, -1.5]])
    assert np.allclose(pca.transform(pca.mean), [[0.0, 0.0]])


def test_pca_of_fewer_points_than_axes_gives_empty_axes():
    pca = fit_pca(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), 3)
    assert pca.explained_variance == pytest.approx((1.0, 0.0, 0.0))
    assert pca.transform(np.zeros(3)).shape == (1, 3)


def test_pca_is_deterministic_whatever_the_row_order():
    data = stretched()
    first = fit_pca(data, 2).transform(data)
    again = fit_pca(data[::-1], 2).transform(data)
    assert np.allclose(first, again)


def test_umap_is_used_only_when_installed_and_given_enough_points(monkeypatch):
    data = stretched(rows=40)
    monkeypatch.setattr(projections, "available_methods", lambda: ("pca",))
    projection = project(data, 2, "umap")
    assert projection.method == "pca" and "not installed" in projection.note

    fake = types.ModuleType("umap")
    fake.__spec__ = importlib.machinery.ModuleSpec("umap", None)

    class UMAP:
        def __init__(self, n_components, **_):
            self.n = n_components

        def fit_transform(self, vectors):
            return vectors[:, : self.n]

        def transform(self, vectors):
            return vectors[:, : self.n]

    fake.UMAP = UMAP
    monkeypatch.setitem(sys.modules, "umap", fake)
    monkeypatch.setattr(projections, "available_methods", lambda: ("pca", "umap"))
    projection = project(data, 3, "umap", extra=data[0])
    assert projection.method == "umap" and projection.explained_variance == ()
    assert np.allclose(projection.extra, data[0, :3])
    few = project(data[:5], 2, "umap")
    assert few.method == "pca" and "at least" in few.note


def test_sampling_keeps_the_top_k_and_is_repeatable():
    ids = [f"doc-{i:05d}" for i in range(1000)]
    keep = ["doc-00007", "doc-00999", "not-in-the-collection"]
    sample = sample_ids(ids, 50, keep)
    assert len(sample) == 50
    assert {"doc-00007", "doc-00999"} <= set(sample)
    assert "not-in-the-collection" not in sample
    assert sample == sample_ids(reversed(ids), 50, keep)
    assert sample != sample_ids(ids, 50, keep, seed=1)
    assert sample_ids(ids[:10], 50, keep) == ids[:10]


def test_score_spread_summarises_every_similarity():
    sims = np.linspace(-0.2, 0.8, 101)
    spread = score_spread(sims, "q", top=[0.8, 0.79, 0.78], k=3, total=101)
    assert sum(spread.counts) == 101 and len(spread.bin_edges) == len(spread.counts) + 1
    assert spread.scope == "collection" and spread.kth_score == 0.78
    assert spread.percentiles[50] == pytest.approx(0.3)
    assert spread.kth_percentile == pytest.approx(98.0, abs=1.0)
    assert score_spread(sims, "q", top=[0.8], k=3, total=500).kth_score is None


@pytest.fixture
def recipes(library, ingestor):
    """A small real library: one chunk per text."""
    documents = [TextDocument(name, text) for name, text in TEXTS.items()]
    assert all(outcome.ok for outcome in ingestor.ingest_texts(documents))
    return library


def test_the_kth_score_and_marked_results_are_those_of_vector_search(recipes, retriever):
    query = "Which language is tantivy written in?"
    found = retriever.search(query, SearchOptions(mode="vector", k=3))
    exploration = explore(recipes, query, k=3)
    spread = exploration.spread
    assert spread.kth_score == found.chunks[2].vector.value
    assert sum(spread.counts) == spread.count == len(TEXTS)
    assert spread.scope == "collection"
    ranked = {p.rank: p.chunk.chunk_id for p in exploration.vector_map.points if p.rank}
    assert ranked == {c.rank: c.chunk_id for c in found.chunks}
    assert exploration.vector_map.query_coords is not None


def test_a_sampled_map_still_shows_every_top_k_result(recipes, retriever):
    query = "cooking with salted water"
    found = retriever.search(query, SearchOptions(mode="vector", k=3))
    exploration = explore(recipes, query, k=3, dimensions=3, limit=4)
    vector_map = exploration.vector_map
    assert (vector_map.sample_size, vector_map.total) == (4, len(TEXTS))
    assert {c.chunk_id for c in found.chunks} <= {p.chunk.chunk_id for p in vector_map.points}
    assert all(len(p.coords) == 3 for p in vector_map.points)
    assert exploration.spread.scope == "sample" and sum(exploration.spread.counts) == 4


def test_a_map_without_a_query_has_no_spread_and_hidden_documents_are_left_out(recipes):
    exploration = explore(recipes)
    assert exploration.spread is None and exploration.vector_map.query_coords is None
    recipes.delete(recipes.find("tides.txt").doc_id)
    sources = {p.chunk.source for p in explore(recipes).vector_map.points}
    assert sources == set(TEXTS) - {"tides.txt"}


def test_nearest_neighbours_of_a_chunk_leave_it_out_best_first(recipes):
    [chunk] = recipes.chunks_of(recipes.find("rust.txt").doc_id)
    neighbours = nearest_neighbours(recipes, chunk.chunk_id, n=3)
    assert [n.rank for n in neighbours] == [1, 2, 3]
    assert chunk.chunk_id not in {n.chunk.chunk_id for n in neighbours}
    similarities = [n.similarity for n in neighbours]
    assert similarities == sorted(similarities, reverse=True)
    assert nearest_neighbours(recipes, "no-such-chunk-00000") == ()
