"""Crash safety under injected faults (DESIGN.md, invariant 2).

Each step of ingestion (parse, chunk, embed, vector write, lexical write, catalog write,
publish, retiring a replaced version) is made to fail at its k-th call in a child process,
by an exception or by SIGKILL (tests/faults/fault_child.py wraps the step's function; the code
under test has no hooks). This process then opens the data folder, as the app does after a
crash, and checks:

- no unfinished document is visible, and what is visible is a state the fault-free run
  passed through (after a kill) or exactly what the faulted process showed (after an error);
- for every visible document the catalog, Chroma and the BM25 index hold exactly the same
  chunk ids, with no duplicates, and no original file is left over;
- vector, BM25 and hybrid results equal those of a library holding only the same documents;
- running the same batch again reaches the fault-free state: same documents, same chunk ids,
  same results and scores.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import tantivy

import ingest.pipeline
from ingest.files import document_id
from ingest.pipeline import Ingestor
from rag.documents import Chunk, DocumentRecord, DocumentStatus
from rag.providers.embeddings import Embedder
from rag.results import Score, SearchOptions
from rag.search.retriever import Retriever
from rag.stores.chroma import connect
from rag.stores.library import Library
from tests.conftest import pdf
from tests.faults.fault_child import (
    KILL_MODES,
    WRITE_BATCH,
    fault_batch,
    fault_settings,
    ingest_batch,
)
from tests.support.helpers import ROOT

PDF = "sf_minimal-document.pdf"
QUERIES = ("volcano lava near the site", "glacier ice", "lorem ipsum dolor sit amet", "ash")
MODES = ("vector", "bm25", "hybrid")
# More than the batch's chunks, every version included: searches return every chunk.
EVERY_CHUNK = 50
TOLERANCE = 1e-6
# Chroma's cosine scores of the same stored vectors differ by a float32 step (~1e-7) with
# the order in which records were written; hybrid's min-max scaling divides by the spread of
# the scores, which can be 0.01 over one short document, and so magnifies that step.
FUSED_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Scenario:
    """One fault: which step fails, how, and at which of its calls."""

    step: str
    mode: str
    k: int

    @property
    def name(self) -> str:
        """For test ids and folder names."""
        return f"{self.step}-{self.mode}-{self.k}"


# Steps called more than once by the batch: parse and chunk 4 times, embed and both index
# writes 8 (alpha.txt spans three write batches, so k=2 strikes inside a document), catalog
# writes 8 (pending, then ready, per document), publish 4.
REPEATED_STEPS = (
    "parse",
    "chunk",
    "embed",
    "vector_write",
    "lexical_write",
    "catalog_write",
    "publish",
)


def _scenarios() -> list[Scenario]:
    every = [
        Scenario(step, mode, k)
        for step in REPEATED_STEPS
        for mode in ("raise", "kill")
        for k in (1, 2)
    ]
    # The 4th publish replaces alpha.txt: fail before, or kill after, its catalog switch.
    replacing = [Scenario("publish", mode, 4) for mode in ("raise", "kill", "kill_after")]
    # Retiring the replaced version happens once, after the switch.
    retiring = [Scenario("retire", mode, 1) for mode in ("raise", "kill")]
    return every + replacing + retiring


SCENARIOS = _scenarios()
RAISING = [s for s in SCENARIOS if s.mode == "raise"]
KILLING = [s for s in SCENARIOS if s.mode in KILL_MODES]

# Search results, by (query, mode): chunk id -> (vector, BM25, fused) score or None.
Scores = dict[tuple[str, str], dict[str, tuple[float | None, ...]]]


# The fault-free reference ----------------------------------------------------------------


@dataclass
class Reference:
    """The fault-free run of the batch, and libraries restricted to some of its documents."""

    batch: list[tuple[str, bytes]]
    doc_ids: list[str]  # of each document of the batch, in order
    records: dict[str, DocumentRecord]  # every version ever published, by doc_id
    chunks: dict[str, tuple[list[Chunk], np.ndarray]]  # its chunks and their vectors
    states: list[dict[str, str]]  # visible name -> doc_id before and after each document
    scores: Scores  # search results of the finished run
    make_folder: Iterator[Path]
    embedder: Embedder
    _restricted: dict[frozenset[str], Scores] = field(default_factory=dict)

    def chunk_ids(self, doc_id: str) -> list[str]:
        """The chunk ids of one version, in order."""
        return [chunk.chunk_id for chunk in self.chunks[doc_id][0]]

    def restricted_scores(self, doc_ids: Iterable[str]) -> Scores:
        """Search results of a library holding only these documents, as the fault-free
        run wrote them (its own chunks and vectors, copied: no embedding)."""
        key = frozenset(doc_ids)
        if key not in self._restricted:
            library = Library.open(fault_settings(next(self.make_folder)), self.embedder)
            for doc_id in sorted(key):
                original = self.batch[self.doc_ids.index(doc_id)][1]
                library.begin(self.records[doc_id], original)
                library.write_chunks(*self.chunks[doc_id])
                library.publish(self.records[doc_id])
            self._restricted[key] = search_scores(library)
        return self._restricted[key]


def _folders(root: Path) -> Iterator[Path]:
    for number in range(10_000):
        yield root / f"reference-{number}"


def _stored_chunks(library: Library, doc_id: str) -> tuple[list[Chunk], np.ndarray]:
    """A document's chunks and vectors as the vector store holds them, in order."""
    stored = library.inspect_stores().chunks
    chunks = stored.chunks_of(doc_id)
    vectors = stored.vectors([chunk.chunk_id for chunk in chunks])
    return chunks, np.array([vectors[chunk.chunk_id] for chunk in chunks], dtype=np.float32)


