"""A full disk and a read-only data folder: ingestion fails cleanly, search goes on.

Both are made real, not simulated: the data folder is a small tmpfs, or a read-only bind
mount, inside a mount namespace of the test's own (`unshare -m`, which needs root or
CAP_SYS_ADMIN; CI runs as root). The process that ingests runs inside it.
"""

from __future__ import annotations

import errno
import json
import os
import shlex
import subprocess
import sys

import pytest

from rag.stores.storage import storage_reason
from tests.support.helpers import ROOT, mount_namespaces_missing

CHILD = ROOT / "tests" / "faults" / "storage_child.py"


_WHY_NOT = mount_namespaces_missing()
pytestmark = pytest.mark.skipif(
    _WHY_NOT is not None, reason=f"storage faults need mount namespaces: {_WHY_NOT}"
)
if _WHY_NOT is not None:
    print(f"skipping storage-fault tests: {_WHY_NOT}")


def _children(data_dir, *scenarios: str, mount: str = "", **env: str) -> list[dict]:
    """Run child scenarios one after another, each in a fresh process, after `mount` (a
    shell command) in a namespace of their own; their reports in order."""
    environment = {**os.environ, **env, "RAG_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    child = f"{shlex.quote(sys.executable)} {shlex.quote(str(CHILD))}"
    command = " && ".join(f"{child} {scenario}" for scenario in scenarios)
    if mount:
        command = f"unshare -m sh -c {shlex.quote(f'{mount} && {command}')}"
    done = subprocess.run(
        command, shell=True, env=environment, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_read_only_folder_searches_and_refuses_changes_cleanly(tmp_path):
    data_dir = tmp_path / "data"
    [seeded] = _children(data_dir, "seed")
    assert seeded["first"]["status"] == "ingested"
    folder = shlex.quote(str(data_dir))
    read_only = f"mount --bind {folder} {folder} && mount -o remount,ro,bind {folder} {folder}"

    [report] = _children(data_dir, "readonly", mount=read_only)

    assert report["read_only"] is True
    assert report["second"]["status"] == "failed"
    assert "the data folder is read-only" in report["second"]["reason"]
    assert report["search"] == {m: ["bees.md"] for m in ("vector", "bm25", "hybrid")}
    assert report["documents"] == ["bees.md"]
    assert "read-only" in report["delete_error"]
    [after] = _children(data_dir, "verify")  # writable again, in a fresh process
    assert after["documents"] == ["bees.md"]
    assert after["repair_clean"] and after["indexes_agree"]


@pytest.mark.parametrize(
    ("slack_bytes", "failed_step"),
    [(0, "save the file"), (1_150_000, "write the chunks")],
    ids=["no-space-at-all", "space-for-the-file-not-the-chunks"],
)
def test_full_disk_fails_cleanly_and_a_retry_after_freeing_space_succeeds(
    tmp_path, slack_bytes, failed_step
):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    # The tmpfs goes with the namespace, so the fresh process that checks runs in it too.
    tmpfs = f"mount -t tmpfs -o size=40m tmpfs {shlex.quote(str(data_dir))}"
    report, after = _children(
        data_dir,
        "full",
        "verify",
        mount=tmpfs,
        RAG_MIN_FREE_MB="1",
        SLACK_BYTES=str(slack_bytes),
    )

    assert report["first"]["status"] == "ingested"
    second = report["second"]
    assert second["status"] == "failed"
    assert f"Could not {failed_step}: the disk is nearly full" in second["reason"]
    assert report["search"] == {m: ["bees.md"] for m in ("vector", "bm25", "hybrid")}
    assert report["documents"] == ["bees.md"]
    assert report["retry"]["status"] == "ingested" and report["retry"]["chunks"] > 1
    assert after["documents"] == ["bees.md", "wasps.md"]
    assert after["repair_clean"] and after["indexes_agree"]


def test_full_disk_and_read_only_errors_from_the_stores_are_named():
    assert "disk is full" in storage_reason(OSError(errno.ENOSPC, "No space left on device"))
    chroma_full = RuntimeError("error returned from database: (code: 13) database or disk is full")
    assert "disk is full" in storage_reason(chroma_full)
    chroma_read_only = RuntimeError("(code: 8) attempt to write a readonly database")
    assert "read-only" in storage_reason(chroma_read_only)
    assert "read-only" in storage_reason(OSError(errno.EROFS, "Read-only file system"))
