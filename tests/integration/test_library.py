"""Document life cycle on the real stores: add, no-op, replace, delete, visibility, identity."""

from __future__ import annotations

from dataclasses import replace

import pytest

import ingest.pipeline
from ingest.files import FileStatus, Step
from ingest.pipeline import Ingestor
from rag.errors import DocumentNotFoundError, EmbedderMismatchError
from rag.results import Fusion, SearchOptions
from rag.search.langchain_retriever import LibraryRetriever
from rag.search.retriever import Retriever
from rag.stores.library import Library
from tests.conftest import pdf
from tests.support.scans import scanned_pdf


def _text(topic: str, sentences: int = 12) -> bytes:
    body = " ".join(f"Sentence {i} explains {topic} in some detail." for i in range(sentences))
    return body.encode()


def _consistent(library) -> dict[str, int]:
    """Chunks per visible document, after checking that both indexes agree with the catalog."""
    expected = {r.doc_id: r.chunks for r in library.documents()}
    stores = library.inspect_stores()
    assert stores.chunks.chunk_counts() == expected
    assert stores.words.chunk_counts() == expected
    return expected


def test_the_same_bytes_again_is_a_no_op(library, ingestor):
    first = ingestor.ingest_path(pdf("sf_minimal-document.pdf"))
    again = ingestor.ingest_path(pdf("sf_minimal-document.pdf"))
    assert (first.status, again.status) == (FileStatus.INGESTED, FileStatus.UNCHANGED)
    assert again.doc_id == first.doc_id and again.chunks == first.chunks
    assert _consistent(library) == {first.doc_id: first.chunks}


def test_new_bytes_under_the_same_name_replace_the_old_version(library, ingestor, retriever):
    old = ingestor.ingest_bytes("notes.txt", _text("volcanoes"))
    new = ingestor.ingest_bytes("notes.txt", _text("glaciers"))
    assert new.status is FileStatus.REPLACED and new.doc_id != old.doc_id
    assert [d.doc_id for d in library.documents()] == [new.doc_id]
    assert _consistent(library) == {new.doc_id: new.chunks}
    assert not retriever.search("volcanoes", SearchOptions(mode="bm25")).chunks
    assert retriever.search("glaciers", SearchOptions(mode="bm25")).chunks
    assert not library.original_path(old.doc_id).exists()


def test_delete_removes_a_document_from_both_indexes(library, ingestor, retriever):
    kept = ingestor.ingest_bytes("kept.txt", _text("lighthouses"))
    gone = ingestor.ingest_bytes("gone.txt", _text("submarines"))
    library.delete(library.find("gone.txt").doc_id)
    assert _consistent(library) == {kept.doc_id: kept.chunks}
    for mode in ("vector", "bm25", "hybrid"):
        sources = {
            c.source for c in retriever.search("submarines", SearchOptions(mode=mode)).chunks
        }
        assert "gone.txt" not in sources
    with pytest.raises(DocumentNotFoundError):
        library.find(gone.doc_id)


def test_a_document_is_invisible_until_it_is_complete(library, ingestor, retriever, monkeypatch):
    monkeypatch.setattr(ingest.pipeline, "WRITE_BATCH", 2)
    seen_while_writing = []

    def search_midway(done: int, total: int, step: Step) -> None:
        found = retriever.search("penguins", SearchOptions(mode="hybrid", k=10)).chunks
        seen_while_writing.append((done, len(found)))

    outcome = ingestor.ingest_bytes("birds.txt", _text("penguins", 150), progress=search_midway)
    assert outcome.chunks > 2 and len(seen_while_writing) > 1
    assert all(found == 0 for _, found in seen_while_writing)
    assert retriever.search("penguins", SearchOptions(mode="hybrid")).chunks


def test_a_failed_file_leaves_nothing_behind_and_the_next_one_ingests(library, ingestor):
    bad = ingestor.ingest_bytes("broken.pdf", b"%PDF-1.7\n garbage without structure")
    good = ingestor.ingest_bytes("good.txt", _text("orchards"))
    assert bad.status is FileStatus.FAILED and "unreadable" in bad.reason
    assert good.status is FileStatus.INGESTED
    assert _consistent(library) == {good.doc_id: good.chunks}


