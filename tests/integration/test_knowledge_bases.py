"""Knowledge bases on the real stores and model: a data folder made before them becomes the
default one untouched, two knowledge bases with different index settings keep their own
documents, and deleting one removes everything of it and nothing of the other."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from ingest.files import FileStatus
from ingest.pipeline import Ingestor
from ingest.queue import JobStore
from rag.engine import open_knowledge_base
from rag.kb import IndexSettings, KnowledgeBases, settings_for
from rag.kb.removal import collection_paths
from rag.providers.embeddings import make_embedder
from rag.results import SearchMode, SearchOptions
from rag.search.retriever import Retriever
from rag.stores.chroma import CATALOG_SUFFIX
from rag.stores.collections import list_collections
from rag.stores.library import Library
from tests.conftest import pdf

QUERY = "trace-based just-in-time compilation of loops"
UUID = re.compile(r"^[0-9a-f-]{36}$")


@pytest.fixture
def settings(base_settings, tmp_path):
    """The environment's settings on a temporary data folder, default collection."""
    return base_settings.with_overrides(data_dir=tmp_path / "data", collection="documents")


def _snapshot(library: Library, query: str) -> tuple[list[str], dict, list[tuple]]:
    """Chunk ids, their stored vectors, and what a hybrid search returns."""
    ids = sorted(library.inspect_stores().chunks.chunk_ids())
    vectors = library.inspect_stores().chunks.vectors(ids)
    found = Retriever(library).search(query, SearchOptions(k=5))
    return ids, vectors, [(c.chunk_id, c.vector, c.bm25, c.fused) for c in found.chunks]


def _segment_folders(settings) -> set[str]:
    return {p.name for p in (settings.data_dir / "chroma").iterdir() if UUID.match(p.name)}


# A data folder made before knowledge bases --------------------------------------------------


def test_a_data_folder_made_before_becomes_the_default_knowledge_base_unchanged(settings, embedder):
    with Library.open(settings, embedder) as library:
        added = Ingestor(library).ingest_path(pdf("pdfjs_tracemonkey.pdf"))
        assert added.status is FileStatus.INGESTED
        ids, vectors, results = _snapshot(library, QUERY)
    assert results, "the search before must find something to compare"

    with KnowledgeBases.open(settings) as registry:
        [kb] = registry.list()
        assert (kb.name, kb.collection, registry.is_default(kb)) == ("documents", "documents", True)
    assert kb.index.embed_model == settings.embed_model
    assert kb.index.embed_precision == settings.embed_precision
    assert (kb.index.distance, kb.index.chunk_tokens) == ("cosine", settings.chunk_tokens)

    with open_knowledge_base(settings, "DOCUMENTS", embedder) as engine:
        assert engine.knowledge_base == kb
        assert engine.library.tokenizer is embedder  # the loaded model was reused
        ids_after, vectors_after, results_after = _snapshot(engine.library, QUERY)
        assert [d.doc_id for d in engine.library.documents()] == [added.doc_id]
    assert ids_after == ids
    assert all(np.array_equal(vectors_after[i], vectors[i]) for i in ids)
    assert results_after == results


def test_every_collection_found_is_registered_with_the_model_that_built_it(settings, embedder):
    fp32 = settings.with_overrides(collection="papers-fp32", embed_precision="fp32")
    with Library.open(fp32, make_embedder(fp32)) as library:
        Ingestor(library).ingest_path(pdf("sf_minimal-document.pdf"))
    with Library.open(settings, embedder) as library:
        Ingestor(library).ingest_path(pdf("sf_multicolumn.pdf"))

    with KnowledgeBases.open(settings) as registry:
        bases = {kb.name: kb for kb in registry.list()}
    assert set(bases) == {"documents", "papers-fp32"}
    assert bases["papers-fp32"].index.embed_precision == "fp32"
    assert bases["documents"].index.embed_precision == settings.embed_precision

    with open_knowledge_base(settings, "papers-fp32", embedder) as engine:
        assert engine.library.identity.model == settings.embed_model  # no ":int8"
        found = engine.retriever.search("document", SearchOptions(mode=SearchMode.VECTOR))
    assert {c.source for c in found.chunks} == {"sf_minimal-document.pdf"}


# Two knowledge bases with their own settings --------------------------------------------------


@pytest.fixture
def two_bases(settings, embedder):
    """'Small cosine' (64-token chunks) holding a paper, 'Large dot' (dot product) holding
    another, both ingested; their names."""
    index = IndexSettings.from_settings(settings)
    with KnowledgeBases.open(settings) as registry:
        registry.create("Small cosine", replace(index, chunk_tokens=64, chunk_overlap=8))
        registry.create("Large dot", replace(index, distance="dot"))
    for name, document in (
        ("Small cosine", "pdfjs_tracemonkey.pdf"),
        ("Large dot", "sf_multicolumn.pdf"),
    ):
        with open_knowledge_base(settings, name, embedder) as engine:
            outcome = Ingestor(engine.library).ingest_path(pdf(document))
            assert outcome.status is FileStatus.INGESTED, outcome.reason
    return "Small cosine", "Large dot"


def test_each_knowledge_base_ingests_and_searches_its_own_documents(settings, embedder, two_bases):
    small, large = two_bases
    with open_knowledge_base(settings, small, embedder) as engine:
        library = engine.library
        chunks = [c for d in library.documents() for c in library.chunks_of(d.doc_id)]
        found = engine.retriever.search(QUERY, SearchOptions(k=10))
        assert library.identity.distance == "cosine"
        assert max(c.tokens for c in chunks) <= 64
    assert {c.source for c in found.chunks} == {"pdfjs_tracemonkey.pdf"}

    with open_knowledge_base(settings, large, embedder) as engine:
        library = engine.library
        chunks = [c for d in library.documents() for c in library.chunks_of(d.doc_id)]
        found = engine.retriever.search(QUERY, SearchOptions(k=10, mode=SearchMode.VECTOR))
        assert library.identity.distance == "dot"
        assert max(c.tokens for c in chunks) > 64
    assert {c.source for c in found.chunks} == {"sf_multicolumn.pdf"}
    assert found.chunks[0].vector.kind.label == "dot product"


def test_deleting_a_knowledge_base_removes_everything_of_it_and_nothing_else(
    settings, embedder, two_bases
):
    small, large = two_bases
    with KnowledgeBases.open(settings) as registry:
        gone, kept = registry.get(small), registry.get(large)
    for kb in (gone, kept):  # a queue for each, as `ingest add` or the app would leave
        JobStore(settings_for(settings, kb)).close()
    segments_before = _segment_folders(settings)
    kept_files = [p for p in collection_paths(settings.data_dir, kept.collection) if p.exists()]
    assert len(kept_files) >= 4  # lexical, files, queue folder and database

    with KnowledgeBases.open(settings) as registry:
        registry.delete(small.upper())
        assert [kb.name for kb in registry.list()] == ["documents", large]

    names = {info.name for info in list_collections(settings)}
    assert gone.collection not in names and kept.collection in names
    leftovers = [p for p in collection_paths(settings.data_dir, gone.collection) if p.exists()]
    assert leftovers == []
    assert all(p.exists() for p in kept_files)
    removed = segments_before - _segment_folders(settings)
    assert len(removed) == 2  # the vector files of the collection and of its catalog
    assert gone.collection + CATALOG_SUFFIX not in names

    with open_knowledge_base(settings, large, embedder) as engine:
        found = engine.retriever.search(QUERY, SearchOptions(mode=SearchMode.VECTOR))
        assert {c.source for c in found.chunks} == {"sf_multicolumn.pdf"}
