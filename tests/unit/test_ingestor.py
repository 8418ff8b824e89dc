"""Ingesting text documents into a library on in-memory stores."""

from __future__ import annotations

import pytest

from ingest.files import FileStatus, Step, TextDocument
from ingest.pipeline import Ingestor
from rag.results import SearchMode, SearchOptions
from rag.search.retriever import Retriever
from rag.stores.library import Library
from rag.stores.protocols import Stores
from tests.fakes import (
    HashEmbedder,
    MemoryCatalog,
    MemoryChunkIndex,
    MemoryWordIndex,
    memory_library,
)

RIVERS = TextDocument("rivers.txt", "The river runs quickly through the old town. " * 3)
TAXES = TextDocument("taxes.txt", "Taxes are due in April, and late taxes cost a fee.")
# Long enough for several chunks of 16 tokens.
LONG = TextDocument(
    "long.txt",
    "\n\n".join(f"Paragraph {n} tells of harbours, ships and their cargo." for n in range(6)),
)


@pytest.fixture
def embedder() -> HashEmbedder:
    """Counts what it embeds."""
    return HashEmbedder()


@pytest.fixture
def library(tmp_path, embedder) -> Library:
    """An empty library that cuts chunks of at most 16 tokens."""
    return memory_library(tmp_path / "data", embedder=embedder, chunk_tokens=16, chunk_overlap=4)


@pytest.fixture
def ingestor(library) -> Ingestor:
    """Ingests into `library`."""
    return Ingestor(library)


def found(library: Library, query: str) -> set[str]:
    """Names of the documents a word search finds."""
    result = Retriever(library).search(query, SearchOptions(mode=SearchMode.BM25, k=20))
    return {chunk.source for chunk in result.chunks}


def test_new_texts_are_ingested_and_published(library, ingestor):
    outcomes = ingestor.ingest_texts([RIVERS, TAXES])
    assert [o.status for o in outcomes] == [FileStatus.INGESTED, FileStatus.INGESTED]
    assert all(o.doc_id and o.chunks >= 1 and o.pages == 1 for o in outcomes)
    assert {d.name for d in library.documents()} == {"rivers.txt", "taxes.txt"}
    assert found(library, "taxes") == {"taxes.txt"}


def test_chunks_land_in_both_indexes_in_order(library, ingestor):
    [outcome] = ingestor.ingest_texts([LONG])
    assert outcome.chunks > 1
    stores = library.inspect_stores()
    counts = {outcome.doc_id: outcome.chunks}
    assert stores.chunks.chunk_counts() == counts
    assert stores.words.chunk_counts() == counts
    chunks = library.chunks_of(outcome.doc_id)
    assert [c.index for c in chunks] == list(range(outcome.chunks))
    assert all(c.text in LONG.text and c.source == "long.txt" for c in chunks)


def test_the_same_text_again_is_unchanged_and_not_embedded_again(library, ingestor, embedder):
    [first] = ingestor.ingest_texts([RIVERS])
    embedded = embedder.embedded
    [again] = ingestor.ingest_texts([RIVERS])
    assert again.status is FileStatus.UNCHANGED
    assert again.doc_id == first.doc_id
    assert embedder.embedded == embedded
    assert len(library.documents()) == 1


def test_a_changed_text_replaces_the_older_version(library, ingestor):
    [old] = ingestor.ingest_texts([RIVERS])
    [new] = ingestor.ingest_texts([TextDocument("rivers.txt", "Canals cross the flat country.")])
    assert new.status is FileStatus.REPLACED
    assert [d.doc_id for d in library.documents()] == [new.doc_id]
    assert found(library, "river") == set()
    assert found(library, "canals") == {"rivers.txt"}
    stores = library.inspect_stores()
    assert old.doc_id not in {r.doc_id for r in stores.catalog.records()}
    assert set(stores.chunks.chunk_counts()) == set(stores.words.chunk_counts()) == {new.doc_id}
    assert not library.original_path(old.doc_id).exists()
    assert library.original_path(new.doc_id).exists()


def test_a_text_without_words_fails_alone(library, ingestor):
    outcomes = ingestor.ingest_texts([TextDocument("empty.txt", "   "), TAXES])
    assert [o.status for o in outcomes] == [FileStatus.FAILED, FileStatus.INGESTED]
    assert outcomes[0].reason
    assert [d.name for d in library.documents()] == ["taxes.txt"]