@pytest.fixture(scope="module")
def fault_pdf() -> Path:
    """The real PDF of the batch."""
    return pdf(PDF)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, embedder: Embedder, fault_pdf: Path) -> Reference:
    """Ingest the batch once without faults, keeping every version and state on the way."""
    root = tmp_path_factory.mktemp("fault-reference")
    library = Library.open(fault_settings(root / "fault-free"), embedder)
    batch = fault_batch(fault_pdf)
    records, chunks, states = {}, {}, [{}]
    with mock.patch.object(ingest.pipeline, "WRITE_BATCH", WRITE_BATCH):
        for name, data in batch:
            assert ingest_batch(Ingestor(library), [(name, data)]) == [None]
            record = library.find(name)
            records[record.doc_id] = record
            chunks[record.doc_id] = _stored_chunks(library, record.doc_id)
            states.append({r.name: r.doc_id for r in library.documents()})
    return Reference(
        batch=batch,
        doc_ids=[document_id(data)[0] for _, data in batch],
        records=records,
        chunks=chunks,
        states=states,
        scores=search_scores(library),
        make_folder=_folders(root),
        embedder=embedder,
    )


# Checks ----------------------------------------------------------------------------------


def lexical_chunk_ids(library: Library) -> list[str]:
    """Every chunk id in the BM25 index, duplicates included (read from tantivy itself: the
    app only ever asks the index for counts)."""
    searcher = library.inspect_stores().words._index.searcher()
    hits = searcher.search(tantivy.Query.all_query(), limit=max(searcher.num_docs, 1)).hits
    return [searcher.doc(address)["chunk_id"][0] for _, address in hits]


def original_files(library: Library) -> set[str]:
    """Ids of the documents whose original bytes the data folder keeps."""
    folder = library.original_path("any").parent
    return {path.name for path in folder.iterdir()} if folder.is_dir() else set()


def assert_consistent(library: Library, reference: Reference) -> dict[str, str]:
    """Invariant 2 on an opened library; returns the visible documents, name -> doc_id."""
    stores = library.inspect_stores()
    unfinished = [r for r in stores.catalog.records() if r.status is not DocumentStatus.READY]
    assert unfinished == []
    visible = library.documents()
    names = {record.name: record.doc_id for record in visible}
    assert len(names) == len(visible), "two versions of one name are visible"
    expected_ids = []
    for record in visible:
        assert record.chunks == len(reference.chunk_ids(record.doc_id)), record.name
        expected_ids += reference.chunk_ids(record.doc_id)
    assert sorted(stores.chunks.chunk_ids()) == sorted(expected_ids)
    assert sorted(lexical_chunk_ids(library)) == sorted(expected_ids)  # duplicates show here
    assert original_files(library) == set(names.values())
    return names


def _value(score: Score | None) -> float | None:
    return None if score is None else score.value


def search_scores(library: Library) -> Scores:
    """Every chunk each query finds in each mode, with all its scores."""
    retriever = Retriever(library)
    options = {
        mode: SearchOptions(mode=mode, k=EVERY_CHUNK, candidates=EVERY_CHUNK) for mode in MODES
    }
    return {
        (query, mode): {
            c.chunk_id: (_value(c.vector), _value(c.bm25), _value(c.fused))
            for c in retriever.search(query, options[mode]).chunks
        }
        for query in QUERIES
        for mode in MODES
    }


def assert_same_scores(actual: Scores, expected: Scores) -> None:
    """The same chunks for every query and mode; each vector and BM25 score within
    TOLERANCE, each fused score within FUSED_TOLERANCE."""
    tolerances = (TOLERANCE, TOLERANCE, FUSED_TOLERANCE)
    for key, expected_hits in expected.items():
        hits = actual[key]
        assert sorted(hits) == sorted(expected_hits), key
        for chunk_id, scores in expected_hits.items():
            for got, want, tolerance in zip(hits[chunk_id], scores, tolerances, strict=True):
                assert (got is None) == (want is None), (key, chunk_id)
                assert want is None or abs(got - want) <= tolerance, (key, chunk_id, got, want)


def assert_rerun_reaches_the_fault_free_state(library: Library, reference: Reference) -> None:
    """Ingest the same batch again in the reopened library and compare with the reference."""
    with mock.patch.object(ingest.pipeline, "WRITE_BATCH", WRITE_BATCH):
        assert ingest_batch(Ingestor(library), reference.batch) == [None] * len(reference.batch)
    assert assert_consistent(library, reference) == reference.states[-1]
    assert_same_scores(search_scores(library), reference.scores)


