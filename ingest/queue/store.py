"""The jobs of one collection's queue, kept in SQLite beside the files waiting their turn.

`<data>/queue/<collection>.sqlite` holds the jobs; `<data>/queue/<collection>/` holds each
waiting file's bytes under its job id until the job ends, so a queue of many large files
costs disk, not memory, and survives a restart. Several processes may read and add jobs
(SQLite's own locking, WAL journal); only the process that holds the data folder runs
them. Passwords of protected PDFs are never written: they stay in the memory of the
process that queued the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from ingest.files import FileStatus, IngestOutcome
from ingest.queue.jobs import Job, JobState
from rag.config import Settings
from rag.errors import StoreError

# Finished jobs are kept this long (the page shows the newest), then forgotten when a
# worker starts; "Clear this list" forgets them at once.
KEEP_FINISHED_S = 7 * 24 * 3600
# Finished jobs `jobs()` returns by default.
FINISHED_LISTED = 500
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    state TEXT NOT NULL,
    enqueued_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    pages_done INTEGER NOT NULL DEFAULT 0,
    pages_total INTEGER NOT NULL DEFAULT 0,
    chunks_done INTEGER NOT NULL DEFAULT 0,
    chunks_total INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    outcome TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, id);
"""
_ACTIVE = (JobState.QUEUED.value, JobState.RUNNING.value)


