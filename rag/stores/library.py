"""The library of documents: a chunk index, a catalog and a word index kept in agreement.

A document becomes visible only when its catalog record says READY, and that is written
last, after its chunks are in both indexes. Whatever a crash leaves behind is therefore
invisible, and `repair` (rag.stores.repair) removes or completes it when the library is
next opened. Callers ask the library for what they need; its stores stay its own.
"""

from __future__ import annotations

import logging
import shutil
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.config import Settings
from rag.distances import Distance
from rag.documents import Chunk, DocumentRecord, DocumentStatus
from rag.errors import DataFolderReadOnlyError, DocumentNotFoundError
from rag.providers.embeddings import Embedder, EmbedderIdentity, make_embedder
from rag.results import VectorIndex
from rag.stores.binary_index import BinaryIndex, KeptBinaryIndex
from rag.stores.collections import (
    collection_identity,
    open_read_only_copy,
    open_stores,
    recorded_precision,
)
from rag.stores.folder_lock import lock_folder
from rag.stores.protocols import Stores, VectorHit, WordHit
from rag.stores.repair import RepairReport, WordIndexFollower, repair
from rag.stores.vector_reader import VectorReader
from rag.stores.visibility import VisibleDocuments
from rag.stores.writing import DocumentWriter

log = logging.getLogger(__name__)


