"""The job store and the time-left estimate, on a real SQLite file in a temporary folder."""

from __future__ import annotations

import pytest

from ingest.files import FileStatus, IngestOutcome
from ingest.queue import Job, JobState, JobStore, queue_eta
from rag.config import Settings


@pytest.fixture
def store(tmp_path) -> JobStore:
    return JobStore(Settings(data_dir=tmp_path / "data"))


def test_a_queued_file_waits_on_disk_and_the_same_bytes_are_queued_once(store):
    first = store.enqueue("a.pdf", b"%PDF- one", password="secret")
    again = store.enqueue("copy of a.pdf", b"%PDF- one")
    other = store.enqueue("b.txt", b"two")
    assert again == first and other != first
    assert store.file_of(first).read_bytes() == b"%PDF- one"
    assert store.password_of(first) == "secret" and store.password_of(other) is None
    # The password is never written to disk.
    assert b"secret" not in (store.files.parent / "documents.sqlite").read_bytes()
    assert [(j.name, j.state) for j in store.jobs()] == [
        ("a.pdf", JobState.QUEUED),
        ("b.txt", JobState.QUEUED),
    ]


def test_jobs_are_claimed_in_order_and_a_restart_puts_running_ones_back(store, tmp_path):
    ids = [store.enqueue(f"{n}.txt", f"text {n}".encode()) for n in range(3)]
    claimed = store.claim_next()
    assert claimed is not None and claimed.id == ids[0] and claimed.state is JobState.RUNNING
    store.record_progress(ids[0], chunks=(5, 10))
    store.close()
    reopened = JobStore(Settings(data_dir=tmp_path / "data"))
    assert reopened.resume() == 1
    job = reopened.job(ids[0])
    assert job is not None and job.state is JobState.QUEUED and job.chunks_done == 0
    assert [j.id for j in reopened.jobs()] == ids


def test_cancelling_a_waiting_job_ends_it_and_a_running_one_is_asked_to_stop(store):
    running, waiting = store.enqueue("a.txt", b"a"), store.enqueue("b.txt", b"b")
    store.claim_next()
    assert store.cancel(waiting) == 1
    assert store.job(waiting).state is JobState.CANCELLED
    assert not store.file_of(waiting).exists()
    assert store.claim_next() is None  # nothing left to claim
    assert not store.cancel_requested(running)
    assert store.cancel(None) == 1  # --all: the running one, which stops at its next step
    assert store.job(running).state is JobState.RUNNING and store.cancel_requested(running)


def test_a_finished_job_keeps_its_outcome_and_finished_jobs_can_be_cleared(store):
    job = store.enqueue("scan.pdf", b"%PDF- scan")
    outcome = IngestOutcome(
        "scan.pdf", FileStatus.INGESTED, None, "d1", 3, (2,), 7, (), "page", (1, 3)
    )
    store.finish(job, JobState.DONE, outcome)
    finished = store.job(job)
    assert finished.outcome == outcome and finished.progress_text() == "ingested"
    assert not store.file_of(job).exists()
    store.clear_finished()
    assert store.jobs() == []


def _job(n: int, state: JobState, size: int, **times) -> Job:
    return Job(n, f"f{n}", size, state, 0.0, **times)


def test_time_left_comes_from_recent_finished_jobs():
    jobs = [
        _job(1, JobState.DONE, 1000, started_at=0.0, finished_at=10.0),  # 100 bytes/s
        _job(2, JobState.RUNNING, 1000, started_at=10.0, chunks_done=5, chunks_total=10),
        _job(3, JobState.QUEUED, 3000),
    ]
    eta = queue_eta(jobs, now=15.0)
    assert eta.bytes_per_s == pytest.approx(100.0)
    assert eta.job_s == pytest.approx(5.0) and eta.queue_s == pytest.approx(35.0)


def test_time_left_from_the_running_job_alone_and_unknown_before_it_starts():
    waiting = [_job(1, JobState.QUEUED, 500)]
    assert queue_eta(waiting, now=1.0).queue_s is None
    running = _job(2, JobState.RUNNING, 1000, started_at=0.0, chunks_done=1, chunks_total=4)
    eta = queue_eta([running, *waiting], now=5.0)  # a quarter in 5 s: 50 bytes/s
    assert eta.job_s == pytest.approx(15.0) and eta.queue_s == pytest.approx(25.0)


@pytest.mark.parametrize(
    ("job", "text"),
    [
        (_job(1, JobState.QUEUED, 1), "waiting"),
        (_job(1, JobState.RUNNING, 1), "reading…"),
        (_job(1, JobState.RUNNING, 1, pages_done=3, pages_total=9), "reading page 3 of 9"),
        (
            _job(
                1, JobState.RUNNING, 1, pages_done=9, pages_total=9, chunks_done=4, chunks_total=8
            ),
            "9 pages read, 4 of 8 chunks embedded",
        ),
        (_job(1, JobState.CANCELLED, 1), "cancelled"),
    ],
)
def test_progress_in_words(job, text):
    assert job.progress_text() == text


def test_finished_jobs_stay_listed_until_they_are_old(store, monkeypatch):
    ids = [store.enqueue(f"{n}.txt", f"text {n}".encode()) for n in range(3)]
    for job_id in ids:
        store.claim_next()
        store.finish(job_id, JobState.DONE)
    store.resume()
    assert [j.id for j in store.jobs()] == ids[::-1]  # newest first, none forgotten
    assert [j.id for j in store.jobs(limit=1)] == ids[-1:]
    monkeypatch.setattr("ingest.queue.store.KEEP_FINISHED_S", -1.0)
    store.resume()
    assert store.jobs() == []
