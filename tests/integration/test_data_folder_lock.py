"""One process at a time per embedded data folder; the lock is shared within a process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ingest.pipeline import Ingestor
from ingest.queue import JobState, JobStore, QueueWorker
from rag.errors import DataFolderInUseError
from rag.stores.folder_lock import lock_folder
from tests.support.helpers import ROOT, run_cli

# A process that takes a folder's lock, says so, and waits to be killed.
HOLD = """
import sys, time
from pathlib import Path
from rag.stores.folder_lock import lock_folder
lock_folder(Path(sys.argv[1]))
print("held", flush=True)
time.sleep(600)
"""


def test_a_second_process_is_refused_with_a_pointer_to_server_mode(library):
    listed = run_cli("ingest", "list", data_dir=library.settings.data_dir)
    assert listed.returncode == 1
    assert "already open in another process" in listed.stderr
    assert f"(process {os.getpid()})" in listed.stderr
    assert "CHROMA_HOST" in listed.stderr
    assert "Traceback" not in listed.stderr


def test_the_folder_is_free_again_once_the_library_is_closed(library):
    library.close()
    listed = run_cli("ingest", "list", "--json", data_dir=library.settings.data_dir)
    assert listed.returncode == 0, listed.stderr


def test_libraries_of_one_process_share_the_lock(make_library):
    first = make_library()
    second = make_library()  # a reopen in the same process (another Streamlit session)
    first.close()
    with pytest.raises(DataFolderInUseError):
        _lock_in_another_process(second.settings.data_dir)
    second.close()
    holder = _lock_in_another_process(second.settings.data_dir)
    holder.kill()
    holder.wait(timeout=10)


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    holder = _lock_in_another_process(tmp_path)
    with pytest.raises(DataFolderInUseError, match="already open in another process"):
        lock_folder(tmp_path)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    lock_folder(tmp_path).release()  # taken at once: the kernel dropped the dead one's lock


def _lock_in_another_process(folder) -> subprocess.Popen:
    """A process that holds the folder's lock until killed; raises if it cannot take it."""
    command = [sys.executable, "-c", HOLD, str(folder)]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read()
            if "DataFolderInUseError" in error:
                raise DataFolderInUseError(error)
            pytest.fail(error)
        line = process.stdout.readline()
        if line.strip() == "held":
            return process
    process.kill()
    pytest.fail("the holder process did not take the lock")


def test_files_added_while_another_process_holds_the_folder_are_queued_for_it(library, tmp_path):
    note = tmp_path / "kites.txt"
    note.write_text("Kites fly on steady winds above the dunes.")
    added = run_cli("ingest", "add", str(note), data_dir=library.settings.data_dir)
    assert added.returncode == 0, added.stderr
    assert "queued 1 file(s); another process" in added.stderr
    assert library.documents() == []
    # The holder (here, this test's process, as the app would) runs the queue.
    store = JobStore(library.settings)
    QueueWorker(Ingestor(library), store).run_until_empty()
    assert [d.name for d in library.documents()] == ["kites.txt"]
    listed = run_cli("ingest", "queue", "--json", data_dir=library.settings.data_dir)
    [job] = json.loads(listed.stdout)["jobs"]
    assert job["state"] == "done" and job["outcome"]["status"] == "ingested"


def test_a_queued_file_can_be_cancelled_from_the_command_line(library, tmp_path):
    note = tmp_path / "reeds.txt"
    note.write_text("Reeds bend in the marsh wind.")
    assert run_cli("ingest", "add", str(note), data_dir=library.settings.data_dir).returncode == 0
    cancelled = run_cli("ingest", "cancel", "--all", data_dir=library.settings.data_dir)
    assert cancelled.returncode == 0 and "cancelling 1 job(s)" in cancelled.stderr
    QueueWorker(Ingestor(library), JobStore(library.settings)).run_until_empty()
    assert library.documents() == []
    [job] = JobStore(library.settings).jobs()
    assert job.state is JobState.CANCELLED