class Library:
    """Documents and their chunks in a chunk index and a word index, kept in agreement.

    `Library.open` opens the real stores; the constructor takes any stores (protocols in
    rag.stores.protocols), with the embedder that made (or makes) the stored vectors.
    """

    def __init__(
        self, settings: Settings, embedder: Embedder, stores: Stores, *, read_only: bool = False
    ) -> None:
        self.settings = settings
        # True when the data folder could not be written: searching works, changes are refused.
        self.read_only = read_only
        self.last_repair = RepairReport()
        self._embedder = embedder
        self._stores = stores
        self._chunks, self._catalog, self._words = stores.chunks, stores.catalog, stores.words
        self._lock = threading.RLock()
        self._follower = WordIndexFollower(stores)
        self._binary = KeptBinaryIndex(stores.chunks, embedder.identity.dimensions)
        self._visible = VisibleDocuments(
            stores.catalog, self._follower, self._binary, settings, self._lock
        )
        # Nothing the library holds refers back to it, so dropping it releases the folder.
        self._writer = DocumentWriter(
            settings, stores, self._follower, self._lock, self._visible.forget, read_only
        )
        self._release = lambda: None

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None) -> Library:
        """Open (or create) the stores the settings name, and repair what a crash left.

        The data folder is taken for this process (see rag.stores.folder_lock): a second
        process opening it is refused with DataFolderInUseError. `close()` gives it back. A
        read-only data folder opens for searching only (see `read_only`).
        """
        embedder = embedder or make_embedder(settings)
        identity = collection_identity(embedder, settings)
        try:
            folder_lock = lock_folder(settings.data_dir)
        except DataFolderReadOnlyError as exc:
            log.warning("%s: documents can be searched, not added or deleted", exc)
            stores, copy = open_read_only_copy(settings, identity)
            library = cls(settings, embedder, stores, read_only=True)
            weakref.finalize(library, shutil.rmtree, str(copy), True)
            return library
        try:
            settings, embedder = _follow_recorded_precision(settings, embedder)
            identity = collection_identity(embedder, settings)
            library = cls(settings, embedder, open_stores(settings, identity))
            library.last_repair = library._repair()
        except BaseException:
            folder_lock.release()
            raise
        # A library dropped without close() still gives the folder back.
        library._release = weakref.finalize(library, folder_lock.release)
        if not library.last_repair.clean:
            log.warning("Repaired the library at start-up: %s", library.last_repair)
        return library

    def open_other(self, settings: Settings) -> Library:
        """Open another collection with this library's embedding model, already loaded
        (EmbedderMismatchError if that collection was built with another)."""
        return Library.open(settings, self._embedder)

    def close(self) -> None:
        """Give the data folder back, so that another process may open it."""
        self._release()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    # The model ----------------------------------------------------------------------------

    @property
    def identity(self) -> EmbedderIdentity:
        """The collection's embedder and the distance it ranks by, as recorded with it."""
        return collection_identity(self._embedder, self.settings)

    @property
    def distance(self) -> Distance:
        """How the collection measures closeness."""
        return self._chunks.distance

    @property
    def tokenizer(self) -> Embedder:
        """The collection's model, to count tokens as it reads them (chunking does)."""
        return self._embedder

    def embed_query(self, text: str) -> np.ndarray:
        """A question's vector, made by the collection's model."""
        return self._embedder.embed_query(text)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of chunk texts, made by the collection's model."""
        return self._embedder.embed_documents(texts)

    # Reading ------------------------------------------------------------------------------

    def documents(self) -> list[DocumentRecord]:
        """The visible documents, newest first."""
        ready = [r for r in self._catalog.records() if r.status is DocumentStatus.READY]
        return sorted(ready, key=lambda r: r.added_at, reverse=True)

    def visible_ids(self) -> set[str]:
        """Ids of the documents retrieval may return (asked on every query: cached until
        the documents change, see rag.stores.visibility)."""
        return self._visible.ids()

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
        return self._chunks.chunks_of(doc_id)

    def stored_chunks(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        """Stored chunks by id, whatever their document's status (unknown ids left out)."""
        return self._chunks.get(chunk_ids)

    def original_path(self, doc_id: str) -> Path:
        """Where the original bytes of a document are kept (for viewing and re-indexing)."""
        return self._writer.original_path(doc_id)

    def vector_reader(self) -> VectorReader:
        """Bulk reads of the stored vectors (the embedding lab's)."""
        return VectorReader(self._chunks, self.visible_ids, self._embedder.identity.dimensions)

    def inspect_stores(self) -> Stores:
        """The stores themselves, for checks of what each one holds (the consistency and
        fault tests, benchmarks); everything else goes through the verbs of the library."""
        return self._stores

    # Searching ----------------------------------------------------------------------------

    def search_vectors(
        self,
        vector: np.ndarray,
        n: int,
        doc_ids: Sequence[str] | None = None,
        index: VectorIndex = VectorIndex.HNSW,
    ) -> list[VectorHit]:
        """The `n` chunks nearest to a query vector, best first, by the HNSW graph or the
        binary index; only from `doc_ids` if given. Chunks of unpublished documents are
        included: drop those not in `visible_ids()`."""
        if index is VectorIndex.BINARY:
            return self._binary.search(vector, n, set(doc_ids) if doc_ids else None)
        return self._chunks.query(vector, n, doc_ids)

    def search_words(
        self, query: str, n: int, doc_ids: Sequence[str] | None = None
    ) -> list[WordHit]:
        """The `n` best chunks by BM25 for free text, as `search_vectors` does by vector."""
        return self._words.search(query, n, doc_ids)

    def binary_index(self) -> BinaryIndex:
        """Sign bits of every stored vector (see rag.stores.binary_index), built on first
        use after any change to the documents."""
        return self._binary.current()

    # Writing (see rag.stores.writing) -----------------------------------------------------

    def begin(self, record: DocumentRecord, original: bytes) -> None:
        """Record a document as pending before any of its chunks is written."""
        self.begin_many([(record, original)])

    def begin_many(self, documents: Sequence[tuple[DocumentRecord, bytes]]) -> None:
        """Record several documents as pending in one catalog write, then save their files."""
        self._writer.begin_many(documents)

    def write_chunks(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Add a batch of chunks of a pending document, with their vectors, to both indexes."""
        self._writer.write_chunks(chunks, vectors)

    def publish(self, record: DocumentRecord) -> DocumentRecord | None:
        """Make a document visible; the older version of its name, retired here, or None."""
        return self.publish_many([record])[0]

    def publish_many(self, records: Sequence[DocumentRecord]) -> list[DocumentRecord | None]:
        """Make documents visible, each retiring the older version of its name (if any);
        the retired versions, or None, in the order of `records`."""
        return self._writer.publish_many(records)

    def delete(self, doc_id: str) -> None:
        """Remove a document from retrieval, both indexes and the catalog."""
        self._writer.delete(doc_id)

    def discard(self, doc_id: str) -> None:
        """Remove a pending document whose ingestion failed; never raises."""
        self._writer.discard(doc_id)

    def _repair(self) -> RepairReport:
        """Finish or undo what an interrupted ingest or delete left, and re-align the indexes."""
        with self._lock:
            return repair(self._stores, self._writer.remove, self.settings.server_mode)


def _follow_recorded_precision(settings: Settings, embedder: Embedder) -> tuple[Settings, Embedder]:
    """The settings and embedder for the collection as it was built: an fp32 collection keeps
    opening with the fp32 model when int8 is asked for (the default), and the reverse, so a
    change of precision never locks a library; re-indexing moves it (see the README)."""
    precision = recorded_precision(settings, collection_identity(embedder, settings))
    if precision is None:
        return settings, embedder
    log.info(
        "Collection %r holds %s vectors: searching it with them", settings.collection, precision
    )
    settings = settings.with_overrides(embed_precision=precision)
    return settings, make_embedder(settings)