class JobStore:
    """The queue of one collection: add files, claim the next, record progress and ends."""

    def __init__(self, settings: Settings) -> None:
        folder = settings.data_dir / "queue"
        self.files = folder / settings.collection
        try:
            self.files.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                folder / f"{settings.collection}.sqlite", timeout=30, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"The ingestion queue could not be opened: {exc}") from exc
        self._lock = threading.Lock()
        self._passwords: dict[int, str] = {}

    def close(self) -> None:
        """Close the database (the jobs stay on disk)."""
        with self._lock:
            self._db.close()

    # Adding and cancelling --------------------------------------------------------------

    def enqueue(self, name: str, data: bytes, password: str | None = None) -> int:
        """Queue a file's bytes under its name; its job id. The same bytes already waiting
        or running are not queued twice: their job's id comes back. The bytes go to disk
        first, so a job never exists without its file."""
        sha256 = hashlib.sha256(data).hexdigest()
        with self._write() as db:
            same = db.execute(
                "SELECT id FROM jobs WHERE sha256 = ? AND state IN (?, ?) AND cancel_requested = 0",
                (sha256, *_ACTIVE),
            ).fetchone()
            if same is not None:
                return same[0]
            job_id = db.execute(
                "INSERT INTO jobs (name, size, sha256, state, enqueued_at) VALUES (?, ?, ?, ?, ?)",
                (name, len(data), sha256, JobState.QUEUED.value, time.time()),
            ).lastrowid
            assert job_id is not None
            self.file_of(job_id).write_bytes(data)
        if password:
            self._passwords[job_id] = password
        return job_id

    def cancel(self, job_id: int | None = None) -> int:
        """Cancel one job, or every unfinished one (None); how many were asked to stop.

        A waiting job ends at once; a running one stops at its next step and leaves
        nothing behind (the worker discards its chunks)."""
        where, args = ("AND id = ?", (job_id,)) if job_id is not None else ("", ())
        with self._write() as db:
            asked = db.execute(
                f"UPDATE jobs SET cancel_requested = 1 WHERE state IN (?, ?) {where}",
                (*_ACTIVE, *args),
            ).rowcount
            stopped = db.execute(
                "SELECT id FROM jobs WHERE state = ? AND cancel_requested = 1",
                (JobState.QUEUED.value,),
            ).fetchall()
        for (stopped_id,) in stopped:
            self.finish(stopped_id, JobState.CANCELLED)
        return asked

    def clear_finished(self) -> None:
        """Forget every finished job."""
        with self._write() as db:
            db.execute("DELETE FROM jobs WHERE state NOT IN (?, ?)", _ACTIVE)

    # Reading -----------------------------------------------------------------------------

    def jobs(self, limit: int = FINISHED_LISTED) -> list[Job]:
        """Every unfinished job in queue order, then up to `limit` finished ones, newest
        first."""
        active = self._select("WHERE state IN (?, ?) ORDER BY id", _ACTIVE)
        done = self._select("WHERE state NOT IN (?, ?) ORDER BY id DESC LIMIT ?", (*_ACTIVE, limit))
        return active + done

    def job(self, job_id: int) -> Job | None:
        """One job as last recorded; None if it is unknown or forgotten."""
        found = self._select("WHERE id = ?", (job_id,))
        return found[0] if found else None

    def cancel_requested(self, job_id: int) -> bool:
        """True once someone asked to cancel the job."""
        job = self.job(job_id)
        return job is None or job.cancel_requested

    def file_of(self, job_id: int) -> Path:
        """Where a job's file waits."""
        return self.files / str(job_id)

    def password_of(self, job_id: int) -> str | None:
        """The password given with the file, if this process queued it with one."""
        return self._passwords.get(job_id)

    # The worker's side -------------------------------------------------------------------

    def resume(self) -> int:
        """Put jobs that a stopped process left running back in the queue, and forget
        jobs finished long ago; how many were put back."""
        with self._write() as db:
            db.execute(
                "DELETE FROM jobs WHERE state NOT IN (?, ?) AND finished_at < ?",
                (*_ACTIVE, time.time() - KEEP_FINISHED_S),
            )
            return db.execute(
                "UPDATE jobs SET state = ?, started_at = NULL, pages_done = 0, pages_total = 0,"
                " chunks_done = 0, chunks_total = 0 WHERE state = ?",
                (JobState.QUEUED.value, JobState.RUNNING.value),
            ).rowcount

    def claim_next(self) -> Job | None:
        """Mark the oldest waiting job running and return it; None when none waits."""
        with self._write() as db:
            row = db.execute(
                "SELECT id FROM jobs WHERE state = ? AND cancel_requested = 0 ORDER BY id LIMIT 1",
                (JobState.QUEUED.value,),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET state = ?, started_at = ? WHERE id = ?",
                (JobState.RUNNING.value, time.time(), row[0]),
            )
        return self.job(row[0])

    def record_progress(
        self,
        job_id: int,
        *,
        pages: tuple[int, int] | None = None,
        chunks: tuple[int, int] | None = None,
    ) -> None:
        """Record pages read (done, total) or chunks embedded (done, total)."""
        fields = {}
        if pages is not None:
            fields.update(pages_done=pages[0], pages_total=pages[1])
        if chunks is not None:
            fields.update(chunks_done=chunks[0], chunks_total=chunks[1])
        sets = ", ".join(f"{name} = ?" for name in fields)
        with self._write() as db:
            db.execute(f"UPDATE jobs SET {sets} WHERE id = ?", (*fields.values(), job_id))

    def finish(self, job_id: int, state: JobState, outcome: IngestOutcome | None = None) -> None:
        """Record how a job ended and drop its waiting file."""
        saved = json.dumps(outcome.as_dict()) if outcome is not None else None
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET state = ?, finished_at = ?, outcome = ? WHERE id = ?",
                (state.value, time.time(), saved, job_id),
            )
        self._passwords.pop(job_id, None)
        self.file_of(job_id).unlink(missing_ok=True)

    # SQLite ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction; a failure of the database is a StoreError."""
        try:
            with self._lock, self._db:
                yield self._db
        except sqlite3.Error as exc:
            raise StoreError(f"The ingestion queue could not be written: {exc}") from exc

    def _select(self, clause: str, args: tuple) -> list[Job]:
        try:
            with self._lock:
                rows = self._db.execute(f"SELECT * FROM jobs {clause}", args).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"The ingestion queue could not be read: {exc}") from exc
        return [_job(row) for row in rows]


def _job(row: tuple) -> Job:
    (job_id, name, size, _sha256, state, enqueued, started, finished, *counts, cancel, outcome) = (
        row
    )
    return Job(
        job_id,
        name,
        size,
        JobState(state),
        enqueued,
        started,
        finished,
        *counts,
        cancel_requested=bool(cancel),
        outcome=_outcome(outcome),
    )


def _outcome(saved: str | None) -> IngestOutcome | None:
    if saved is None:
        return None
    data = json.loads(saved)
    tuples = ("pages_without_text", "pages_with_junk_text", "pages_ocr")
    data.update({key: tuple(data[key]) for key in tuples}, status=FileStatus(data["status"]))
    return IngestOutcome(**data)
