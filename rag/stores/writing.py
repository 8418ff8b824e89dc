"""Adding and removing documents so that a crash never leaves half of one visible.

A document is recorded as pending before anything else is written, then its original file
is saved and its chunks written to both indexes; its record says READY last. Removing runs
the other way round: the record is hidden first and deleted last. Whatever a crash leaves
is therefore a record that is not READY, which `repair` (rag.stores.repair) finishes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np

from rag.config import Settings
from rag.documents import Chunk, DocumentRecord, DocumentStatus
from rag.errors import DocumentNotFoundError, StoreError
from rag.stores.collections import original_path
from rag.stores.protocols import Stores
from rag.stores.repair import WordIndexFollower, remove_document
from rag.stores.storage import check_free_space, storage_errors, stored_size

log = logging.getLogger(__name__)


class DocumentWriter:
    """The write side of a library; thread-safe under the library's lock."""

    def __init__(
        self,
        settings: Settings,
        stores: Stores,
        follower: WordIndexFollower,
        lock: threading.RLock,
        changed: Callable[[], None],
        read_only: bool,
    ) -> None:
        self._settings = settings
        self._stores = stores
        self._chunks, self._catalog, self._words = stores.chunks, stores.catalog, stores.words
        self._follower = follower
        self._lock = lock
        self._changed = changed  # the documents changed: drop what was cached about them
        self._read_only = read_only

    def original_path(self, doc_id: str) -> Path:
        """Where the original bytes of a document are kept."""
        return original_path(self._settings.data_dir, self._settings.collection, doc_id)

    def begin_many(self, documents: Sequence[tuple[DocumentRecord, bytes]]) -> None:
        """Record several documents as pending in one catalog write, then save their files.

        The record comes first, so that whatever a crash leaves (a file too) has a pending
        record for `repair()` to remove.
        """
        self._check_space("save the file", sum(len(original) for _, original in documents))
        now = time.time()
        with self._lock:
            self._follower.writing(record.doc_id for record, _ in documents)
        with self._undone_on_failure([record for record, _ in documents]):
            with storage_errors("record the document"):
                self._catalog.put(
                    replace(record, status=DocumentStatus.PENDING, added_at=now)
                    for record, _ in documents
                )
            with storage_errors("save the file"):
                for record, original in documents:
                    path = self.original_path(record.doc_id)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(original)

    def write_chunks(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Add a batch of chunks of a pending document, with their vectors, to both indexes."""
        self._check_space("write the chunks", stored_size(chunks, vectors))
        with self._lock, storage_errors("write the chunks"):
            self._chunks.add(chunks, vectors)
            self._words.add(chunks)
            self._follower.indexed(chunk.doc_id for chunk in chunks)

    def publish_many(self, records: Sequence[DocumentRecord]) -> list[DocumentRecord | None]:
        """Make documents visible, each retiring the older version of its name (if any);
        the retired versions, or None, in the order of `records`.

        The older versions are looked up here, under the lock, so that a version another
        session published a moment ago is retired too.
        """
        now = time.time()
        published = [replace(new, status=DocumentStatus.READY, added_at=now) for new in records]
        with self._lock, self._undone_on_failure(published):
            self._check_space("publish the document", 0)
            retired = self._older_versions(published)
            writes = published + [replace(old, status=DocumentStatus.DELETING) for old in retired]
            # One write flips both records, so searches never see both versions or neither.
            with storage_errors("publish the document"):
                self._catalog.put(writes)
            self._follower.published(record.doc_id for record in published)
            self._changed()
            # The new version is published whatever happens now: the old one is hidden.
            for old in retired:
                self._try_remove(old.doc_id)
        by_name = {old.name: old for old in retired}
        return [by_name.get(record.name) for record in published]

    def _older_versions(self, published: Sequence[DocumentRecord]) -> list[DocumentRecord]:
        new_ids = {record.doc_id for record in published}
        found = self._catalog.ready_named({record.name for record in published})
        return [r for r in found if r.doc_id not in new_ids]

    def delete(self, doc_id: str) -> None:
        """Remove a document from retrieval, both indexes and the catalog."""
        # Deleting is how users free space, so only a read-only folder stops it.
        self._check_writable("delete the document")
        with self._lock:
            record = next((r for r in self._catalog.records() if r.doc_id == doc_id), None)
            if record is None:
                raise DocumentNotFoundError(f"No document with id {doc_id!r}")
            with storage_errors("delete the document"):
                self._catalog.put([replace(record, status=DocumentStatus.DELETING)])
                self._changed()
                self.remove(doc_id)

    def discard(self, doc_id: str) -> None:
        """Remove a pending document whose ingestion failed; never raises.

        If storage fails here too (a full disk, a read-only folder), what is left stays
        invisible and is removed when the library is next opened.
        """
        self._try_remove(doc_id)

    def remove(self, doc_id: str) -> None:
        """Take a document out of every store (the catalog last), whatever its status."""
        with self._lock:
            self._changed()
            self._follower.removed(doc_id)
            remove_document(self._stores, doc_id, self.original_path(doc_id))

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
                self.remove(doc_id)
            except Exception as exc:
                log.warning("Could not remove document %s yet: %s", doc_id, exc)

    def _check_writable(self, action: str) -> None:
        if self._read_only:
            raise StoreError(
                f"Could not {action}: the data folder is read-only, so documents can be"
                " searched but not added or deleted."
            )

    def _check_space(self, action: str, needed: int) -> None:
        """Refuse a write that is not allowed, or would leave too little free space."""
        self._check_writable(action)
        settings = self._settings
        check_free_space(settings.data_dir, needed, settings.min_free_mb, action)
