"""The queue from the command line: `ingest add` queues files and ingests them, `ingest
queue` shows the queue, `ingest cancel` stops jobs, `ingest work` runs what is queued.
Each works on one knowledge base's queue (`--kb NAME`; `add --kb` creates a missing one).

`add` runs the queue itself when the data folder is free. When another process holds it
(the app is running on it), the files stay queued and that process's worker ingests them:
`add` says so and returns; `ingest queue` follows them.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from ingest.files import FileStatus, IngestOutcome, supported_files
from ingest.parsing import read_limited
from ingest.pipeline import Ingestor
from ingest.queue import Job, JobState, JobStore, QueueWorker, queue_eta
from rag.commands.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Target,
    print_json,
    settings_from,
    target_from,
)
from rag.config import Settings
from rag.engine import open_engine
from rag.errors import DataFolderInUseError, IngestError

# How often the command line looks at the queue while its worker runs.
WATCH_S = 0.2


def add(args: argparse.Namespace, report) -> int:
    """Queue the files (folders are walked), then ingest them here if the folder is free."""
    missing = [p for p in args.paths if not p.exists()]
    if missing:
        print(f"error: no such file or folder: {', '.join(map(str, missing))}", file=sys.stderr)
        return EXIT_USAGE
    target = target_from(args, create=True)
    settings = target.settings
    if target.created:
        print(
            f"created knowledge base {target.kb.name!r} with the default settings", file=sys.stderr
        )
    store = JobStore(settings)
    queued, refused = _enqueue(store, supported_files(args.paths), args.password, settings)
    outcomes = _run_here(settings, store, queued)
    if outcomes is None:
        print(
            f"queued {len(queued)} file(s); another process (the app?) has the data folder open"
            " and ingests them: follow them with `python -m ingest queue`",
            file=sys.stderr,
        )
        outcomes = []
    report(refused + outcomes, args.json, _knowledge_base_json(target))
    return EXIT_OK if all(o.ok for o in refused + outcomes) else EXIT_FAILED


def _knowledge_base_json(target: Target) -> dict:
    """With --kb, which knowledge base the files went to, and whether `add` created it."""
    if target.kb is None:
        return {}
    kb = target.kb
    return {
        "knowledge_base": {"name": kb.name, "collection": kb.collection, "created": target.created}
    }


def _enqueue(
    store: JobStore, files: list[Path], password: str | None, settings: Settings
) -> tuple[dict[int, Path], list[IngestOutcome]]:
    """Job id -> file for each file queued, and the outcomes of files refused at once."""
    queued, refused = {}, []
    for path in files:
        try:
            data = read_limited(path, settings.max_upload_mb * 1024 * 1024)
        except OSError as exc:
            refused.append(IngestOutcome(str(path), FileStatus.FAILED, f"cannot read: {exc}"))
            continue
        except IngestError as exc:
            refused.append(IngestOutcome(str(path), FileStatus.FAILED, str(exc)))
            continue
        queued[store.enqueue(path.name, data, password)] = path
    return queued, refused


def _run_here(
    settings: Settings, store: JobStore, queued: dict[int, Path]
) -> list[IngestOutcome] | None:
    """Run the queue in this process until the given jobs are finished; their outcomes
    (path as given). None when another process holds the data folder."""
    try:
        engine = open_engine(settings)
    except DataFolderInUseError:
        return None
    with engine:
        worker = QueueWorker(Ingestor(engine.library), store)
        worker.start()
        try:
            _watch(store, list(queued))
        finally:
            worker.stop()
    jobs = {job_id: store.job(job_id) for job_id in queued}
    return [_outcome_of(jobs[job_id], path) for job_id, path in queued.items()]


def _watch(store: JobStore, job_ids: list[int]) -> None:
    """A progress bar per running job on standard error, until every job has finished."""
    bars: dict[int, tqdm] = {}
    waiting_for = set(job_ids)
    while True:
        # One read of the unfinished jobs a look: a queue may hold thousands.
        active = {job.id: job for job in store.jobs(limit=0)}
        for job_id in [j for j in bars if j not in active]:
            bars.pop(job_id).close()
        for job in active.values():
            _show(bars, job)
        if not waiting_for & active.keys():
            break
        time.sleep(WATCH_S)
    for bar in bars.values():
        bar.close()


def _show(bars: dict[int, tqdm], job: Job) -> None:
    if job.state is JobState.QUEUED:
        return
    bar = bars.get(job.id)
    if bar is None:
        bar = bars[job.id] = tqdm(desc=job.name[:40], unit="chunk", file=sys.stderr, leave=False)
    if job.reading:
        bar.set_postfix_str(job.progress_text(), refresh=True)
    elif job.chunks_total:
        bar.set_postfix_str("", refresh=False)
        bar.total = job.chunks_total
        bar.update(job.chunks_done - bar.n)


def _outcome_of(job: Job | None, path: Path) -> IngestOutcome:
    if job is None or job.state is JobState.CANCELLED or job.outcome is None:
        why = "cancelled" if job is not None else "no longer in the queue"
        return IngestOutcome(str(path), FileStatus.FAILED, why)
    return replace(job.outcome, path=str(path))


def show_queue(args: argparse.Namespace) -> int:
    """Print the queue: waiting and running jobs with their progress, then finished ones."""
    jobs = JobStore(settings_from(args)).jobs(limit=args.finished)
    eta = queue_eta(jobs, time.time())
    if args.json:
        print_json({"jobs": [_job_dict(job) for job in jobs], "eta_s": eta.queue_s})
        return EXIT_OK
    for job in jobs:
        print(f"{job.id:6}  {job.state.value:9}  {job.name}  ({job.progress_text()})")
    if eta.queue_s is not None and not all(job.state.finished for job in jobs):
        print(f"about {eta.queue_s:,.0f} s left", file=sys.stderr)
    if not jobs:
        print("the queue is empty", file=sys.stderr)
    return EXIT_OK


def _job_dict(job: Job) -> dict:
    return {
        "id": job.id,
        "name": job.name,
        "state": job.state.value,
        "progress": job.progress_text(),
        "pages_done": job.pages_done,
        "chunks_done": job.chunks_done,
        "chunks_total": job.chunks_total,
        "outcome": job.outcome.as_dict() if job.outcome else None,
    }


def cancel(args: argparse.Namespace) -> int:
    """Cancel one job by id, or every unfinished one with --all."""
    if args.job is None and not args.all:
        print("error: give a job id (see `python -m ingest queue`) or --all", file=sys.stderr)
        return EXIT_USAGE
    asked = JobStore(settings_from(args)).cancel(None if args.all else args.job)
    print(f"cancelling {asked} job(s)", file=sys.stderr)
    return EXIT_OK if asked or args.all else EXIT_FAILED


def work(args: argparse.Namespace) -> int:
    """Ingest everything queued (after a crash, or files queued while the app ran)."""
    settings = settings_from(args)
    store = JobStore(settings)
    waiting = [job.id for job in store.jobs(limit=0) if not job.state.finished]
    with open_engine(settings) as engine:
        worker = QueueWorker(Ingestor(engine.library), store)
        worker.start()
        try:
            _watch(store, waiting)
        finally:
            worker.stop()
    failed = [store.job(job_id) for job_id in waiting]
    print(f"{len(waiting)} queued job(s) run", file=sys.stderr)
    return EXIT_FAILED if any(j and j.state is JobState.FAILED for j in failed) else EXIT_OK
