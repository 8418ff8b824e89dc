"""Bringing a library's three stores back into agreement, on in-memory stores."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.documents import DocumentStatus
from rag.stores.library import Library
from rag.stores.repair import RepairReport, remove_document, repair
from tests.fakes import make_chunk, make_record, memory_library, store_document

RIVERS = ["The river runs through the old town.", "Boats carry grain down the river."]
TAXES = ["Taxes are due in April.", "Late taxes cost a fee.", "Forms are online."]


@pytest.fixture
def library(tmp_path) -> Library:
    """A library with two published documents, "rivers" and "taxes"."""
    library = memory_library(tmp_path / "data")
    store_document(library, "rivers", RIVERS)
    store_document(library, "taxes", TAXES)
    return library


def repaired(library: Library, server_mode: bool = False) -> RepairReport:
    """Repair the library's stores as opening it does."""
    stores = library.inspect_stores()
    return repair(
        stores,
        lambda doc_id: remove_document(stores, doc_id, library.original_path(doc_id)),
        server_mode,
    )


def counts(library: Library) -> tuple[dict[str, int], dict[str, int]]:
    """Chunks per document in the chunk index and in the word index."""
    stores = library.inspect_stores()
    return stores.chunks.chunk_counts(), stores.words.chunk_counts()


def test_a_clean_library_reports_clean_and_changes_nothing(library):
    before = counts(library)
    report = repaired(library)
    assert report.clean
    assert report == RepairReport()
    assert counts(library) == before
    assert {d.doc_id for d in library.documents()} == {"rivers", "taxes"}


def test_an_empty_library_is_clean(tmp_path):
    assert repaired(memory_library(tmp_path / "data")).clean


def test_an_unfinished_document_is_removed_everywhere(library):
    store_document(library, "draft", ["Half written plans."], publish=False)
    assert library.original_path("draft").exists()
    report = repaired(library)
    assert report.removed_unfinished == ("draft",)
    assert not report.clean
    catalog = library.inspect_stores().catalog
    assert {r.doc_id for r in catalog.records()} == {"rivers", "taxes"}
    assert counts(library) == ({"rivers": 2, "taxes": 3},) * 2
    assert not library.original_path("draft").exists()
    assert library.original_path("rivers").exists()


def test_a_document_left_deleting_is_removed(library):
    catalog = library.inspect_stores().catalog
    [taxes] = [r for r in catalog.records() if r.doc_id == "taxes"]
    catalog.put([replace(taxes, status=DocumentStatus.DELETING)])
    assert repaired(library).removed_unfinished == ("taxes",)
    assert counts(library) == ({"rivers": 2},) * 2


def test_missing_word_index_chunks_are_indexed_again(library):
    library.inspect_stores().words.delete_documents(["taxes"])
    assert library.search_words("taxes", 5) == []
    report = repaired(library)
    assert report.reindexed_lexical == ("taxes",)
    chunks, words = counts(library)
    assert chunks == words == {"rivers": 2, "taxes": 3}
    assert {hit.chunk_id for hit in library.search_words("taxes", 5)} == {
        c.chunk_id for c in library.chunks_of("taxes")[:2]
    }


def test_a_word_index_missing_one_chunk_is_realigned(library):
    words = library.inspect_stores().words
    words.delete_documents(["rivers"])
    words.add([make_chunk("rivers", 0, RIVERS[0])])
    assert repaired(library).reindexed_lexical == ("rivers",)
    assert counts(library)[1] == {"rivers": 2, "taxes": 3}


def test_chunks_without_a_record_are_removed_from_both_indexes(library):
    stores = library.inspect_stores()
    stray = [make_chunk("stray", 0, "Nobody knows this chunk.")]
    stores.chunks.add(stray, library.embed_passages([stray[0].text]))
    stores.words.add(stray)
    report = repaired(library)
    assert report.removed_orphans == ("stray",)
    assert counts(library) == ({"rivers": 2, "taxes": 3},) * 2


def test_a_ready_document_missing_vectors_is_reported_not_hidden(library):
    library.inspect_stores().chunks.delete_documents(["rivers"])
    report = repaired(library)
    assert report.vector_mismatch == ("rivers",)
    assert "rivers" in {d.doc_id for d in library.documents()}


def test_server_mode_leaves_a_recent_pending_document_alone(library):
    store_document(library, "draft", ["Being written by another process."], publish=False)
    report = repaired(library, server_mode=True)
    assert report.removed_unfinished == ()
    assert "draft" in {r.doc_id for r in library.inspect_stores().catalog.records()}


def test_server_mode_removes_a_stale_pending_document(library):
    stale = make_record("old", status=DocumentStatus.PENDING)
    library.inspect_stores().catalog.put([replace(stale, added_at=0.0)])
    assert repaired(library, server_mode=True).removed_unfinished == ("old",)
