"""The queue as the app uses it: one store and one worker per open library."""

from __future__ import annotations

import time

from ingest.pipeline import Ingestor
from ingest.queue.jobs import Job, QueueEta, queue_eta
from ingest.queue.store import JobStore
from ingest.queue.worker import QueueWorker


class IngestQueue:
    """Files queued for a library, ingested in the background by one worker thread.

    Made by the process that holds the data folder; it resumes what an earlier process
    left unfinished as soon as it starts. Thread-safe: every browser session shares it.
    """

    def __init__(self, ingestor: Ingestor, store: JobStore) -> None:
        self._store = store
        self._worker = QueueWorker(ingestor, store)
        self._worker.start()

    def add(self, name: str, data: bytes, password: str | None = None) -> int:
        """Queue one file; its job id (an identical file still queued keeps its job)."""
        job_id = self._store.enqueue(name, data, password)
        self._worker.wake()
        return job_id

    def cancel(self, job_id: int | None = None) -> int:
        """Cancel one job, or all unfinished ones (None); how many were asked to stop."""
        return self._store.cancel(job_id)

    def jobs(self) -> list[Job]:
        """Unfinished jobs in queue order, then the finished ones, newest first."""
        return self._store.jobs()

    def job(self, job_id: int) -> Job | None:
        """One job, finished or not; None if there is no such job (or it was cleared)."""
        return self._store.job(job_id)

    def eta(self, jobs: list[Job]) -> QueueEta:
        """The time left for the running job and for the whole queue."""
        return queue_eta(jobs, time.time())

    def clear_finished(self) -> None:
        """Forget the finished jobs (their documents stay)."""
        self._store.clear_finished()

    def close(self) -> None:
        """Stop the worker (a file part-way waits in the queue for the next start)."""
        self._worker.stop()
        self._store.close()
