"""Which documents retrieval may return: the catalog's published ids, read cheaply.

Reading the catalog on every query would cost more than the search itself once there are
thousands of documents, so the list of visible documents is cached:

- with the embedded store only this process may write the data folder
  (rag.stores.folder_lock), so the list is kept until a library of this process changes
  the documents of that collection (publish, delete, discard, repair), and read again on
  the next query;
- with a Chroma server other app processes write at any time, so the list is read again
  after SERVER_CATALOG_TTL_S too: a document another process published or deleted shows
  or goes that much later at most.

Several libraries of one process may hold the same collection (the app reopens its engine
when settings change): a write through any of them makes every one read the catalog again.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from rag.config import Settings
from rag.stores.binary_index import KeptBinaryIndex
from rag.stores.protocols import Catalog
from rag.stores.repair import WordIndexFollower

SERVER_CATALOG_TTL_S = 1.0

# Collection key -> how many times this process changed its documents. A cached list
# remembers the count it was read at and is stale once the count moves on.
_changes: dict[tuple, int] = {}
_changes_guard = threading.Lock()


def collection_key(settings: Settings) -> tuple:
    """What identifies the documents of the settings' collection within this process."""
    if settings.server_mode:
        return ("server", settings.chroma_host, settings.chroma_port, settings.collection)
    return ("folder", str(settings.data_dir.resolve()), settings.collection)


def documents_changed(key: tuple) -> None:
    """The documents of the collection `key` changed: every cached list of it is stale."""
    with _changes_guard:
        _changes[key] = _changes.get(key, 0) + 1


def _change_count(key: tuple) -> int:
    return _changes.get(key, 0)  # one dict read: atomic, no lock needed


@dataclass(frozen=True)
class _Reading:
    ids: frozenset[str]
    changes: int  # the collection's change count when the catalog was read
    at: float  # time.monotonic() of the reading


class VisibleDocuments:
    """The ids of the published documents, cached as said above; safe to share between
    threads.

    In server mode each reading also brings this node's word index in line with the
    catalog (see WordIndexFollower). A change seen from outside drops the binary index.
    """

    def __init__(
        self,
        catalog: Catalog,
        follower: WordIndexFollower,
        binary: KeptBinaryIndex,
        settings: Settings,
        lock: threading.RLock,
    ) -> None:
        self._catalog = catalog
        self._follower = follower
        self._binary = binary
        self._server_mode = settings.server_mode
        self._key = collection_key(settings)
        self._lock = lock  # the library's, which guards the follower too
        self._reading: _Reading | None = None

    def ids(self) -> set[str]:
        """Ids of the published documents, read again when a write or the server's time
        limit made the cached list stale."""
        # A fresh list is returned without the library's lock, so that a search never waits
        # for chunks being written by an ingestion.
        reading = self._reading
        if reading is None or not self._fresh(reading):
            reading = self._read()
        return set(reading.ids)

    def forget(self) -> None:
        """This process changed the documents: read the catalog again next time, and
        rebuild the binary index when it is next used."""
        documents_changed(self._key)
        self._binary.drop()

    def _fresh(self, reading: _Reading) -> bool:
        if reading.changes != _change_count(self._key):
            return False
        return not self._server_mode or time.monotonic() - reading.at < SERVER_CATALOG_TTL_S

    def _read(self) -> _Reading:
        with self._lock:
            reading = self._reading
            if reading is not None and self._fresh(reading):
                return reading  # another thread read it while this one waited
            # The count is taken before the catalog is read: a write that lands during the
            # read moves it on, so the next query reads again.
            changes = _change_count(self._key)
            ready = self._catalog.ready_ids()
            if self._server_mode:
                self._follower.follow(ready)
            if reading is not None and ready != reading.ids:
                self._binary.drop()  # another process changed the documents
            self._reading = _Reading(frozenset(ready), changes, time.monotonic())
            return self._reading
