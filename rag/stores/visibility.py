"""Which documents retrieval may return: the catalog's published ids, read cheaply."""

from __future__ import annotations

import threading
import time

from rag.stores.binary_index import KeptBinaryIndex
from rag.stores.protocols import Catalog
from rag.stores.repair import WordIndexFollower

# Reading the catalog on every query would cost more than the search itself once there are
# thousands of documents. With the embedded store, the list of visible documents is cached,
# dropped on every write made through the library, and re-read after this many seconds in
# case a command-line tool wrote to the same data folder. In server mode other app
# processes write at any time, so the catalog is read on every call.
CATALOG_TTL_S = 1.0


class VisibleDocuments:
    """The ids of the published documents, cached as said above.

    In server mode each reading also brings this node's word index in line with the
    catalog (see WordIndexFollower). A change seen from outside drops the binary index.
    """

    def __init__(
        self,
        catalog: Catalog,
        follower: WordIndexFollower,
        binary: KeptBinaryIndex,
        server_mode: bool,
        lock: threading.RLock,
    ) -> None:
        self._catalog = catalog
        self._follower = follower
        self._binary = binary
        self._server_mode = server_mode
        self._lock = lock  # the library's, which guards the follower too
        self._cached: tuple[float, set[str]] | None = None

    def ids(self) -> set[str]:
        """Ids of the published documents, read again when the cache is too old."""
        with self._lock:
            ttl = 0.0 if self._server_mode else CATALOG_TTL_S
            if self._cached is None or time.monotonic() - self._cached[0] >= ttl:
                ready = self._catalog.ready_ids()
                if self._server_mode:
                    self._follower.follow(ready)
                if self._cached is not None and ready != self._cached[1]:
                    self._binary.drop()  # another process changed the documents
                self._cached = (time.monotonic(), ready)
            return set(self._cached[1])

    def forget(self) -> None:
        """This process changed the documents: read the catalog again next time, and
        rebuild the binary index when it is next used."""
        with self._lock:
            self._cached = None
        self._binary.drop()
