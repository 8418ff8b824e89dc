"""A child process for storage-fault tests, run inside its own mount namespace.

`python tests/faults/storage_child.py SCENARIO` with RAG_DATA_DIR set prints one JSON line of
what happened. "readonly" runs after the parent has mounted the data folder read-only in
a mount namespace of its own (`unshare -m`); "full" runs on a small tmpfs there, fills it,
tries a second note, frees the space and tries again; "verify" is what a fresh process
finds afterwards.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ingest.pipeline import Ingestor
from rag.config import load_settings
from rag.errors import RagError
from rag.results import SearchOptions
from rag.search.retriever import Retriever
from rag.stores.library import Library

FIRST = ("bees.md", "# Bees\n\nHoney bees build hexagonal wax cells in the hive.\n")
# Long enough for several chunks, so the failure comes in the middle of the writes.
SECOND = (
    "wasps.md",
    "# Wasps\n\n" + "Paper wasps chew wood fibre into a grey paper for their nests. " * 400,
)


def searches(library: Library, query: str) -> dict[str, list[str]]:
    """The sources found in each mode."""
    retriever = Retriever(library)
    return {
        mode: [c.source for c in retriever.search(query, SearchOptions(mode=mode)).chunks]
        for mode in ("vector", "bm25", "hybrid")
    }


def fill_disk(folder: Path, slack: int) -> Path:
    """Fill the file system, then free `slack` bytes; return the filler file."""
    filler = folder / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 20, 4096, 1):  # big blocks, then fill the last partial ones
            try:
                while True:
                    os.write(descriptor, b"\0" * size)
            except OSError:
                continue
        os.ftruncate(descriptor, max(os.fstat(descriptor).st_size - slack, 0))
    finally:
        os.close(descriptor)
    return filler


def verify() -> dict:
    """What a fresh process finds: documents, repairs, and chunks per index."""
    with Library.open(load_settings(env_file=None)) as library:
        expected = {d.doc_id: d.chunks for d in library.documents()}
        stores = library.inspect_stores()
        return {
            "documents": sorted(d.name for d in library.documents()),
            "repair_clean": library.last_repair.clean,
            "indexes_agree": stores.chunks.chunk_counts()
            == stores.words.chunk_counts()
            == expected,
            "search": searches(library, "hexagonal wax cells"),
        }


def seed() -> dict:
    """Ingest the first note into a writable folder."""
    with Library.open(load_settings(env_file=None)) as library:
        return {"first": Ingestor(library).ingest_bytes(FIRST[0], FIRST[1].encode()).as_dict()}


def read_only() -> dict:
    """The folder is read-only: search it, then try to add and to delete."""
    with Library.open(load_settings(env_file=None)) as library:
        report = {
            "read_only": library.read_only,
            "second": Ingestor(library).ingest_bytes(SECOND[0], SECOND[1].encode()).as_dict(),
            "search": searches(library, "hexagonal wax cells"),
            "documents": [d.name for d in library.documents()],
        }
        try:
            library.delete(library.documents()[0].doc_id)
        except RagError as exc:
            report["delete_error"] = str(exc)
        return report


def disk_full() -> dict:
    """Fill the disk after the first note; try the second; free space and try again."""
    report = seed()
    settings = load_settings(env_file=None)
    filler = fill_disk(settings.data_dir, int(os.environ.get("SLACK_BYTES", "0")))
    with Library.open(settings) as library:
        ingestor = Ingestor(library)
        report["second"] = ingestor.ingest_bytes(SECOND[0], SECOND[1].encode()).as_dict()
        report["search"] = searches(library, "hexagonal wax cells")
        report["documents"] = [d.name for d in library.documents()]
        filler.unlink()
        report["retry"] = ingestor.ingest_bytes(SECOND[0], SECOND[1].encode()).as_dict()
    return report


SCENARIOS = {"seed": seed, "readonly": read_only, "full": disk_full, "verify": verify}


if __name__ == "__main__":
    sys.stdout.write(json.dumps(SCENARIOS[sys.argv[1]]()) + "\n")
    sys.stdout.flush()
    os._exit(0)  # the mount goes with the namespace; skip slow shutdown hooks
