"""Bringing a library's three stores back into agreement.

`repair` runs when a library opens: it finishes or undoes what an interrupted ingest or
delete left (any record not READY: invisible, so safe to remove) and re-aligns both indexes
with the catalog. `WordIndexFollower` does the same for the word index while a library is
open on a Chroma server, where other app processes add and delete documents at any time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from rag.documents import DocumentRecord, DocumentStatus
from rag.stores.protocols import Stores

# In server mode other app processes may be ingesting right now; only a pending record
# this old is taken for the leftover of a crash.
SERVER_STALE_AFTER_S = 3600.0


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


def repair(stores: Stores, remove: Callable[[str], None], server_mode: bool) -> RepairReport:
    """Remove unfinished documents (with `remove`, which takes a document out of every
    store), then re-align both indexes with the catalog."""
    records = stores.catalog.records()
    unfinished = tuple(r.doc_id for r in records if is_unfinished(r, server_mode))
    for doc_id in unfinished:
        remove(doc_id)
    records = [r for r in records if r.doc_id not in unfinished]
    ready = {r.doc_id: r.chunks for r in records if r.status is DocumentStatus.READY}
    if _totals_agree(stores, ready, records):
        return RepairReport(removed_unfinished=unfinished)
    return replace(_realign(stores, ready, records), removed_unfinished=unfinished)


def remove_document(stores: Stores, doc_id: str, original: Path) -> None:
    """Take a document out of every store, and its original file away."""
    stores.words.delete_documents([doc_id])
    stores.chunks.delete_documents([doc_id])
    # The record goes last: until then, a crash leaves it for repair() to finish.
    original.unlink(missing_ok=True)
    stores.catalog.delete(doc_id)


def is_unfinished(record: DocumentRecord, server_mode: bool) -> bool:
    """True for the leftover of an ingest or delete that never finished."""
    if record.status is DocumentStatus.READY:
        return False
    if not server_mode:
        return True
    return time.time() - record.added_at > SERVER_STALE_AFTER_S


def _totals_agree(stores: Stores, ready: dict[str, int], records: list[DocumentRecord]) -> bool:
    # Cheap check first: with nothing pending, both indexes hold exactly the ready chunks.
    if any(r.status is not DocumentStatus.READY for r in records):
        return False
    expected = sum(ready.values())
    return stores.chunks.count() == expected and stores.words.count() == expected


def _realign(stores: Stores, ready: dict[str, int], records: list[DocumentRecord]) -> RepairReport:
    known = {r.doc_id for r in records}
    vector_counts = stores.chunks.chunk_counts()
    word_counts = stores.words.chunk_counts()
    orphans = sorted((set(vector_counts) | set(word_counts)) - known)
    for doc_id in orphans:
        stores.words.delete_documents([doc_id])
        stores.chunks.delete_documents([doc_id])
    mismatch = tuple(d for d, n in ready.items() if vector_counts.get(d, 0) != n)
    relex = tuple(d for d, n in ready.items() if d not in mismatch and word_counts.get(d, 0) != n)
    for doc_id in relex:
        # The chunk index holds the text and header, so the word index can be rebuilt
        # from it exactly as ingestion built it.
        stores.words.delete_documents([doc_id])
        stores.words.add(stores.chunks.chunks_of(doc_id))
    return RepairReport(
        reindexed_lexical=relex, removed_orphans=tuple(orphans), vector_mismatch=mismatch
    )


class WordIndexFollower:
    """Server mode: indexes what other app processes published, drops what they deleted.

    Each node keeps its own BM25 index; the documents themselves live on the server. The
    library tells the follower what it writes itself, so that a document of its own that
    is not published yet is never taken for one deleted elsewhere. Not thread-safe: the
    library calls it under its lock.
    """

    def __init__(self, stores: Stores) -> None:
        self._stores = stores
        self._indexed: set[str] | None = None  # read from the word index on first use
        self._writing: set[str] = set()

    def follow(self, ready: set[str]) -> None:
        """Bring the word index in line with the published documents `ready`."""
        words = self._stores.words
        if self._indexed is None:
            self._indexed = set(words.chunk_counts())
        for doc_id in sorted(ready - self._indexed):
            words.add(self._stores.chunks.chunks_of(doc_id))
            self._indexed.add(doc_id)
        gone = self._indexed - ready - self._writing
        if gone:
            words.delete_documents(sorted(gone))
            self._indexed -= gone

    def writing(self, doc_ids: Iterable[str]) -> None:
        """These documents are being written by this process."""
        self._writing |= set(doc_ids)

    def indexed(self, doc_ids: Iterable[str]) -> None:
        """Chunks of these documents were just added to the word index."""
        if self._indexed is not None:
            self._indexed |= set(doc_ids)

    def published(self, doc_ids: Iterable[str]) -> None:
        """These documents of this process are published."""
        self._writing -= set(doc_ids)

    def removed(self, doc_id: str) -> None:
        """This document was removed from the word index."""
        self._writing.discard(doc_id)
        if self._indexed is not None:
            self._indexed.discard(doc_id)
