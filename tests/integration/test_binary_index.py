"""Binary vector search with rescoring, the option for large collections, on a real library."""

from __future__ import annotations

import pytest

from ingest.pipeline import Ingestor
from rag.results import SearchOptions, VectorIndex
from rag.search.retriever import Retriever

TOPICS = [
    "Honey bees build hexagonal wax cells and store nectar as honey.",
    "Ocean tides are caused by the gravity of the moon and the sun.",
    "Tantivy is a full-text search engine library written in Rust.",
    "Sourdough bread rises slowly with wild yeast and lactic bacteria.",
    "Glaciers carve U-shaped valleys as they move down the mountains.",
    "The violin has four strings tuned in perfect fifths.",
]


def _notes(ingestor: Ingestor) -> dict[str, str]:
    """Six short notes; their doc ids by name."""
    return {
        f"note{i}.md": ingestor.ingest_bytes(f"note{i}.md", text.encode()).doc_id
        for i, text in enumerate(TOPICS)
    }


def _search(library, query: str, index: VectorIndex, **options):
    search = SearchOptions(mode="vector", k=3, vector_index=index, **options)
    return Retriever(library).search(query, search).chunks


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
def test_binary_search_with_rescoring_finds_what_the_graph_finds(make_library, distance):
    library = make_library(distance=distance, collection=f"binary-{distance}")
    _notes(Ingestor(library))
    for query in ("how do bees make honey", "what moves the sea", "fermented dough"):
        graph = _search(library, query, VectorIndex.HNSW)
        binary = _search(library, query, VectorIndex.BINARY)
        assert [c.chunk_id for c in binary] == [c.chunk_id for c in graph]
        for exact, rescored in zip(graph, binary, strict=True):
            assert rescored.vector.value == pytest.approx(exact.vector.value, abs=1e-4)
    assert library.binary_index().nbytes == 6 * 384 // 8  # 48 bytes a chunk


def test_the_binary_index_follows_changes_and_restrictions(library, ingestor):
    ids = _notes(ingestor)
    first = library.binary_index()
    assert library.binary_index() is first  # kept while nothing changes
    library.delete(ids["note0.md"])
    found = _search(library, "how do bees make honey", VectorIndex.BINARY)
    assert "note0.md" not in {c.source for c in found}
    assert library.binary_index() is not first and len(library.binary_index().chunk_ids) == 5

    only = (ids["note5.md"],)
    restricted = _search(library, "how do bees make honey", VectorIndex.BINARY, doc_ids=only)
    assert [c.source for c in restricted] == ["note5.md"]
    hybrid = Retriever(library).search(
        "rust search engine", SearchOptions(vector_index=VectorIndex.BINARY)
    )
    assert hybrid.chunks[0].source == "note2.md" and hybrid.chunks[0].vector is not None


def test_the_search_command_takes_the_binary_index(tmp_path):
    from tests.support.helpers import run_json

    note = tmp_path / "bees.md"
    note.write_text(TOPICS[0])
    data_dir = tmp_path / "data"
    run_json("ingest", "add", str(note), data_dir=data_dir)
    found = run_json(
        "rag.search",
        "bees honey",
        "--mode",
        "vector",
        "--vector-index",
        "binary",
        data_dir=data_dir,
    )
    assert found["results"][0]["source"] == "bees.md"
