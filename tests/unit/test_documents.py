"""Identity and storage forms of documents, chunks and embedders."""

from __future__ import annotations

import pytest

from ingest.files import document_id
from rag.documents import (
    Chunk,
    DocumentRecord,
    DocumentStatus,
    chunk_id_for,
    doc_id_of,
    page_label,
    page_list,
    page_span,
)
from rag.errors import EmbedderMismatchError
from rag.providers.embeddings import EmbedderIdentity

MINILM = EmbedderIdentity("fastembed", "sentence-transformers/all-MiniLM-L6-v2", 384, 256)


def test_document_id_depends_only_on_the_bytes():
    doc_id, sha = document_id(b"%PDF-1.4 some bytes")
    assert document_id(b"%PDF-1.4 some bytes") == (doc_id, sha)
    assert len(sha) == 64
    assert sha.startswith(doc_id)
    assert len(doc_id) == 20
    assert document_id(b"%PDF-1.4 some bytez")[0] != doc_id
    assert document_id(b"")[1] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_chunk_ids_are_derived_from_the_document_id():
    doc_id, _ = document_id(b"hello")
    assert chunk_id_for(doc_id, 0) == f"{doc_id}-00000"
    assert chunk_id_for(doc_id, 42) == f"{doc_id}-00042"
    assert chunk_id_for(doc_id, 7) == chunk_id_for(doc_id, 7)
    assert chunk_id_for(doc_id, 7) != chunk_id_for(document_id(b"hello!")[0], 7)


def test_chunk_ids_sort_in_chunk_order():
    ids = [chunk_id_for("d", index) for index in (0, 2, 10, 99, 100, 1000)]
    assert sorted(ids) == ids


@pytest.mark.parametrize("doc_id", ["2cf24dba5fb0a30e26e8", "with-dash", "x"])
@pytest.mark.parametrize("index", [0, 5, 12345, 123456])
def test_doc_id_of_inverts_chunk_id_for(doc_id, index):
    assert doc_id_of(chunk_id_for(doc_id, index)) == doc_id


def make_chunk(**changes) -> Chunk:
    fields = {
        "chunk_id": "d1-00003",
        "doc_id": "d1",
        "index": 3,
        "text": "Some text of page two and three.",
        "source": "report.pdf",
        "page_start": 2,
        "page_end": 3,
        "char_start": 120,
        "char_end": 152,
        "tokens": 9,
    }
    return Chunk(**(fields | changes))


def test_chunk_metadata_leaves_out_id_and_text():
    metadata = make_chunk().metadata()
    assert metadata == {
        "doc_id": "d1",
        "index": 3,
        "source": "report.pdf",
        "page_start": 2,
        "page_end": 3,
        "char_start": 120,
        "char_end": 152,
        "tokens": 9,
        "header": "",
        "location": "",
        "ocr": False,
        "boxes": "",
    }
    assert all(isinstance(value, str | int) for value in metadata.values())


def test_chunk_round_trips_through_stored_form():
    chunk = make_chunk()
    assert Chunk.from_stored(chunk.chunk_id, chunk.text, chunk.metadata()) == chunk
    scanned = make_chunk(location="slide 2", ocr=True, boxes=((2, 0.1, 0.2, 0.3, 0.25),))
    stored = scanned.metadata()
    assert isinstance(stored["boxes"], str)  # a store keeps flat values only
    assert Chunk.from_stored(scanned.chunk_id, scanned.text, stored) == scanned


def test_chunk_from_stored_ignores_unknown_metadata():
    chunk = make_chunk()
    metadata = chunk.metadata() | {"embed_model": "x", "status": "ready"}
    assert Chunk.from_stored(chunk.chunk_id, chunk.text, metadata) == chunk