def reopen_and_check(data_dir: Path, reference: Reference) -> tuple[Library, dict[str, str]]:
    """Open the folder in this process (repair runs), check it, compare its searches with a
    library of the same documents; returns the library and what it shows."""
    library = Library.open(fault_settings(data_dir), reference.embedder)
    visible = assert_consistent(library, reference)
    assert_same_scores(search_scores(library), reference.restricted_scores(visible.values()))
    return library, visible


# Child processes -------------------------------------------------------------------------


def run_child(runs: list[dict], killed: bool) -> list[dict]:
    """Run tests.faults.fault_child; its reports, one per run that ended without a kill."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.faults.fault_child", json.dumps(runs)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    expected_code = -signal.SIGKILL if killed else 0
    assert done.returncode == expected_code, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def child_run(data_dir: Path, pdf_path: Path, scenario: Scenario | None) -> dict:
    """One run of the child's spec; no scenario means: ingest everything, then get killed."""
    run = {"data_dir": str(data_dir), "pdf": str(pdf_path)}
    if scenario is None:
        return {**run, "step": None, "mode": "kill_at_end", "k": 0}
    return {**run, "step": scenario.step, "mode": scenario.mode, "k": scenario.k}


@pytest.fixture(scope="module")
def raising_runs(tmp_path_factory, fault_pdf: Path) -> dict[str, dict]:
    """Every raising scenario, one after the other in a single child process (an error
    does not end the process): its report and data folder by scenario name."""
    root = tmp_path_factory.mktemp("faults-raise")
    runs = [child_run(root / s.name, fault_pdf, s) for s in RAISING]
    reports = run_child(runs, killed=False)
    return {s.name: report for s, report in zip(RAISING, reports, strict=True)}


def expected_after_error(
    reference: Reference, scenario: Scenario, errors: list[str | None]
) -> dict[str, str]:
    """What the batch publishes when one document fails: all but that one. A failure while
    retiring the older version comes after the catalog switch, so no upload fails: the new
    version is published, and the hidden old one is removed at the next start."""
    failed = [i for i, error in enumerate(errors) if error is not None]
    assert len(failed) == (0 if scenario.step == "retire" else 1), errors
    return {
        name: reference.doc_ids[index]
        for index, (name, _) in enumerate(reference.batch)
        if index not in failed
    }


# Tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", RAISING, ids=lambda s: s.name)
def test_an_error_in_any_step_leaves_a_consistent_library(scenario, raising_runs, reference):
    report = raising_runs[scenario.name]
    assert report["fired"], "the step was called fewer than k times"
    # In the failing process itself, before any restart: nothing half-visible.
    for doc_id, (catalog, vectors, lexical) in report["visible"].items():
        assert catalog == vectors == lexical == len(reference.chunk_ids(doc_id))

    library, visible = reopen_and_check(Path(report["data_dir"]), reference)
    assert set(visible.values()) == set(report["visible"])  # a restart hides nothing
    assert visible == expected_after_error(reference, scenario, report["errors"])
    assert_rerun_reaches_the_fault_free_state(library, reference)


@pytest.mark.parametrize("scenario", KILLING, ids=lambda s: s.name)
def test_a_kill_in_any_step_leaves_a_consistent_library(scenario, tmp_path, reference, fault_pdf):
    data_dir = tmp_path / "data"
    run_child([child_run(data_dir, fault_pdf, scenario)], killed=True)

    library, visible = reopen_and_check(data_dir, reference)
    # Each document is all or nothing: what shows is a state the fault-free run went through.
    assert visible in reference.states
    assert_rerun_reaches_the_fault_free_state(library, reference)


def test_writes_below_the_hnsw_sync_threshold_survive_a_kill(tmp_path, reference, fault_pdf):
    """Chroma persists its HNSW graph only every `sync_threshold` records; what was
    written since is replayed from its log. A process killed right after ingesting, with
    nothing closed, must lose nothing."""
    data_dir = tmp_path / "data"
    run_child([child_run(data_dir, fault_pdf, None)], killed=True)

    library = Library.open(fault_settings(data_dir), reference.embedder)
    assert library.last_repair.clean
    settings = library.settings
    stored = connect(settings).get_collection(settings.collection, embedding_function=None)
    threshold = stored.configuration["hnsw"]["sync_threshold"]
    assert stored.count() < threshold  # the premise: nothing was synced yet
    assert assert_consistent(library, reference) == reference.states[-1]
    retriever = Retriever(library)
    for doc_id in reference.states[-1].values():
        for chunk in reference.chunks[doc_id][0]:
            for mode in ("vector", "bm25"):
                found = retriever.search(chunk.text, SearchOptions(mode=mode, k=1)).chunks
                assert [c.chunk_id for c in found] == [chunk.chunk_id], (mode, chunk.text)
    assert_same_scores(search_scores(library), reference.scores)