def test_progress_is_reported_per_document(ingestor):
    seen: list[tuple[int, int, Step]] = []
    ingestor.ingest_texts([RIVERS, TAXES], progress=lambda *step: seen.append(step))
    assert seen == [(1, 2, Step.EMBED), (2, 2, Step.EMBED)]


class BreakableChunkIndex(MemoryChunkIndex):
    """A chunk index whose writes fail once `broken`, as a full disk makes them."""

    broken = False

    def add(self, chunks, vectors) -> None:
        """Store, or fail when broken."""
        if self.broken:
            raise OSError("No space left on device")
        super().add(chunks, vectors)


class BreakableWordIndex(MemoryWordIndex):
    """A word index whose writes fail once `broken`."""

    broken = False

    def add(self, chunks) -> None:
        """Index, or fail when broken."""
        if self.broken:
            raise OSError("No space left on device")
        super().add(chunks)


@pytest.fixture
def breakable() -> Stores:
    """Stores whose indexes can be made to fail."""
    return Stores(BreakableChunkIndex(), MemoryCatalog(), BreakableWordIndex())


@pytest.mark.parametrize("failing", ["chunks", "words"])
def test_a_failing_store_write_leaves_no_document_behind(tmp_path, breakable, failing):
    getattr(breakable, failing).broken = True
    library = memory_library(tmp_path / "data", stores=breakable)
    [outcome] = Ingestor(library).ingest_texts([RIVERS])
    assert outcome.status is FileStatus.FAILED
    assert "disk is full" in outcome.reason
    assert library.documents() == []
    assert breakable.catalog.records() == []
    assert breakable.chunks.count() == breakable.words.count() == 0
    assert not library.original_path(outcome.doc_id).exists()
    assert found(library, "river") == set()


@pytest.mark.parametrize("failing", ["chunks", "words"])
def test_a_failing_replacement_keeps_the_older_version(tmp_path, breakable, failing):
    library = memory_library(tmp_path / "data", stores=breakable)
    ingestor = Ingestor(library)
    [old] = ingestor.ingest_texts([RIVERS])
    getattr(breakable, failing).broken = True
    [new] = ingestor.ingest_texts([TextDocument("rivers.txt", "Canals everywhere.")])
    assert new.status is FileStatus.FAILED
    assert [d.doc_id for d in library.documents()] == [old.doc_id]
    assert found(library, "river") == {"rivers.txt"}
    assert (
        set(breakable.chunks.chunk_counts()) == set(breakable.words.chunk_counts()) == {old.doc_id}
    )


def test_files_committed_together_are_embedded_in_one_batch(library, ingestor, monkeypatch):
    [already] = ingestor.ingest_texts([TAXES])
    files = [("a.txt", b"Apples grow on trees."), ("b.txt", b"Bees make honey.")]
    prepared = [ingestor.prepare(name, data) for name, data in files]
    copy = ingestor.prepare("a copy.txt", b"Apples grow on trees.")  # the same bytes as a.txt
    batches: list[int] = []
    embed = library.embed_passages
    monkeypatch.setattr(library, "embed_passages", lambda t: batches.append(len(t)) or embed(t))
    outcomes = ingestor.commit_many(prepared)
    assert [o.status for o in outcomes] == [FileStatus.INGESTED] * 2
    assert batches == [2]
    assert {d.name for d in library.documents()} == {"a.txt", "b.txt", already.path}
    # Queued twice: read before the first was published, and unchanged once it is.
    assert ingestor.commit_many([copy])[0].status is FileStatus.UNCHANGED


@pytest.mark.parametrize("failing", ["chunks", "words"])
def test_files_committed_together_fail_together_and_leave_nothing(tmp_path, breakable, failing):
    library = memory_library(tmp_path / "data", stores=breakable)
    ingestor = Ingestor(library)
    prepared = [ingestor.prepare(f"{n}.txt", f"Note {n} on rivers.".encode()) for n in range(3)]
    getattr(breakable, failing).broken = True
    outcomes = ingestor.commit_many(prepared)
    assert [o.status for o in outcomes] == [FileStatus.FAILED] * 3
    assert library.documents() == [] and breakable.catalog.records() == []
    assert breakable.chunks.count() == breakable.words.count() == 0
