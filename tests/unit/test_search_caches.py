"""What a search keeps between queries: the list of visible documents, kept until the
documents change (with a Chroma server, for a second at most), and recent query vectors."""

from __future__ import annotations

import pytest

import rag.stores.visibility as visibility
from rag.documents import DocumentStatus
from rag.results import SearchMode, SearchOptions
from rag.search.retriever import Retriever
from rag.stores.library import Library
from rag.stores.protocols import Stores
from tests.fakes import (
    HashEmbedder,
    make_chunk,
    make_record,
    memory_library,
    memory_stores,
    store_document,
)
from tests.memory_stores import MemoryCatalog

BM25 = SearchOptions(mode=SearchMode.BM25)


class CountingCatalog(MemoryCatalog):
    """A catalog that counts how often the published ids are read."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def ready_ids(self) -> set[str]:
        self.reads += 1
        return super().ready_ids()


class CountingEmbedder(HashEmbedder):
    """The hash embedder, counting the queries it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.queries: list[str] = []

    def embed_query(self, text: str):
        self.queries.append(text)
        return super().embed_query(text)


@pytest.fixture
def stores() -> Stores:
    base = memory_stores()
    return Stores(base.chunks, CountingCatalog(), base.words)


@pytest.fixture
def library(tmp_path, stores) -> Library:
    library = memory_library(tmp_path / "data", stores=stores)
    store_document(library, "rivers", ["The river runs through the old town."])
    return library


@pytest.fixture
def clock(monkeypatch) -> list[float]:
    """The monotonic clock the cache reads, moved on by hand."""
    now = [1000.0]
    monkeypatch.setattr(visibility.time, "monotonic", lambda: now[0])
    return now


def found(library: Library, query: str) -> list[str]:
    return [chunk.doc_id for chunk in Retriever(library).search(query, BM25).chunks]


def test_the_list_is_read_once_and_kept_however_long_nothing_changes(library, clock):
    catalog = library.inspect_stores().catalog
    retriever = Retriever(library)
    retriever.search("river", BM25)
    before = catalog.reads
    clock[0] += 3600  # an hour between queries: still nothing to read again
    for _ in range(5):
        assert [c.doc_id for c in retriever.search("river", BM25).chunks] == ["rivers"]
    assert catalog.reads == before


def test_a_published_document_is_found_by_the_next_search(library, clock):
    assert found(library, "taxes") == []
    store_document(library, "taxes", ["Taxes are due in April."])
    assert found(library, "taxes") == ["taxes"]


def test_a_deleted_document_is_gone_from_the_next_search(library, clock):
    assert found(library, "river") == ["rivers"]
    library.delete("rivers")
    assert found(library, "river") == []
    assert library.visible_ids() == set()


def test_a_new_version_replaces_the_old_one_at_once(library, clock):
    assert found(library, "river") == ["rivers"]
    newer = make_record("rivers-2", name="rivers.txt", status=DocumentStatus.PENDING)
    library.begin(newer, b"")
    chunks = [make_chunk("rivers-2", 0, "The river floods the old town.")]
    library.write_chunks(chunks, library.embed_passages([c.text for c in chunks]))
    assert found(library, "river") == ["rivers"]  # not published yet
    library.publish(newer)
    assert found(library, "river") == ["rivers-2"]


def test_a_discarded_document_never_shows(library, clock):
    store_document(library, "draft", ["A river draft."], publish=False)
    library.discard("draft")
    assert found(library, "draft") == []
    assert library.visible_ids() == {"rivers"}


def test_a_write_through_another_library_of_the_collection_is_seen_at_once(
    tmp_path, stores, library, clock
):
    # The app may hold two libraries of one collection (an engine reopened for new
    # settings); each caches the list, and a write through either reaches both.
    other = memory_library(tmp_path / "data", stores=stores)
    assert found(library, "taxes") == [] and found(other, "taxes") == []
    store_document(other, "taxes", ["Taxes are due in April."])
    assert found(library, "taxes") == ["taxes"]
    other.delete("rivers")
    assert found(library, "river") == []


def test_a_write_to_another_collection_leaves_the_list_alone(tmp_path, library, clock):
    catalog = library.inspect_stores().catalog
    library.visible_ids()
    reads = catalog.reads
    elsewhere = memory_library(tmp_path / "data", collection="elsewhere")
    store_document(elsewhere, "taxes", ["Taxes are due in April."])
    assert library.visible_ids() == {"rivers"} and catalog.reads == reads


def test_with_a_server_the_list_is_read_again_after_a_second(tmp_path, stores, clock):
    library = memory_library(tmp_path / "data", stores=stores, chroma_host="127.0.0.1")
    store_document(library, "rivers", ["The river runs through the old town."])
    catalog = stores.catalog
    assert found(library, "river") == ["rivers"]
    reads = catalog.reads
    # Another app process deletes the document on the server: this one is not told.
    catalog.delete("rivers")
    clock[0] += visibility.SERVER_CATALOG_TTL_S / 2
    assert library.visible_ids() == {"rivers"} and catalog.reads == reads
    clock[0] += visibility.SERVER_CATALOG_TTL_S
    assert library.visible_ids() == set() and catalog.reads == reads + 1


def test_with_a_server_a_write_of_this_process_is_seen_at_once(tmp_path, stores, clock):
    library = memory_library(tmp_path / "data", stores=stores, chroma_host="127.0.0.1")
    assert found(library, "taxes") == []
    store_document(library, "taxes", ["Taxes are due in April."])
    assert found(library, "taxes") == ["taxes"]


def test_the_caller_cannot_change_the_cached_list(library):
    library.visible_ids().add("invented")
    assert library.visible_ids() == {"rivers"}


def test_a_query_is_embedded_once_for_every_mode(tmp_path):
    embedder = CountingEmbedder()
    library = memory_library(tmp_path / "data", embedder=embedder)
    store_document(library, "rivers", ["The river runs through the old town."])
    retriever = Retriever(library)
    first = retriever.search("river town", SearchOptions(mode=SearchMode.HYBRID))
    again = retriever.search("river town", SearchOptions(mode=SearchMode.VECTOR))
    assert embedder.queries == ["river town"]
    assert first.chunks[0].vector == again.chunks[0].vector
    retriever.search("old town", SearchOptions(mode=SearchMode.VECTOR))
    assert embedder.queries == ["river town", "old town"]
