"""The library of documents: the vector store, the lexical index and the catalog together.

A document becomes visible only when its catalog record says READY, and that is written
last, after its chunks are in both indexes. Whatever a crash leaves behind is therefore
invisible, and `repair()` removes or completes it when the library is next opened.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from rag.config import Settings
from rag.documents import Chunk, DocumentRecord, DocumentStatus
from rag.errors import DataFolderReadOnlyError, DocumentNotFoundError, StoreError
from rag.providers.embeddings import Embedder, EmbedderIdentity, make_embedder
from rag.stores.binary_index import BinaryIndex
from rag.stores.chroma import ChromaStore, connect
from rag.stores.folder_lock import FolderLock, lock_folder
from rag.stores.lexical import LexicalIndex
from rag.stores.storage import check_free_space, storage_errors, stored_size

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


def collection_identity(embedder: Embedder, settings: Settings) -> EmbedderIdentity:
    """What a collection records: the embedder, and the distance chosen for it."""
    return replace(embedder.identity, distance=settings.distance)


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
    folder_lock: FolderLock | None = field(default=None, repr=False)
    # True when the data folder could not be written: searching works, changes are refused.
    read_only: bool = False
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _visible: tuple[float, set[str]] | None = field(default=None, repr=False)
    # Server mode: documents this node's BM25 index holds, and those it is writing now.
    _lexical_docs: set[str] | None = field(default=None, repr=False)
    _writing: set[str] = field(default_factory=set, repr=False)
    _binary: BinaryIndex | None = field(default=None, repr=False)

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None) -> Library:
        """Open (or create) the stores the settings name, and repair what a crash left.

        The data folder is taken for this process (see rag.folder_lock): a second process
        opening it is refused with DataFolderInUseError. `close()` gives it back. A
        read-only data folder opens for searching only (see `read_only`).
        """
        embedder = embedder or make_embedder(settings)
        try:
            folder_lock = lock_folder(settings.data_dir)
        except DataFolderReadOnlyError as exc:
            log.warning("%s: documents can be searched, not added or deleted", exc)
            return cls._open_read_only(settings, embedder)
        try:
            vectors = ChromaStore(
                connect(settings), settings.collection, collection_identity(embedder, settings)
            )
            lexical = LexicalIndex(settings.data_dir / "lexical" / settings.collection)
            library = cls(settings, embedder, vectors, lexical, folder_lock=folder_lock)
            library.last_repair = library.repair()
        except BaseException:
            folder_lock.release()
            raise
        # A library dropped without close() still gives the folder back.
        weakref.finalize(library, folder_lock.release)
        if not library.last_repair.clean:
            log.warning("Repaired the library at start-up: %s", library.last_repair)
        return library

    @classmethod
    def _open_read_only(cls, settings: Settings, embedder: Embedder) -> Library:
        # Neither embedded Chroma nor tantivy opens a read-only folder, even to read, so
        # they open a private copy; the copy is never written back.
        copy = Path(tempfile.mkdtemp(prefix="rag-read-only-"))
        lexical_path = Path("lexical") / settings.collection
        try:
            if not settings.server_mode:
                shutil.copytree(settings.data_dir / "chroma", copy / "chroma")
            if (settings.data_dir / lexical_path).is_dir():
                shutil.copytree(settings.data_dir / lexical_path, copy / lexical_path)
            client = connect(settings, copy / "chroma")
            vectors = ChromaStore(
                client, settings.collection, collection_identity(embedder, settings)
            )
            lexical = LexicalIndex(copy / lexical_path)
        except BaseException:
            shutil.rmtree(copy, ignore_errors=True)
            raise
        library = cls(settings, embedder, vectors, lexical, read_only=True)
        weakref.finalize(library, shutil.rmtree, str(copy), True)
        return library

    def close(self) -> None:
        """Give the data folder back, so that another process may open it."""
        if self.folder_lock is not None:
            self.folder_lock.release()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *_) -> None:
        self.close()

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
                ready = self.vectors.ready_ids()
                if self.settings.server_mode:
                    self._catch_up_lexical(ready)
                if self._visible is not None and ready != self._visible[1]:
                    self._binary = None  # another process changed the documents
                self._visible = (time.monotonic(), ready)
            return set(self._visible[1])

    def binary_index(self) -> BinaryIndex:
        """Sign bits of every stored vector (see rag.binary_index), built on first use after
        any change to the documents."""
        with self._lock:
            if self._binary is None:
                dimensions = self.embedder.identity.dimensions
                with storage_errors("read the vectors"):
                    self._binary = BinaryIndex.build(self.vectors, dimensions)
            return self._binary

    def _catch_up_lexical(self, ready: set[str]) -> None:
        """Server mode: index what other app processes published, drop what they deleted.

        Each node keeps its own BM25 index; the documents themselves live on the server.
        """
        if self._lexical_docs is None:
            self._lexical_docs = set(self.lexical.chunk_counts())
        for doc_id in sorted(ready - self._lexical_docs):
            self.lexical.add(self.vectors.chunks_of(doc_id))
            self._lexical_docs.add(doc_id)
        gone = self._lexical_docs - ready - self._writing
        if gone:
            self.lexical.delete_documents(sorted(gone))
            self._lexical_docs -= gone

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
        """Record several documents as pending in one catalog write, then save their files.

        The record comes first, so that whatever a crash leaves (a file too) has a pending
        record for `repair()` to remove.
        """
        self._check_space("save the file", sum(len(original) for _, original in documents))
        now = time.time()
        with self._lock:
            self._writing |= {record.doc_id for record, _ in documents}
        with self._undone_on_failure([record for record, _ in documents]):
            with storage_errors("record the document"):
                self.vectors.put_records(
                    replace(record, status=DocumentStatus.PENDING, added_at=now)
                    for record, _ in documents
                )
            with storage_errors("save the file"):
                for record, original in documents:
                    path = self.original_path(record.doc_id)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(original)

    def write_chunks(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Add a batch of chunks of a pending document to both indexes."""
        self._check_space("write the chunks", stored_size(chunks, vectors))
        with self._lock, storage_errors("write the chunks"):
            self.vectors.add_chunks(chunks, vectors)
            self.lexical.add(chunks)
            if self._lexical_docs is not None:
                self._lexical_docs |= {chunk.doc_id for chunk in chunks}

    def publish(self, record: DocumentRecord, replaces: DocumentRecord | None = None) -> None:
        """Make a document visible; if it replaces an older version, retire that one."""
        self.publish_many([(record, replaces)])

    def publish_many(
        self, documents: Sequence[tuple[DocumentRecord, DocumentRecord | None]]
    ) -> None:
        """Make documents visible, each retiring the older version it replaces (if any).

        The versions to retire are looked up again here, under the lock: another session
        may have published a version of the same name since the caller looked.
        """
        now = time.time()
        published = [
            replace(new, status=DocumentStatus.READY, added_at=now) for new, _ in documents
        ]
        with self._lock, self._undone_on_failure(published):
            self._check_space("publish the document", 0)
            retired = self._older_versions(published, [old for _, old in documents])
            records = published + [replace(old, status=DocumentStatus.DELETING) for old in retired]
            # One write flips both records, so searches never see both versions or neither.
            with storage_errors("publish the document"):
                self.vectors.put_records(records)
            self._writing -= {record.doc_id for record in published}
            self._changed()
            # The new version is published whatever happens now: the old one is hidden.
            for old in retired:
                self._try_remove(old.doc_id)

    def _older_versions(
        self, published: Sequence[DocumentRecord], expected: Sequence[DocumentRecord | None]
    ) -> list[DocumentRecord]:
        new_ids = {record.doc_id for record in published}
        found = self.vectors.ready_records_named({record.name for record in published})
        older = {r.doc_id: r for r in found if r.doc_id not in new_ids}
        # Whatever the caller found counts too, even if a name query missed it.
        older.update({r.doc_id: r for r in expected if r is not None and r.doc_id not in new_ids})
        return list(older.values())

    def delete(self, doc_id: str) -> None:
        """Remove a document from retrieval, both indexes and the catalog."""
        # Deleting is how users free space, so only a read-only folder stops it.
        self._check_writable("delete the document")
        with self._lock:
            record = next((r for r in self.vectors.records() if r.doc_id == doc_id), None)
            if record is None:
                raise DocumentNotFoundError(f"No document with id {doc_id!r}")
            with storage_errors("delete the document"):
                self.vectors.put_records([replace(record, status=DocumentStatus.DELETING)])
                self._changed()
                self._remove(doc_id)

    def discard(self, doc_id: str) -> None:
        """Remove a pending document whose ingestion failed; never raises.

        If storage fails here too (a full disk, a read-only folder), what is left stays
        invisible and is removed when the library is next opened.
        """
        self._try_remove(doc_id)

    @contextmanager
    def _undone_on_failure(self, records: Sequence[DocumentRecord]) -> Iterator[None]:
        """Remove these unpublished documents if the block fails, so that a failed write
        leaves nothing behind until the next start (or nothing at all)."""
        try:
            yield
        except Exception:
            for record in records:
                self._try_remove(record.doc_id)
            raise

    def _try_remove(self, doc_id: str) -> None:
        """Remove a document that is no longer visible; what a failure leaves, repair removes."""
        with self._lock:
            try:
                self._remove(doc_id)
            except Exception as exc:
                log.warning("Could not remove document %s yet: %s", doc_id, exc)

    def _check_writable(self, action: str) -> None:
        if self.read_only:
            raise StoreError(
                f"Could not {action}: the data folder is read-only, so documents can be"
                " searched but not added or deleted."
            )

    def _check_space(self, action: str, needed: int) -> None:
        """Refuse a write that is not allowed, or would leave too little free space."""
        self._check_writable(action)
        settings = self.settings
        check_free_space(settings.data_dir, needed, settings.min_free_mb, action)

    def _changed(self) -> None:
        with self._lock:
            self._visible = None
            self._binary = None

    def _remove(self, doc_id: str) -> None:
        self._changed()
        self._writing.discard(doc_id)
        if self._lexical_docs is not None:
            self._lexical_docs.discard(doc_id)
        self.lexical.delete_documents([doc_id])
        self.vectors.delete_chunks(doc_id)
        # The record goes last: until then, a crash leaves it for repair() to finish.
        self.original_path(doc_id).unlink(missing_ok=True)
        self.vectors.delete_record(doc_id)

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
