"""The library of documents: the vector store, the lexical index and the catalog together.

A document becomes visible only when its catalog record says READY, and that is written
last, after its chunks are in both indexes. Whatever a crash leaves behind is therefore
invisible, and `repair()` removes or completes it when the library is next opened.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from rag.config import Settings
from rag.documents import Chunk, DocumentRecord, DocumentStatus
from rag.embeddings import Embedder, make_embedder
from rag.errors import DocumentNotFoundError
from rag.lexical import LexicalIndex
from rag.vector_store import ChromaStore, connect

log = logging.getLogger(__name__)

# In server mode other app processes may be ingesting right now; only a pending record
# this old is taken for the leftover of a crash.
SERVER_STALE_AFTER_S = 3600.0
# Reading the catalog on every query would cost more than the search itself once there are
# thousands of documents. With the embedded store, the list of visible documents is cached,
# dropped on every write made through this library, and re-read after this many seconds in
# case a command-line tool wrote to the same data folder. In server mode other app
# processes write at any time, so the catalog is read on every call.
CATALOG_TTL_S = 1.0


def original_path(data_dir: Path, collection: str, doc_id: str) -> Path:
    """Where a collection keeps the original bytes of a document."""
    return data_dir / "files" / collection / doc_id


def read_catalog(settings: Settings, collection: str) -> list[DocumentRecord]:
    """The ready documents of any collection, whatever embedder built it."""
    records = ChromaStore.read_catalog(connect(settings), collection)
    return [r for r in records if r.status is DocumentStatus.READY]


@dataclass(frozen=True)
class RepairReport:
    """What `repair()` found and fixed."""

    removed_unfinished: tuple[str, ...] = ()
    reindexed_lexical: tuple[str, ...] = ()
    removed_orphans: tuple[str, ...] = ()
    vector_mismatch: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        """True when nothing needed fixing."""
        return not (
            self.removed_unfinished
            or self.reindexed_lexical
            or self.removed_orphans
            or self.vector_mismatch
        )


@dataclass
class Library:
    """Documents and their chunks in Chroma and the BM25 index, kept in agreement."""

    settings: Settings
    embedder: Embedder
    vectors: ChromaStore
    lexical: LexicalIndex
    last_repair: RepairReport = field(default_factory=RepairReport)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _visible: tuple[float, set[str]] | None = field(default=None, repr=False)

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None) -> Library:
        """Open (or create) the stores the settings name, and repair what a crash left."""
        embedder = embedder or make_embedder(settings)
        vectors = ChromaStore(connect(settings), settings.collection, embedder.identity)
        lexical = LexicalIndex(settings.data_dir / "lexical" / settings.collection)
        library = cls(settings, embedder, vectors, lexical)
        library.last_repair = library.repair()
        if not library.last_repair.clean:
            log.warning("Repaired the library at start-up: %s", library.last_repair)
        return library

    # Reading ------------------------------------------------------------------------------

    def documents(self) -> list[DocumentRecord]:
        """The visible documents, newest first."""
        ready = [r for r in self.vectors.records() if r.status is DocumentStatus.READY]
        return sorted(ready, key=lambda r: r.added_at, reverse=True)

    def visible_ids(self) -> set[str]:
        """Ids of the documents retrieval may return (read on every query: kept cheap)."""
        with self._lock:
            ttl = 0.0 if self.settings.server_mode else CATALOG_TTL_S
            if self._visible is None or time.monotonic() - self._visible[0] >= ttl:
                self._visible = (time.monotonic(), self.vectors.ready_ids())
            return set(self._visible[1])

    def find(self, id_or_name: str) -> DocumentRecord:
        """A visible document by id, id prefix or file name; raises DocumentNotFoundError."""
        docs = self.documents()
        matches = [d for d in docs if id_or_name in (d.doc_id, d.name)]
        matches = matches or [d for d in docs if d.doc_id.startswith(id_or_name)]
        if len(matches) != 1:
            problem = "No document" if not matches else "More than one document"
            raise DocumentNotFoundError(f"{problem} matches {id_or_name!r}")
        return matches[0]

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """The chunks of one document, in order."""
        return self.vectors.chunks_of(doc_id)

    def original_path(self, doc_id: str) -> Path:
        """Where the original bytes of a document are kept (for viewing and re-indexing)."""
        return original_path(self.settings.data_dir, self.settings.collection, doc_id)

    # Writing ------------------------------------------------------------------------------

    def begin(self, record: DocumentRecord, original: bytes) -> None:
        """Record a document as pending before any of its chunks is written."""
        self.begin_many([(record, original)])

    def begin_many(self, documents: Sequence[tuple[DocumentRecord, bytes]]) -> None:
        """Record several documents as pending in one catalog write."""
        for record, original in documents:
            path = self.original_path(record.doc_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(original)
        now = time.time()
        self.vectors.put_records(
            replace(record, status=DocumentStatus.PENDING, added_at=now) for record, _ in documents
        )

    def write_chunks(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Add a batch of chunks of a pending document to both indexes."""
        with self._lock:
            self.vectors.add_chunks(chunks, vectors)
            self.lexical.add(chunks)

    def publish(self, record: DocumentRecord, replaces: DocumentRecord | None = None) -> None:
        """Make a document visible; if it replaces an older version, retire that one."""
        self.publish_many([(record, replaces)])

    def publish_many(
        self, documents: Sequence[tuple[DocumentRecord, DocumentRecord | None]]
    ) -> None:
        """Make documents visible, each retiring the older version it replaces (if any)."""
        now = time.time()
        records = [replace(new, status=DocumentStatus.READY, added_at=now) for new, _ in documents]
        retired = [old for _, old in documents if old is not None]
        records += [replace(old, status=DocumentStatus.DELETING) for old in retired]
        with self._lock:
            # One write flips both records, so searches never see both versions or neither.
            self.vectors.put_records(records)
            self._changed()
            for old in retired:
                self._remove(old.doc_id)

    def delete(self, doc_id: str) -> None:
        """Remove a document from retrieval, both indexes and the catalog."""
        with self._lock:
            record = next((r for r in self.vectors.records() if r.doc_id == doc_id), None)
            if record is None:
                raise DocumentNotFoundError(f"No document with id {doc_id!r}")
            self.vectors.put_records([replace(record, status=DocumentStatus.DELETING)])
            self._changed()
            self._remove(doc_id)

    def discard(self, doc_id: str) -> None:
        """Remove a pending document whose ingestion failed."""
        with self._lock:
            self._remove(doc_id)

    def _changed(self) -> None:
        with self._lock:
            self._visible = None

    def _remove(self, doc_id: str) -> None:
        self._changed()
        self.lexical.delete_documents([doc_id])
        self.vectors.delete_chunks(doc_id)
        self.vectors.delete_record(doc_id)
        self.original_path(doc_id).unlink(missing_ok=True)

    # Repair -------------------------------------------------------------------------------

    def repair(self) -> RepairReport:
        """Finish or undo what an interrupted ingest or delete left, and re-align the indexes."""
        with self._lock:
            records = self.vectors.records()
            unfinished = [r.doc_id for r in records if self._is_unfinished(r)]
            for doc_id in unfinished:
                self._remove(doc_id)
            records = [r for r in records if r.doc_id not in unfinished]
            ready = {r.doc_id: r.chunks for r in records if r.status is DocumentStatus.READY}
            if self._totals_agree(ready, records):
                return RepairReport(removed_unfinished=tuple(unfinished))
            return replace(self._realign(ready, records), removed_unfinished=tuple(unfinished))

    def _is_unfinished(self, record: DocumentRecord) -> bool:
        if record.status is DocumentStatus.READY:
            return False
        if not self.settings.server_mode:
            return True
        return time.time() - record.added_at > SERVER_STALE_AFTER_S

    def _totals_agree(self, ready: dict[str, int], records: list[DocumentRecord]) -> bool:
        # Cheap check first: with nothing pending, both indexes hold exactly the ready chunks.
        if any(r.status is not DocumentStatus.READY for r in records):
            return False
        expected = sum(ready.values())
        return self.vectors.count() == expected and self.lexical.count() == expected

    def _realign(self, ready: dict[str, int], records: list[DocumentRecord]) -> RepairReport:
        known = {r.doc_id for r in records}
        vector_counts = self.vectors.chunk_counts()
        lexical_counts = self.lexical.chunk_counts()
        orphans = sorted((set(vector_counts) | set(lexical_counts)) - known)
        for doc_id in orphans:
            self.lexical.delete_documents([doc_id])
            self.vectors.delete_chunks(doc_id)
        mismatch = tuple(d for d, n in ready.items() if vector_counts.get(d, 0) != n)
        relex = tuple(
            d for d, n in ready.items() if d not in mismatch and lexical_counts.get(d, 0) != n
        )
        for doc_id in relex:
            # The vector store holds the text, so the lexical side can be rebuilt from it.
            self.lexical.delete_documents([doc_id])
            self.lexical.add(self.vectors.chunks_of(doc_id))
        return RepairReport(
            reindexed_lexical=relex, removed_orphans=tuple(orphans), vector_mismatch=mismatch
        )