def make_record(**changes) -> DocumentRecord:
    fields = {
        "doc_id": "2cf24dba5fb0a30e26e8",
        "name": "Informe anual – 2024.pdf",
        "sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        "size_bytes": 123_456,
        "pages": 12,
        "chunks": 40,
        "added_at": 1_700_000_000.25,
        "status": DocumentStatus.READY,
        "pages_without_text": (3, 7),
    }
    return DocumentRecord(**(fields | changes))


@pytest.mark.parametrize(
    "record",
    [
        make_record(),
        make_record(status=DocumentStatus.PENDING, pages_without_text=()),
        make_record(status=DocumentStatus.DELETING, pages=0, chunks=0),
    ],
)
def test_document_record_round_trips_through_metadata(record):
    assert DocumentRecord.from_metadata(record.metadata()) == record


def test_document_record_metadata_is_flat():
    metadata = make_record().metadata()
    assert metadata["status"] == "ready"
    assert metadata["pages_without_text"] == "[3, 7]"
    # Chroma stores only scalars.
    assert all(isinstance(value, str | int | float) for value in metadata.values())
    assert not any(isinstance(value, DocumentStatus) for value in metadata.values())


def test_document_record_defaults():
    record = DocumentRecord("d", "a.pdf", "ab", 1, 1, 1, 0.0)
    assert record.status is DocumentStatus.PENDING
    assert record.pages_without_text == ()
    restored = DocumentRecord.from_metadata(record.metadata())
    assert restored.status is DocumentStatus.PENDING


def test_embedder_identity_round_trips_through_metadata():
    metadata = MINILM.as_metadata()
    assert metadata == {
        "embed_provider": "fastembed",
        "embed_model": "sentence-transformers/all-MiniLM-L6-v2",
        "embed_dimensions": 384,
        "embed_max_tokens": 256,
        "embed_distance": "cosine",
    }
    assert EmbedderIdentity.from_metadata(metadata) == MINILM
    assert EmbedderIdentity.from_metadata(metadata | {"hnsw:space": "cosine"}) == MINILM


@pytest.mark.parametrize(
    "metadata", [None, {}, {"hnsw:space": "cosine"}, {"embed_provider": "fastembed"}]
)
def test_embedder_identity_missing_from_metadata(metadata):
    assert EmbedderIdentity.from_metadata(metadata) is None


def test_describe_names_model_dimensions_and_distance():
    assert MINILM.describe() == "fastembed:sentence-transformers/all-MiniLM-L6-v2 (384-d, cosine)"


def test_check_matches_accepts_the_same_identity():
    MINILM.check_matches(EmbedderIdentity.from_metadata(MINILM.as_metadata()), "documents")


def test_check_matches_names_both_models():
    openai = EmbedderIdentity("openai", "text-embedding-3-small", 1536, 8191)
    with pytest.raises(EmbedderMismatchError) as raised:
        MINILM.check_matches(stored=openai, collection="papers")
    message = str(raised.value)
    assert "text-embedding-3-small" in message
    assert "all-MiniLM-L6-v2" in message
    assert "'papers'" in message
    # The stored model is named as what the collection was built with.
    assert message.index("text-embedding-3-small") < message.index("all-MiniLM-L6-v2")


def test_check_matches_catches_a_dimension_change_alone():
    shortened = EmbedderIdentity("openai", "text-embedding-3-small", 256, 8191)
    full = EmbedderIdentity("openai", "text-embedding-3-small", 1536, 8191)
    with pytest.raises(EmbedderMismatchError, match=r"256-d.*1536-d"):
        full.check_matches(shortened, "documents")


def test_page_spans_and_labels():
    assert (page_span(3, 3), page_span(3, 4)) == ("3", "3-4")
    assert (page_label(3, 3), page_label(3, 4)) == ("p. 3", "pp. 3-4")


def test_page_lists_are_cut_after_the_limit():
    assert page_list((1, 2, 5), 10) == "1, 2, 5"
    assert page_list(list(range(1, 1_013)), 10) == "1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 1,002 more"
