"""The worker: ingests a collection's queued files one after another, in a background thread.

While one file is embedded (the model keeps the cores busy), the next is already being
read in its parser process, so a queue of many files spends little time waiting on
parsing; small files already read are written together. Progress goes to the job store at
most a few times a second. A job cancelled while it runs stops at its next progress
report: its chunks are discarded and nothing of it becomes visible. Only the process that
holds the data folder runs a worker; at start it puts back in the queue whatever a stopped
process left running, and ingests it again (a document's id is its bytes' hash, so nothing
is duplicated).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from ingest.files import FileStatus, IngestOutcome, Step
from ingest.pipeline import WRITE_BATCH, Ingestor, PreparedFile
from ingest.queue.jobs import Job, JobState
from ingest.queue.store import JobStore
from rag.errors import IngestError

log = logging.getLogger(__name__)

# Progress is written to the store at most this often per job (and at each step's end).
REPORT_EVERY_S = 0.25
# How long an idle worker waits before it looks for jobs queued by another process.
POLL_S = 1.0
# Small files are committed together, up to this many files and WRITE_BATCH chunks: their
# stores' cost per file (catalog writes, an index commit) would otherwise outweigh their
# embedding. A file joins only if it is read within BATCH_WAIT_S of being wanted.
BATCH_FILES, BATCH_WAIT_S = 64, 0.5
CANCELLED = "cancelled"


class JobCancelledError(IngestError):
    """A job was cancelled while it ran."""


# A job that has been read: the file ready to embed, or already its outcome.
Read = tuple[Job, PreparedFile | IngestOutcome]
Ready = Future[Read]


class QueueWorker:
    """Runs the queue of `store` through `ingestor`; `start()` in the background, or
    `run_until_empty()` in the caller's thread."""

    def __init__(self, ingestor: Ingestor, store: JobStore) -> None:
        self._ingestor, self._store = ingestor, store
        self._wake, self._stop = threading.Event(), threading.Event()
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="queue-reader")
        self._thread: threading.Thread | None = None
        self.resumed = store.resume()
        if self.resumed:
            log.info("Resuming %d job(s) a stopped process left unfinished", self.resumed)

    def start(self) -> None:
        """Run the queue in a background thread until `stop()`."""
        self._thread = threading.Thread(target=self._serve, name="ingest-queue", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look for new jobs now, not at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop soon: the file at hand stops at its next step, nothing of it is kept, and it
        waits in the queue with the rest for the next worker."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._reader.shutdown(wait=True, cancel_futures=True)

    def run_until_empty(self) -> None:
        """Ingest every queued job, in this thread, and return when none is left."""
        self._drain()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                self._drain()
            except Exception:  # the worker must outlive any one failure
                log.exception("The ingestion queue worker failed; it goes on")
            self._wake.wait(POLL_S)
            self._wake.clear()

    def _drain(self) -> None:
        """Ingest jobs until none waits: the next one is read while this one is embedded."""
        ready, first = self._read_next(), True
        while ready is not None and not self._stop.is_set():
            # The first file alone, so the first document is searchable soonest.
            batch, ready = self._gather(ready, 1 if first else BATCH_FILES)
            first = False
            self._commit(batch)
        if self._stop.is_set():  # the jobs read ahead or stopped part-way wait again
            self._store.resume()

    def _read_next(self) -> Ready | None:
        job = self._store.claim_next()
        return None if job is None else self._reader.submit(self._prepare, job)

    def _prepare(self, job: Job) -> tuple[Job, PreparedFile | IngestOutcome]:
        try:
            data = self._store.file_of(job.id).read_bytes()
        except OSError as exc:
            return job, IngestOutcome(job.name, FileStatus.FAILED, f"queued file lost: {exc}")
        password = self._store.password_of(job.id)
        try:
            return job, self._ingestor.prepare(job.name, data, password, self._reporter(job))
        except Exception as exc:  # a defect must fail this file, not leave it running
            log.exception("Reading %s failed", job.name)
            why = f"internal error while reading: {type(exc).__name__}"
            return job, IngestOutcome(job.name, FileStatus.FAILED, why)

    def _gather(self, ready: Ready, most: int) -> tuple[list[Read], Ready | None]:
        """(the jobs to commit together: this one and, while they are few chunks, the next
        ones as they are read, `most` in all; the job after them, being read)."""
        batch = [ready.result()]
        following = self._read_next()
        while following is not None and len(batch) < most:
            if _chunks(batch) >= WRITE_BATCH:
                break
            try:
                read = following.result(timeout=BATCH_WAIT_S)
            except TimeoutError:
                break  # a long file: it is read while this batch is embedded
            if _chunks([*batch, read]) > WRITE_BATCH:
                break
            batch.append(read)
            following = self._read_next()
        return batch, following

    def _commit(self, batch: list[Read]) -> None:
        files: list[tuple[Job, PreparedFile]] = []
        for job, prepared in batch:
            if self._store.cancel_requested(job.id):
                self._store.finish(job.id, JobState.CANCELLED)
            elif isinstance(prepared, PreparedFile):
                pages, chunks = prepared.record.pages, len(prepared.document.chunks)
                self._store.record_progress(job.id, pages=(pages, pages), chunks=(0, chunks))
                files.append((job, prepared))
            else:
                self._finish(job, prepared)
        if not files:
            return
        # One file reports its progress, and stops when cancelled; files written together
        # are written in one short step, and stop only when the worker stops.
        progress = self._reporter(files[0][0]) if len(files) == 1 else self._stopper()
        outcomes = self._ingestor.commit_many([prepared for _, prepared in files], progress)
        for (job, _), outcome in zip(files, outcomes, strict=True):
            self._finish(job, outcome)

    def _finish(self, job: Job, outcome: IngestOutcome) -> None:
        # A cancel that came after the document was published is too late: it stays.
        if outcome.status is not FileStatus.FAILED:
            self._store.finish(job.id, JobState.DONE, outcome)
        elif self._stop.is_set():
            return  # stopped part-way: `resume` puts it back in the queue
        elif self._store.cancel_requested(job.id):
            self._store.finish(job.id, JobState.CANCELLED)
        else:
            self._store.finish(job.id, JobState.FAILED, outcome)

    def _stopper(self):
        """The progress callback of files written together: stops when the worker stops."""

        def check(done: int, total: int, step: Step) -> None:
            if self._stop.is_set():
                raise JobCancelledError("stopped; the file waits in the queue")

        return check

    def _reporter(self, job: Job):
        """The progress callback of one job: records progress, and stops a cancelled job."""
        last = [0.0]

        def report(done: int, total: int, step: Step) -> None:
            now = time.monotonic()
            if done < total and now - last[0] < REPORT_EVERY_S:
                return
            last[0] = now
            if self._stop.is_set():
                raise JobCancelledError("stopped; the file waits in the queue")
            if self._store.cancel_requested(job.id):
                raise JobCancelledError(CANCELLED)
            if step is not Step.EMBED:
                self._store.record_progress(job.id, pages=(done, total))
            else:
                self._store.record_progress(job.id, chunks=(done, total))

        return report


def _chunks(batch: list[Read]) -> int:
    """The chunks of the files in `batch` (none for a file with an outcome already)."""
    return sum(len(p.document.chunks) for _, p in batch if isinstance(p, PreparedFile))
