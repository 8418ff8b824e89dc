"""Everything a collection keeps, removed: its chunks and catalog in Chroma, its lexical
index, its original files, and its ingestion queue (the database and the waiting files)."""

from __future__ import annotations

import shutil
from pathlib import Path

from rag.config import Settings
from rag.errors import StoreError
from rag.stores.chroma import drop_collections


def collection_paths(data_dir: Path, collection: str) -> list[Path]:
    """What a collection keeps in the data folder, beside Chroma's own files."""
    queue = data_dir / "queue"
    return [
        data_dir / "lexical" / collection,
        data_dir / "files" / collection,
        queue / collection,
        # The queue's SQLite database, with its write-ahead log and shared memory files.
        *(queue / f"{collection}.sqlite{suffix}" for suffix in ("", "-wal", "-shm", "-journal")),
    ]


def remove_collection(settings: Settings) -> None:
    """Remove everything of `settings.collection`; what is already gone is no error.

    Every part is attempted even when one fails; StoreError then names what is left.
    """
    problems, vector_files = [], []
    try:
        vector_files = drop_collections(settings, [settings.collection])
    except StoreError as exc:
        problems.append(str(exc))
    for path in [*vector_files, *collection_paths(settings.data_dir, settings.collection)]:
        try:
            _remove(path)
        except OSError as exc:
            problems.append(f"{path.relative_to(settings.data_dir)}: {exc.strerror or exc}")
    if problems:
        raise StoreError(
            f"Some data of collection {settings.collection!r} could not be removed: "
            + "; ".join(problems)
        )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
