"""The ingestion queue with the real pipeline: many files, progress and time left, a file
cancelled part-way that leaves nothing behind while the others finish."""

from __future__ import annotations

import time

import pytest

from ingest.pipeline import Ingestor
from ingest.queue import Job, JobState, JobStore, QueueWorker, queue_eta
from tests.conftest import pdf

BOOK = "pdfminer_irs_i1040nr.pdf"  # 50 pages: several write batches to cancel between


def _notes(count: int) -> list[tuple[str, bytes]]:
    topics = ["comets", "glaciers", "volcanoes", "coral reefs", "deserts", "tides"]
    return [
        (f"note-{n:03}.txt", f"Note {n} about {topics[n % 6]}. {topics[n % 6]} change.".encode())
        for n in range(count)
    ]


def _wait_for(store: JobStore, done, timeout: float = 300) -> list[Job]:
    """Poll the store, as the page does, until `done(jobs)`; every look is kept."""
    seen: list[list[Job]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.append(store.jobs())
        if done(seen[-1]):
            return [job for jobs in seen for job in jobs]
        time.sleep(0.05)
    raise AssertionError(f"queue did not get there in {timeout} s: {seen[-1]}")


@pytest.fixture
def running(library):
    store = JobStore(library.settings)
    worker = QueueWorker(Ingestor(library), store)
    worker.start()
    yield store, worker
    worker.stop()


def test_many_files_are_ingested_in_order_with_progress_and_time_left(library, running):
    store, worker = running
    book = pdf(BOOK).read_bytes()
    ids = [store.enqueue(BOOK, book)] + [store.enqueue(n, d) for n, d in _notes(12)]
    worker.wake()
    seen = _wait_for(store, lambda jobs: all(j.state.finished for j in jobs))
    final = {job.id: job for job in store.jobs()}
    assert [final[i].state for i in ids] == [JobState.DONE] * len(ids)
    assert sorted(d.name for d in library.documents()) == sorted(
        [BOOK] + [n for n, _ in _notes(12)]
    )
    # Progress of the book was seen part-way: pages read, some of its chunks embedded.
    book_total = final[ids[0]].outcome.chunks
    part_way = [j for j in seen if j.id == ids[0] and 0 < j.chunks_done < book_total]
    assert part_way and part_way[0].chunks_total == book_total and part_way[0].pages_total == 50
    assert "50 pages read" in part_way[0].progress_text()
    # With the book done, the time left for the notes comes from its speed.
    assert queue_eta(list(final.values()), time.time()).bytes_per_s > 0
    assert not any(store.file_of(i).exists() for i in ids)  # waiting files are gone


def test_a_file_cancelled_part_way_leaves_nothing_and_the_others_finish(library, running):
    store, worker = running
    book = store.enqueue(BOOK, pdf(BOOK).read_bytes())
    notes = [store.enqueue(n, d) for n, d in _notes(3)]
    worker.wake()
    _wait_for(store, lambda jobs: any(j.id == book and j.chunks_done > 0 for j in jobs))
    assert store.cancel(book) == 1
    _wait_for(store, lambda jobs: all(j.state.finished for j in jobs))
    assert store.job(book).state is JobState.CANCELLED
    assert [store.job(n).state for n in notes] == [JobState.DONE] * 3
    names = [d.name for d in library.documents()]
    assert BOOK not in names and len(names) == 3
    stores = library.inspect_stores()
    visible = {d.doc_id: d.chunks for d in library.documents()}
    assert stores.chunks.chunk_counts() == stores.words.chunk_counts() == visible


def test_a_stopped_worker_leaves_the_file_queued_and_the_next_one_finishes_it(library):
    store = JobStore(library.settings)
    worker = QueueWorker(Ingestor(library), store)
    book = store.enqueue(BOOK, pdf(BOOK).read_bytes())
    worker.start()
    _wait_for(store, lambda jobs: jobs[0].chunks_done > 0)
    worker.stop()
    assert store.job(book).state is JobState.QUEUED and library.documents() == []
    QueueWorker(Ingestor(library), store).run_until_empty()
    assert store.job(book).state is JobState.DONE
    assert [d.name for d in library.documents()] == [BOOK]


def test_small_files_already_read_are_written_together(library, monkeypatch):
    published: list[int] = []
    publish_many = library.publish_many

    def counting(records):
        published.append(len(records))
        return publish_many(records)

    monkeypatch.setattr(library, "publish_many", counting)
    store = JobStore(library.settings)
    notes = _notes(40)
    ids = [store.enqueue(name, data) for name, data in notes]
    cancelled = ids[20]
    store.cancel(cancelled)  # waiting: it never starts, and the batch goes on without it
    QueueWorker(Ingestor(library), store).run_until_empty()
    assert [store.job(i).state for i in ids if i != cancelled] == [JobState.DONE] * 39
    assert store.job(cancelled).state is JobState.CANCELLED
    assert len(library.documents()) == 39 and sum(published) == 39
    assert len(published) < 39 / 2  # several files to a write, not one each
    stores = library.inspect_stores()
    visible = {d.doc_id: d.chunks for d in library.documents()}
    assert stores.chunks.chunk_counts() == stores.words.chunk_counts() == visible


def test_a_defect_while_reading_fails_that_file_and_the_queue_goes_on(library, monkeypatch):
    ingestor = Ingestor(library)
    prepare = ingestor.prepare

    def defective(name, *args):
        if name == "bad.txt":
            raise KeyError("pages")  # a defect, not a bad file: no IngestError
        return prepare(name, *args)

    monkeypatch.setattr(ingestor, "prepare", defective)
    store = JobStore(library.settings)
    bad, good = (store.enqueue(n, d) for n, d in [("bad.txt", b"One."), ("good.txt", b"Two.")])
    QueueWorker(ingestor, store).run_until_empty()
    assert store.job(bad).state is JobState.FAILED
    assert store.job(bad).outcome.reason == "internal error while reading: KeyError"
    assert store.job(good).state is JobState.DONE
