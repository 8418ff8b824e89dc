"""Helpers for tests that run the command-line tools as users do."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, data_dir: Path, env: dict | None = None, timeout: float = 900):
    """Run `python -m <args>` in a fresh process; returns the CompletedProcess."""
    environment = {**os.environ, "RAG_DATA_DIR": str(data_dir), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_json(*args: str, data_dir: Path, expect_code: int = 0, **kwargs) -> dict:
    """Run a command with --json, check its exit code, and parse what it printed."""
    done = run_cli(*args, "--json", data_dir=data_dir, **kwargs)
    assert done.returncode == expect_code, done.stderr[-3000:]
    return json.loads(done.stdout)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop(process: subprocess.Popen) -> None:
    """Stop a server process: politely, then by force."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def mount_namespaces_missing() -> str | None:
    """None if this process can mount in a namespace of its own (to make a folder
    read-only or full for one test), else why not."""
    if shutil.which("unshare") is None:
        return "the unshare command is missing (util-linux)"
    probe = subprocess.run(
        ["unshare", "-m", "mount", "-t", "tmpfs", "tmpfs", "/mnt"],
        capture_output=True,
        text=True,
        check=False,
    )
    return None if probe.returncode == 0 else f"cannot mount in a namespace: {probe.stderr}"