@pytest.mark.parametrize("failing", ["save", "publish"])
def test_a_failed_save_or_publish_leaves_no_record_file_or_chunk(
    library, ingestor, monkeypatch, failing
):
    def broken(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    if failing == "save":
        monkeypatch.setattr("pathlib.Path.write_bytes", broken)
    else:
        catalog = library.inspect_stores().catalog
        real = catalog.put

        def publish_fails(records):
            records = list(records)
            if any(r.status.value == "ready" for r in records):
                broken()
            real(records)

        monkeypatch.setattr(catalog, "put", publish_fails)
    outcome = ingestor.ingest_bytes("tides.txt", _text("tides"))
    assert outcome.status is FileStatus.FAILED and "disk is full" in outcome.reason
    monkeypatch.undo()
    stores = library.inspect_stores()
    assert stores.catalog.records() == []  # no pending record waits for a restart
    assert stores.chunks.count() == stores.words.count() == 0
    assert not library.original_path(outcome.doc_id).exists()
    assert ingestor.ingest_bytes("tides.txt", _text("tides")).status is FileStatus.INGESTED


def test_filter_by_document_and_minimum_scores(library, ingestor, retriever):
    a = ingestor.ingest_bytes("a.txt", _text("tides"))
    ingestor.ingest_bytes("b.txt", _text("tides and moons"))
    only_a = retriever.search("tides", SearchOptions(doc_ids=(a.doc_id,), k=20))
    assert only_a.chunks and {c.doc_id for c in only_a.chunks} == {a.doc_id}
    strict = retriever.search("tides", SearchOptions(mode="vector", min_vector=0.99))
    assert not strict.chunks
    loose = retriever.search("tides", SearchOptions(mode="vector", min_vector=-1.0))
    assert all(c.vector.value >= -1.0 for c in loose.chunks) and loose.chunks


def test_hybrid_results_carry_every_score_with_its_rank(library, ingestor, retriever):
    ingestor.ingest_path(pdf("pdfjs_tracemonkey.pdf"))
    result = retriever.search(
        "trace trees for loops in JavaScript", SearchOptions(k=10, fusion=Fusion.RRF)
    )
    assert [c.rank for c in result.chunks] == list(range(1, 11))
    fused = [c.fused.value for c in result.chunks]
    assert fused == sorted(fused, reverse=True)
    for chunk in result.chunks:
        assert chunk.fused.kind.describe().startswith("RRF")
        assert chunk.vector is None or chunk.vector.kind.describe() == "cosine similarity, -1..1"
        assert chunk.bm25 is None or chunk.bm25.kind.describe() == "BM25, unbounded"
        expected = sum(1 / (60 + s.rank) for s in (chunk.vector, chunk.bm25) if s is not None)
        assert chunk.fused.value == pytest.approx(expected)
    timings = result.timings
    assert None not in (timings.embed_ms, timings.vector_ms, timings.bm25_ms, timings.fusion_ms)
    assert timings.total_ms >= timings.vector_ms


def test_default_hybrid_fuses_normalised_scores(library, ingestor, retriever):
    ingestor.ingest_path(pdf("pdfjs_tracemonkey.pdf"))
    result = retriever.search("trace trees for loops in JavaScript", SearchOptions(k=10))
    fused = [c.fused.value for c in result.chunks]
    assert fused == sorted(fused, reverse=True) and all(0.0 <= f <= 1.0 for f in fused)
    assert result.chunks[0].fused.kind.describe().startswith("relative score, 0..1")
    # A chunk both retrievers ranked first would score 1; the top one here is close to it.
    top = result.chunks[0]
    assert top.vector is not None and top.bm25 is not None and fused[0] > 0.5


def test_opening_a_collection_with_another_embedder_is_refused(make_library, embedder):
    library = make_library()
    Ingestor(library).ingest_bytes("x.txt", _text("comets"))

    class OtherModel:
        identity = replace(embedder.identity, model="another/model")

        def __getattr__(self, name):
            return getattr(embedder, name)

    with pytest.raises(EmbedderMismatchError, match="another/model"):
        Library.open(library.settings, OtherModel())


def test_langchain_retriever_returns_documents_with_scores(library, ingestor):
    ingestor.ingest_bytes("sea.txt", _text("coral reefs"))
    documents = LibraryRetriever(retriever=Retriever(library)).invoke("coral reefs")
    assert documents
    first = documents[0].metadata
    assert first["source"] == "sea.txt" and first["fused_rank"] == 1
    assert {"vector_score", "bm25_score", "fused_score", "page_start"} <= set(first)


def test_a_scan_reports_each_page_it_reads_before_its_chunks_are_embedded(ingestor):
    seen: list[tuple[int, int, Step]] = []
    scan = scanned_pdf(["Owls hunt at dusk.", "Bats hunt at night."], seed=5)
    outcome = ingestor.ingest_bytes("owls.pdf", scan, progress=lambda *step: seen.append(step))
    assert outcome.pages_ocr == (1, 2), outcome.reason
    # Each page as its text layer is read, then each page again by text recognition.
    assert seen[:4] == [(1, 2, Step.READ), (2, 2, Step.READ), (1, 2, Step.OCR), (2, 2, Step.OCR)]
    assert seen[4:] and all(step is Step.EMBED for *_, step in seen[4:])
