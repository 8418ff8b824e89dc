"""Crash safety: an ingest process killed mid-document leaves nothing visible, the indexes
agree after the next start, and running the ingest again completes the document."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import chromadb
import pytest

from ingest.queue import JobState, JobStore
from rag.config import load_settings
from rag.stores.library import Library
from tests.conftest import pdf
from tests.support.helpers import ROOT, run_json

pytestmark = pytest.mark.slow
BOOK = "pdfminer_irs_i1040nr.pdf"  # 50 pages, several write batches


def _kill_after_first_batch(data_dir) -> None:
    """Start `python -m ingest add BOOK` and SIGKILL it once a batch has been written."""
    env = {**os.environ, "RAG_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "ingest", "add", str(pdf(BOOK))]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE)
    progress = re.compile(rb"(\d+)/(\d+)")
    seen, deadline = b"", time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            seen += os.read(process.stderr.fileno(), 256)
            done = [int(m.group(1)) for m in progress.finditer(seen)]
            if done and max(done) > 0:
                process.send_signal(signal.SIGKILL)
                break
            assert process.poll() is None, seen.decode(errors="replace")
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL


def _raw_state(data_dir) -> tuple[list[str], int]:
    """Catalog statuses and chunk count as stored, read without the app's repair."""
    client = chromadb.PersistentClient(
        path=str(data_dir / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False)
    )
    catalog = client.get_collection("documents-catalog").get(include=["metadatas"])
    return [m["status"] for m in catalog["metadatas"]], client.get_collection("documents").count()


def test_a_killed_ingest_is_invisible_repaired_and_completed_by_a_rerun(tmp_path):
    data_dir = tmp_path / "data"
    _kill_after_first_batch(data_dir)

    statuses, stored_chunks = _raw_state(data_dir)
    assert statuses == ["pending"] and stored_chunks > 0  # really killed mid-document

    settings = load_settings(env_file=None).with_overrides(data_dir=data_dir)
    library = Library.open(settings)
    assert library.documents() == []
    assert len(library.last_repair.removed_unfinished) == 1
    stores = library.inspect_stores()
    assert stores.chunks.count() == stores.words.count() == 0
    del library

    # The killed run's job is resumed, not queued twice: one job, one document.
    report = run_json("ingest", "add", str(pdf(BOOK)), data_dir=data_dir)
    assert report["files"][0]["status"] == "ingested"
    [job] = JobStore(settings).jobs()
    assert job.state is JobState.DONE and job.name == BOOK
    library = Library.open(settings)
    expected = {report["files"][0]["doc_id"]: report["files"][0]["chunks"]}
    assert {d.doc_id: d.chunks for d in library.documents()} == expected
    stores = library.inspect_stores()
    assert stores.chunks.chunk_counts() == expected
    assert stores.words.chunk_counts() == expected
