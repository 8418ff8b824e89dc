"""Vector compression: int8 and binary search against exact float32 search.

Generated data (unit vectors around cluster centres, fixed seeds) for the pure functions;
one small real library, ingested with the real model, for reading a collection's vectors.
"""

from __future__ import annotations

import numpy as np
import pytest

import ingest.pipeline
from ingest.files import TextDocument
from rag.documents import doc_id_of
from rag.errors import RagError
from rag.lab.compression import (
    measure_library_compression,
    prepare_queries,
    read_collection_vectors,
    shortened_sizes,
)
from rag.lab.compression_methods import measure_compression, shorten
from rag.providers.embeddings import EmbedderIdentity
from rag.stores.codecs import exact_top_k, fit_binary, fit_int8, rescore, search_rescored

DIMS = 384


def clustered(count: int, clusters: int = 20, spread: float = 1.0, seed: int = 0) -> np.ndarray:
    """Unit vectors scattered around random cluster centres, as embeddings of topics are."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, DIMS))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    points = centres[rng.integers(0, clusters, count)]
    points = points + spread * rng.standard_normal((count, DIMS)) / np.sqrt(DIMS)
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    """2,000 collection vectors and 50 queries from the same clusters."""
    both = clustered(2050)
    return both[:2000], both[2000:]


@pytest.fixture(scope="module")
def report(data):
    vectors, queries = data
    return measure_compression(vectors, queries, k=10, oversample=10)


def figures(report, name: str):
    return next(m for m in report.methods if m.method == name)


def test_exact_search_ranks_by_cosine(data):
    vectors, queries = data
    found = exact_top_k(vectors, queries[0], 10)
    assert found.ids.tolist() == np.argsort(-(vectors @ queries[0]))[:10].tolist()
    assert found.score_kind == "cosine" and np.all(np.diff(found.scores) <= 0)


def test_int8_codes_decode_within_half_a_step(data):
    vectors, _ = data
    int8 = fit_int8(vectors)
    assert int8.codes.dtype == np.int8
    assert np.all(np.abs(int8.decode() - vectors) <= int8.step / 2 + 1e-6)


def test_hamming_distance_counts_the_differing_signs(data):
    vectors, queries = data
    found = fit_binary(vectors).search(queries[0], 5)
    differing = ((vectors[found.ids] > 0) != (queries[0] > 0)).sum(axis=1)
    assert found.scores.tolist() == differing.tolist()
    assert found.score_kind == "hamming distance"


def test_int8_keeps_recall_at_10_above_0_9(report):
    assert figures(report, "int8").recall >= 0.9
    assert figures(report, "int8+rescore x10").recall >= figures(report, "int8").recall


def test_binary_with_rescoring_keeps_recall_and_binary_alone_does_not(report):
    alone, rescored = figures(report, "binary"), figures(report, "binary+rescore x10")
    assert rescored.recall >= 0.9
    assert alone.recall < rescored.recall
    assert figures(report, "float32").recall == 1.0


def test_memory_per_vector_is_exact(report):
    sizes = {m.method: (m.bytes_per_vector, m.total_bytes) for m in report.methods}
    assert sizes["float32"] == (1536, 2000 * 1536)
    # int8 keeps its fitted low and step: two float32 per dimension
    assert sizes["int8"] == (384, 2000 * 384 + 2 * 4 * DIMS)
    assert sizes["binary"] == (48, 2000 * 48)
    assert sizes["binary+rescore x10"] == sizes["binary"]
    assert [m.method for m in report.methods] == [
        "float32",
        "int8",
        "int8+rescore x10",
        "binary",
        "binary+rescore x10",
    ]


def test_rescoring_returns_only_candidates(data):
    vectors, queries = data
    candidates = np.random.default_rng(1).choice(len(vectors), 30, replace=False)
    found = rescore(vectors, queries[0], candidates, 10)
    assert set(found.ids.tolist()) <= set(candidates.tolist()) and len(found.ids) == 10
    binary = fit_binary(vectors)
    for query in queries[:10]:
        pool = set(binary.search(query, 40).ids.tolist())
        assert set(search_rescored(binary, vectors, query, 10, 4).ids.tolist()) <= pool


def test_k_larger_than_the_collection_returns_every_vector(data):
    vectors, queries = data
    small = measure_compression(vectors[:5], queries[:3], k=10, oversample=2)
    assert all(m.recall == 1.0 for m in small.methods)
    for form in (fit_int8(vectors[:5]), fit_binary(vectors[:5])):
        assert sorted(form.search(queries[0], 10).ids.tolist()) == [0, 1, 2, 3, 4]


def test_an_empty_collection_gives_empty_results(data):
    _, queries = data
    empty = np.zeros((0, DIMS), np.float32)
    assert len(exact_top_k(empty, queries[0], 10).ids) == 0
    assert len(search_rescored(fit_binary(empty), empty, queries[0], 10, 4).ids) == 0
    result = measure_compression(empty, queries[:3], k=10)
    assert result.vectors == 0 and all(m.total_bytes in (0, 2 * 4 * DIMS) for m in result.methods)
    assert all(m.recall == 0.0 for m in result.methods)


def test_bad_settings_are_refused(data):
    vectors, queries = data
    with pytest.raises(RagError):
        measure_compression(vectors, queries, k=0)
    with pytest.raises(RagError):
        measure_compression(vectors, queries, oversample=0)


TEXTS = {
    "bees": "Honey bees build hexagonal wax cells and store nectar as honey.",
    "rust": "Tantivy is a full-text search engine library written in Rust.",
    "tides": "Ocean tides are caused by the gravity of the moon and the sun.",
}


def test_reads_only_visible_chunks_of_a_real_library(library, ingestor, monkeypatch):
    ingestor.ingest_texts([TextDocument(name, text) for name, text in TEXTS.items()])
    monkeypatch.setattr(library.inspect_stores().chunks, "_max_batch", 2)  # several pages
    monkeypatch.setattr(ingest.pipeline, "WRITE_BATCH", 2)
    midway = []
    birds = " ".join(f"Sentence {i} explains penguins in some detail." for i in range(60))
    outcome = ingestor.ingest_bytes(
        "birds.txt",
        birds.encode(),
        progress=lambda *_: midway.append(read_collection_vectors(library)),
    )
    # While a document is being written its chunks are in Chroma but not yet visible.
    assert midway and all(len(seen.chunk_ids) == 3 for seen in midway)
    everything = read_collection_vectors(library)
    assert len(everything.chunk_ids) == 3 + outcome.chunks and not everything.sampled
    assert {doc_id_of(c) for c in everything.chunk_ids} == library.visible_ids()
    first = everything.chunk_ids[0]
    stored = library.inspect_stores().chunks.vectors([first])[first]
    assert np.allclose(everything.vectors[0], stored)
    sample = read_collection_vectors(library, max_vectors=2, seed=7)
    assert sample.sampled and len(sample.chunk_ids) == 2 and sample.visible == 3 + outcome.chunks
    assert read_collection_vectors(library, 2, seed=7).chunk_ids == sample.chunk_ids


def test_an_empty_library_gives_an_empty_report(library):
    assert read_collection_vectors(library).vectors.shape == (0, DIMS)
    report = measure_library_compression(library)
    assert report.vectors == 0 and report.queries == 0
    assert report.vectors_source == "0 visible chunks"


def test_queries_are_the_users_texts_or_held_out_chunks(library, ingestor):
    ingestor.ingest_texts([TextDocument(name, text) for name, text in TEXTS.items()])
    collection = read_collection_vectors(library)
    own, searched = prepare_queries(library, collection, ["what moves the tides", " "])
    assert own.vectors.shape == (1, DIMS) and own.source == "1 query of yours"
    assert searched is collection
    held, rest = prepare_queries(library, collection, count=2, seed=0)
    assert len(held.vectors) == 2 and "left out of the search" in held.source
    assert len(rest.chunk_ids) == 1
    assert not any(np.allclose(rest.vectors[0], q) for q in held.vectors)
    report = measure_library_compression(library, ["wax cells of bees"], k=2)
    assert report.vectors == 3 and report.queries == 1
    assert figures(report, "float32").recall == 1.0


def test_shortened_vectors_are_compared_for_openai_text_embedding_3_only():
    rng = np.random.default_rng(3)
    # Leading dimensions carry most of the variance, as in models trained to be shortened.
    vectors = rng.normal(size=(500, 64)) * np.linspace(3.0, 0.05, 64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[:20] + 0.05 * rng.normal(size=(20, 64))
    report = measure_compression(vectors, queries, k=10, shorten_to=(16, 32, 64, 128))
    short = {m.method: m for m in report.methods if "shortened" in m.method}
    assert list(short) == ["float32 shortened to 16", "float32 shortened to 32"]
    assert [m.bytes_per_vector for m in short.values()] == [64, 128]
    assert short["float32 shortened to 32"].recall >= short["float32 shortened to 16"].recall
    assert short["float32 shortened to 32"].recall > 0.6
    assert np.allclose(np.linalg.norm(shorten(vectors, 16), axis=1), 1.0)

    def identity(provider, model, dimensions):
        return EmbedderIdentity(provider, model, dimensions, 8191)

    assert shortened_sizes(identity("openai", "text-embedding-3-small", 1536)) == (256, 512)
    assert shortened_sizes(identity("openai", "text-embedding-3-large", 3072)) == (256, 512, 1536)
    assert shortened_sizes(identity("openai", "text-embedding-ada-002", 1536)) == ()
    assert shortened_sizes(identity("fastembed", "text-embedding-3-small", 384)) == ()
