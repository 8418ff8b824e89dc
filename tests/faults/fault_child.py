"""A child process for the fault-injection tests: ingest a fixed batch of documents while
one step of ingestion fails at its k-th call, by raising or by killing the process.

Run as `python -m tests.faults.fault_child RUNS_JSON`, where RUNS_JSON is a list of runs, each
`{"data_dir", "pdf", "step", "mode", "k"}`. The step's function is wrapped here, in this
process only; the code under test is unchanged. Modes:

- "raise": the k-th call raises InjectedError; the run carries on with the next document,
  as the app does after a failed upload;
- "kill": SIGKILL just before the k-th call;
- "kill_after": SIGKILL just after the k-th call returned;
- "kill_at_end": no fault; SIGKILL once the whole batch is ingested, closing nothing.

A run that ends without a kill prints one JSON line: whether the fault fired, the error
each document met, and what this same process sees afterwards (before any restart).
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import ingest.chunked
import ingest.pipeline
from ingest.pipeline import Ingestor
from rag.config import Settings, load_settings
from rag.providers.embeddings import Embedder, FastEmbedEmbedder, make_embedder
from rag.stores.chroma import ChromaCatalog, ChromaChunkIndex
from rag.stores.lexical import LexicalIndex
from rag.stores.library import Library

# Small chunks and small write batches: a document spans several batches (so a fault can
# strike in the middle of one) while the whole batch embeds in well under a second.
SETTINGS_ENV = {"RAG_CHUNK_TOKENS": "64", "RAG_CHUNK_OVERLAP": "8"}
WRITE_BATCH = 2

# Each step of ingestion: where its function lives, and the attribute to wrap.
STEPS = {
    "parse": (ingest.pipeline, "parse_file"),
    "chunk": (ingest.chunked, "chunk_pages"),
    "embed": (FastEmbedEmbedder, "embed_documents"),
    "vector_write": (ChromaChunkIndex, "add"),
    "lexical_write": (LexicalIndex, "add"),
    # Catalog writes: call 1 records the first document as pending, call 2 publishes it.
    "catalog_write": (ChromaCatalog, "put"),
    "publish": (Library, "publish_many"),
    # In a fault-free run of the batch the only removal is retiring the replaced version,
    # after the catalog already shows the new one.
    "retire": (LexicalIndex, "delete_documents"),
}
KILL_MODES = ("kill", "kill_after", "kill_at_end")


class InjectedError(RuntimeError):
    """The error a "raise" fault throws."""


def _prose(subject: str, detail: str, sentences: int) -> bytes:
    """Distinct English sentences about one subject (no two chunks share a text)."""
    verbs = ("shapes", "follows", "changes", "reveals", "hides", "moves", "feeds", "cools")
    return " ".join(
        f"The {subject} {verbs[i % len(verbs)]} the {detail} near site {i * 7 + len(subject)}."
        for i in range(sentences)
    ).encode()


def fault_batch(pdf: Path) -> list[tuple[str, bytes]]:
    """The documents every run ingests, in order: a text spanning three write batches, a
    Markdown file, a real PDF, then new bytes under the first name (a replace)."""
    return [
        ("alpha.txt", _prose("volcano", "lava", 24)),
        ("beta.md", _prose("glacier", "ice", 8)),
        (pdf.name, pdf.read_bytes()),
        ("alpha.txt", _prose("volcano", "ash", 8)),
    ]


def fault_settings(data_dir: Path, environ: dict[str, str] | None = None) -> Settings:
    """The settings every process of these tests uses for a data folder."""
    environ = {**(os.environ if environ is None else environ), **SETTINGS_ENV}
    return load_settings({**environ, "RAG_DATA_DIR": str(data_dir)}, env_file=None)


def ingest_batch(ingestor: Ingestor, batch: list[tuple[str, bytes]]) -> list[str | None]:
    """Ingest each document in turn; the error each met (None when it was ingested)."""
    errors: list[str | None] = []
    for name, data in batch:
        try:
            outcome = ingestor.ingest_bytes(name, data)
            errors.append(None if outcome.ok else f"failed: {outcome.reason}")
        except InjectedError as exc:
            errors.append(f"raised: {exc}")
    return errors


@dataclass
class Fault:
    """Fails the k-th call of whatever it wraps, the way `mode` says."""

    mode: str
    k: int
    calls: int = 0

    @property
    def fired(self) -> bool:
        """True once the k-th call has been reached."""
        return self.calls >= self.k

    def wrap(self, function):
        """`function`, counting its calls and failing the k-th."""

        @functools.wraps(function)
        def faulty(*args, **kwargs):
            self.calls += 1
            if self.calls == self.k and self.mode == "raise":
                raise InjectedError(f"injected at call {self.k} of {function.__qualname__}")
            if self.calls == self.k and self.mode == "kill":
                _kill_self()
            result = function(*args, **kwargs)
            if self.calls == self.k and self.mode == "kill_after":
                _kill_self()
            return result

        return faulty

    @contextmanager
    def installed(self, step: str | None) -> Iterator[None]:
        """Wrap the step's function for the duration of the block."""
        if step is None:
            yield
            return
        owner, attribute = STEPS[step]
        with mock.patch.object(owner, attribute, self.wrap(getattr(owner, attribute))):
            yield


def _kill_self() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _seen_in_process(library: Library) -> dict:
    """What the faulted process itself shows: statuses, and per visible document its chunk
    count in the catalog, the vector store and the lexical index."""
    stores = library.inspect_stores()
    vector_counts = stores.chunks.chunk_counts()
    lexical_counts = stores.words.chunk_counts()
    return {
        "statuses": sorted(r.status.value for r in stores.catalog.records()),
        "visible": {
            r.doc_id: [r.chunks, vector_counts.get(r.doc_id, 0), lexical_counts.get(r.doc_id, 0)]
            for r in library.documents()
        },
    }


def run_one(run: dict, embedder: Embedder | None) -> Embedder:
    """Ingest the batch into one data folder with the run's fault in place."""
    settings = fault_settings(Path(run["data_dir"]))
    embedder = embedder or make_embedder(settings)
    library = Library.open(settings, embedder)
    fault = Fault(run["mode"], run["k"])
    with fault.installed(run["step"]):
        errors = ingest_batch(Ingestor(library), fault_batch(Path(run["pdf"])))
    if run["mode"] == "kill_at_end":
        _kill_self()
    report = {"data_dir": run["data_dir"], "fired": fault.fired, "errors": errors}
    print(json.dumps({**report, **_seen_in_process(library)}), flush=True)
    return embedder


def main(argv: list[str]) -> int:
    """Run every run of the spec in order, sharing one embedding model."""
    ingest.pipeline.WRITE_BATCH = WRITE_BATCH
    embedder = None
    for run in json.loads(argv[1]):
        embedder = run_one(run, embedder)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
