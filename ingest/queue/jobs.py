"""One queued file and its progress, and how long the rest of the queue should take."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from ingest.files import FileStatus, IngestOutcome

# Finished jobs whose speed predicts the rest: recent ones, as the machine is now.
RECENT_JOBS = 20
# Below this share of its chunks embedded, a job's own speed says too little.
MIN_FRACTION = 0.05


class JobState(StrEnum):
    """Where a job is: waiting, being read or embedded, or finished one way or another."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """True once the job will not change again."""
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class Job:
    """A file in the queue, as last recorded: its progress, and its outcome once finished.

    `pages_done` counts pages read by text recognition as they are read, then every page
    once the file is read; `chunks_done` counts chunks embedded and written.
    """

    id: int
    name: str
    size: int
    state: JobState
    enqueued_at: float
    started_at: float | None = None
    finished_at: float | None = None
    pages_done: int = 0
    pages_total: int = 0
    chunks_done: int = 0
    chunks_total: int = 0
    cancel_requested: bool = False
    outcome: IngestOutcome | None = None

    @property
    def reading(self) -> bool:
        """True while the file is being read (its chunks are not yet counted)."""
        return self.state is JobState.RUNNING and self.chunks_total == 0

    @property
    def fraction(self) -> float:
        """How much of the job is done, 0 to 1, by chunks embedded."""
        if self.state.finished:
            return 1.0
        return self.chunks_done / self.chunks_total if self.chunks_total else 0.0

    def progress_text(self) -> str:
        """ "waiting", "reading page 3 of 40", "12 pages read, 128 of 400 chunks embedded",
        or how it ended."""
        if self.state is JobState.QUEUED:
            return "waiting"
        if self.state.finished:
            return self.state.value if self.outcome is None else _ended(self.outcome)
        if self.reading:
            if self.pages_total:
                return f"reading page {self.pages_done:,} of {self.pages_total:,}"
            return "reading…"
        return (
            f"{self.pages_total:,} pages read, {self.chunks_done:,} of"
            f" {self.chunks_total:,} chunks embedded"
        )


def _ended(outcome: IngestOutcome) -> str:
    if outcome.status is FileStatus.FAILED:
        return f"failed: {outcome.reason}"
    return outcome.status.value


@dataclass(frozen=True)
class QueueEta:
    """Seconds until the running job and the whole queue should be done (None: unknown
    yet), and the speed they were judged by, in bytes of files a second."""

    job_s: float | None
    queue_s: float | None
    bytes_per_s: float | None


def queue_eta(jobs: Sequence[Job], now: float) -> QueueEta:
    """The time left, from the speed of recent finished jobs (bytes a second), or while
    none has finished, from the running job's own speed."""
    running = [j for j in jobs if j.state is JobState.RUNNING and j.started_at is not None]
    waiting = sum(j.size for j in jobs if j.state is JobState.QUEUED)
    speed = _recent_speed(jobs) or _own_speed(running, now)
    if speed is None:
        return QueueEta(None, None, None)
    left_in_running = [j.size * (1 - j.fraction) for j in running]
    job_s = left_in_running[0] / speed if left_in_running else None
    return QueueEta(job_s, (sum(left_in_running) + waiting) / speed, speed)


def _recent_speed(jobs: Sequence[Job]) -> float | None:
    timed = [
        j
        for j in jobs
        if j.state is JobState.DONE and j.started_at is not None and j.finished_at is not None
    ]
    recent = sorted(timed, key=lambda j: j.finished_at or 0.0)[-RECENT_JOBS:]
    seconds = sum((j.finished_at or 0.0) - (j.started_at or 0.0) for j in recent)
    return sum(j.size for j in recent) / seconds if recent and seconds > 0 else None


def _own_speed(running: Sequence[Job], now: float) -> float | None:
    measured = [j for j in running if j.fraction >= MIN_FRACTION]
    if not measured:
        return None
    job = measured[0]
    started = now if job.started_at is None else job.started_at
    return job.size * job.fraction / max(now - started, 1e-3)
