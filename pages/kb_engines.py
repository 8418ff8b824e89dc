"""The engines of a data folder's knowledge bases: each opened once per process, on demand,
with its ingestion queue's worker, and a thread that opens those with files waiting.

Every knowledge base has its own queue (`queue/<collection>.sqlite`). A worker runs only
inside an open engine, so a queue whose knowledge base no session has chosen would never
move: files that `ingest add --kb NAME` queues while the app holds the data folder (the
command line then leaves them to the app), or that a stopped app left unfinished. The
watcher therefore looks every few seconds for knowledge bases with unfinished jobs that are
not open yet, and opens them; an engine, once open, stays open for the process, its worker
idle between files. Running a worker for the chosen knowledge base only would leave those
files waiting until someone happened to pick theirs.

Opening and deleting a knowledge base are serialised per collection (its "gate"), so that
nothing reopens a knowledge base while it is being deleted: its engine is closed and its
worker stopped first, and an opener that waited at the gate finds it gone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ingest.pipeline import Ingestor
from ingest.queue import IngestQueue, JobStore
from ingest.viewer import PageViewer
from rag.access import Gate
from rag.config import Settings
from rag.engine import Engine
from rag.errors import StoreError
from rag.kb import KnowledgeBase, KnowledgeBaseNotFoundError, KnowledgeBases

log = logging.getLogger(__name__)

# How often the watcher looks for queued files of knowledge bases not open yet.
WATCH_EVERY_S = 2.0
# A knowledge base that failed to open (a model that cannot be loaded, say) is tried again
# after this long, so that its failure is logged now and then, not every few seconds.
RETRY_AFTER_S = 60.0


@dataclass(frozen=True)
class OpenedKb:
    """A knowledge base's engine with what the pages use beside it (thread-safe, shared)."""

    engine: Engine
    # One ingestor per engine: it holds the per-document upload locks.
    ingestor: Ingestor
    # None when the data folder is read-only.
    queue: IngestQueue | None
    # Keeps the pages drawn last in memory.
    viewer: PageViewer

    def close(self) -> None:
        """Stop the queue's worker (a file part-way waits for the next start), then close
        the engine."""
        if self.queue is not None:
            self.queue.close()
        self.engine.close()


class KbEngines:
    """The open knowledge bases of one data folder, the list of them (`registry`) and the
    rules of who may use them (`gate`).

    `open_one(settings)` opens one knowledge base's engine from its settings.
    """

    def __init__(self, settings: Settings, open_one: Callable[[Settings], OpenedKb]) -> None:
        self.registry = KnowledgeBases.open(settings)
        self.gate = Gate.of(self.registry)
        self.settings = settings
        self._settings, self._open_one = settings, open_one
        self._lock = threading.Lock()
        self._gates: dict[str, threading.Lock] = {}
        self._opened: dict[str, OpenedKb] = {}
        self._failed: dict[str, float] = {}
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def opened(self, kb: KnowledgeBase) -> OpenedKb | None:
        """The engine of `kb` if it is open."""
        with self._lock:
            return self._opened.get(kb.collection)

    def get(self, kb: KnowledgeBase) -> OpenedKb:
        """The engine of `kb`, opened the first time; KnowledgeBaseNotFoundError when it
        has been deleted meanwhile."""
        found = self.opened(kb)
        if found is not None:
            return found
        with self._gate(kb.collection):
            found = self.opened(kb)
            if found is not None:
                return found
            if not any(k.collection == kb.collection for k in self.registry.list()):
                raise KnowledgeBaseNotFoundError(f"The knowledge base {kb.name!r} was deleted")
            opened = self._open_one(self.registry.settings_of(kb))
            with self._lock:
                if self._stop.is_set():  # closed meanwhile: nothing may outlive it
                    opened.close()
                    raise StoreError("The library was closed; reload the page")
                self._opened[kb.collection] = opened
        return opened

    @contextmanager
    def closed(self, collection: str) -> Iterator[None]:
        """Close the knowledge base's engine and stop its worker; nothing opens it again
        until the block ends (delete it inside)."""
        with self._gate(collection):
            with self._lock:
                opened = self._opened.pop(collection, None)
            if opened is not None:
                opened.close()
            yield

    def watch(self) -> None:
        """Start the thread that opens knowledge bases with files waiting in their queue."""
        self._watcher = threading.Thread(target=self._watch, name="kb-queues", daemon=True)
        self._watcher.start()

    def close(self) -> None:
        """Stop the watcher, close every engine (their workers stop), then the list."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()
        with self._lock:
            opened, self._opened = list(self._opened.values()), {}
        for one in opened:
            one.close()
        self.registry.close()

    def _gate(self, collection: str) -> threading.Lock:
        with self._lock:
            return self._gates.setdefault(collection, threading.Lock())

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_EVERY_S):
            try:
                for kb in self.registry.list():
                    if not self._stop.is_set() and self._should_open(kb):
                        self._open_waiting(kb)
            except Exception:  # the watcher must outlive any one failure
                log.exception("Looking for queued files failed; trying again")

    def _should_open(self, kb: KnowledgeBase) -> bool:
        with self._lock:
            if kb.collection in self._opened:
                return False  # its own worker follows its queue
            failed_at = self._failed.get(kb.collection)
        if failed_at is not None and time.monotonic() - failed_at < RETRY_AFTER_S:
            return False
        return self._has_waiting(kb)

    def _has_waiting(self, kb: KnowledgeBase) -> bool:
        settings = self.registry.settings_of(kb)
        # The queue's database as JobStore lays it out: looked for first, so that a
        # knowledge base nobody queued files into gets no queue files.
        if not (settings.data_dir / "queue" / f"{settings.collection}.sqlite").is_file():
            return False
        store = JobStore(settings)
        try:
            return bool(store.jobs(limit=0))  # the unfinished jobs only
        finally:
            store.close()

    def _open_waiting(self, kb: KnowledgeBase) -> None:
        try:
            self.get(kb)
        except KnowledgeBaseNotFoundError:
            return  # deleted since it was listed
        except Exception:
            log.exception("Could not open knowledge base %r to ingest its queue", kb.name)
            with self._lock:
                self._failed[kb.collection] = time.monotonic()
            return
        log.info("Ingesting the files queued for knowledge base %r", kb.name)


# The engines a process runs with the HTTP service (serve.py), which its pages use too.
_hosted: list[KbEngines] = []


@contextmanager
def hosting(engines: KbEngines) -> Iterator[None]:
    """Make `engines` the ones the pages of this process use, for the block."""
    _hosted.append(engines)
    try:
        yield
    finally:
        _hosted.remove(engines)


def hosted_engines(settings: Settings) -> KbEngines | None:
    """The hosted engines, if any were opened with these settings."""
    return next((e for e in _hosted if e.settings == settings), None)
