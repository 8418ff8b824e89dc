"""One process at a time per embedded data folder.

Embedded Chroma and the on-disk BM25 index assume a single writing process: two processes
writing the same folder would corrupt it or silently lose each other's writes. The first
process to open a folder takes an exclusive `flock` on `<data>/.lock`; a second process is
refused with a message that points at server mode, where several app processes share one
Chroma server. Within a process the lock is shared (Streamlit sessions, reopened libraries)
and counted, so it is released when the last holder closes. The kernel drops the lock when
the process dies, even by SIGKILL, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from rag.errors import DataFolderInUseError, DataFolderReadOnlyError, StoreError

LOCK_FILE = ".lock"

_guard = threading.Lock()
# Resolved folder -> (open lock file, number of holders in this process).
_held: dict[Path, tuple[int, int]] = {}


@dataclass
class FolderLock:
    """A held lock on a data folder; `release()` once, when the holder closes."""

    folder: Path
    released: bool = False

    def release(self) -> None:
        """Give up this holder's share; the file lock goes with the last one."""
        if self.released:
            return
        self.released = True
        with _guard:
            descriptor, holders = _held[self.folder]
            if holders > 1:
                _held[self.folder] = (descriptor, holders - 1)
                return
            del _held[self.folder]
            os.close(descriptor)  # closing the file drops the flock


def lock_folder(folder: Path) -> FolderLock:
    """Take the data folder for this process; raises DataFolderInUseError if another has it."""
    folder = folder.resolve()
    with _guard:
        if folder in _held:
            descriptor, holders = _held[folder]
            _held[folder] = (descriptor, holders + 1)
            return FolderLock(folder)
        _held[folder] = (_acquire(folder), 1)
        return FolderLock(folder)


def _acquire(folder: Path) -> int:
    path = folder / LOCK_FILE
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise DataFolderReadOnlyError(
                f"The data folder (RAG_DATA_DIR) is read-only ({exc.strerror})"
            ) from exc
        raise StoreError(f"Cannot use the data folder (RAG_DATA_DIR): {exc.strerror}") from exc
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = _read_pid(descriptor)
        os.close(descriptor)
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise StoreError(f"Cannot lock the data folder: {exc.strerror}") from exc
        raise DataFolderInUseError(
            f"The data folder is already open in another process{holder}. The embedded"
            " store allows one process at a time: stop the other process, give this one"
            " its own RAG_DATA_DIR, or run a Chroma server (CHROMA_HOST, see the README's"
            " server mode) so that several app processes can share the documents."
        ) from None
    os.ftruncate(descriptor, 0)
    os.write(descriptor, str(os.getpid()).encode())
    return descriptor


def _read_pid(descriptor: int) -> str:
    try:
        pid = os.pread(descriptor, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (process {pid})" if pid.isdigit() else ""
