"""Storage failures, told to users, and the free-space rule that keeps them rare.

Chroma (SQLite inside) and tantivy report a full disk or a read-only folder in their own
words, mostly without an errno; `storage_errors` turns any of them into a StoreError that
says what could not be done and why. A full disk is also never reached on purpose: embedded
Chroma was seen to wait forever, rather than fail, when SQLite hit one while publishing, so
every write first checks that it leaves the configured free space.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from rag.documents import Chunk
from rag.errors import RagError, StoreError

# How SQLite (inside Chroma) and tantivy word these failures.
_DISK_FULL = ("disk is full", "No space left")
_READ_ONLY = ("readonly", "Read-only", "read-only")


def storage_reason(exc: BaseException) -> str:
    """What went wrong with the storage, in words a user can act on."""
    code, text = getattr(exc, "errno", None), str(exc)
    if code == errno.ENOSPC or any(s in text for s in _DISK_FULL):
        return "the disk is full (no space left on the device)"
    if code in (errno.EROFS, errno.EACCES) or any(s in text for s in _READ_ONLY):
        return "the data folder is read-only"
    short = text if len(text) <= 200 else text[:199] + "…"
    return f"{type(exc).__name__}: {short}"


@contextmanager
def storage_errors(action: str) -> Iterator[None]:
    """Turn any storage failure into a StoreError that says what could not be done."""
    try:
        yield
    except RagError:
        raise
    except Exception as exc:  # OSError, chromadb's and tantivy's errors alike
        raise StoreError(f"Could not {action}: {storage_reason(exc)}.") from exc


def check_free_space(folder: Path, needed: int, min_free_mb: int, action: str) -> None:
    """Raise StoreError if writing `needed` bytes would leave less than `min_free_mb`."""
    free = shutil.disk_usage(folder).free
    if free - needed < min_free_mb * 2**20:
        raise StoreError(
            f"Could not {action}: the disk is nearly full ({free // 2**20} MB free; the app"
            f" keeps {min_free_mb} MB free, RAG_MIN_FREE_MB). Free some space and try again."
        )


def stored_size(chunks: Sequence[Chunk], vectors: np.ndarray) -> int:
    """A generous estimate of the bytes a batch takes on disk: the text is stored by Chroma
    and indexed twice, the vector is in SQLite, the write-ahead log and the HNSW graph."""
    return sum(4 * len(chunk.text.encode()) for chunk in chunks) + 4 * vectors.nbytes
