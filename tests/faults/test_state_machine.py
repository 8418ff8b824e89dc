"""The document life cycle as a state machine: random sequences of add, replace, re-add,
delete, restart, crash-restart (while adding or deleting) and a retry of an interrupted
add, checked against a model (name -> text) after every step.

Checked after each step (DESIGN.md, invariants 2 and 4): the visible documents are exactly
the model's; no record is left unfinished; the vector store and the BM25 index hold exactly
the chunk ids of the visible documents, as many as the catalog says, with no duplicates,
and only their original files are kept; a BM25 query for a word found in one text finds
that document exactly while the model holds that text, and nothing once it does not.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ingest.chunking import chunk_pages
from ingest.files import FileStatus, document_id
from ingest.pipeline import Ingestor
from rag.config import Settings
from rag.documents import Chunk, DocumentRecord, DocumentStatus, chunk_id_for, doc_id_of
from rag.providers.embeddings import Embedder
from rag.stores.library import Library
from tests.faults.test_faults import lexical_chunk_ids, original_files

NAMES = ("a.txt", "b.md", "c.txt")
VOCABULARY = ("river", "mountain", "harbour", "forest", "desert", "island", "valley", "bridge")
# Letters that no English suffix rule of the stemmer touches, so each marker word stays
# one distinct term in the index.
_MARKER_LETTERS = "bcdfgkmpqtvxz"
# Chunks of at most 32 tokens: a text of a few dozen words spans several chunks.
SMALL_CHUNKS = {"chunk_tokens": 32, "chunk_overlap": 4}

# Fixed examples (derandomize) keep CI deterministic: a failure shows up on every run, not
# on one run in twenty. Steps are cheap (short texts, one shared model): 40 sequences of
# 12 steps take about 20 s on two quiet cores, 45 s on busy ones.
LIFE_CYCLE_SETTINGS = settings(
    max_examples=40,
    stateful_step_count=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

bodies = st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=50)


def marker(number: int) -> str:
    """A word that appears in exactly one text: "zq" and four letters from the number."""
    letters = []
    for _ in range(4):
        number, digit = divmod(number, len(_MARKER_LETTERS))
        letters.append(_MARKER_LETTERS[digit])
    return "zq" + "".join(letters)


class LibraryLifeCycle(RuleBasedStateMachine):
    """One library on a fresh collection, and the model it must agree with."""

    # Set by the test: the embedding model (loaded once) and the settings for a folder.
    embedder: Embedder
    base_settings: Settings
    collections = itertools.count()

    def __init__(self) -> None:
        super().__init__()
        self.settings = self.base_settings.with_overrides(
            collection=f"life-cycle-{next(self.collections)}", **SMALL_CHUNKS
        )
        self.library = Library.open(self.settings, self.embedder)
        self.model: dict[str, str] = {}
        self.markers: dict[str, str] = {}  # marker word -> the one text that holds it
        self.texts = itertools.count()

    @initialize(data=st.data(), count=st.integers(0, len(NAMES)))
    def start_with_some_documents(self, data, count) -> None:
        """Most sequences start from a few documents, so that replace, delete and the
        crash rules have something to work on from the first step."""
        assert self.library.documents() == []
        for _ in range(count):
            self.add(data, data.draw(bodies), data.draw(st.integers(0, 50)))

    # Helpers ------------------------------------------------------------------------------

    def new_text(self, words: list[str], position: int) -> str:
        """The words with a fresh marker word inserted, so every text is unique."""
        word = marker(next(self.texts))
        text = " ".join([*words[:position], word, *words[position:]])
        self.markers[word] = text
        return text

    def ingest(self, name: str, text: str) -> FileStatus:
        """Ingest a text as an uploaded file; how it went."""
        outcome = Ingestor(self.library).ingest_bytes(name, text.encode())
        assert outcome.ok, outcome.reason
        return outcome.status

    def reopen(self) -> None:
        """Open the library again on the same folder, as a restarted app does."""
        del self.library
        self.library = Library.open(self.settings, self.embedder)

    def leave_pending(self, name: str, text: str, written: int) -> None:
        """Begin a document and write its first `written` chunks, but never publish it."""
        record, chunks = self.prepared(name, text)
        self.library.begin(record, text.encode())
        if written:
            batch = chunks[:written]
            self.library.write_chunks(batch, self.library.embed_passages([c.text for c in batch]))

    def prepared(self, name: str, text: str) -> tuple[DocumentRecord, list[Chunk]]:
        """The catalog record and chunks the pipeline would make for this text."""
        data = text.encode()
        doc_id, sha256 = document_id(data)
        chunks = chunk_pages(
            [text],
            doc_id=doc_id,
            source=name,
            embedder=self.embedder,
            size=self.settings.chunk_tokens,
            overlap=self.settings.chunk_overlap,
        )
        record = DocumentRecord(doc_id, name, sha256, len(data), 1, len(chunks), added_at=0.0)
        return record, chunks

    # Rules --------------------------------------------------------------------------------

    @precondition(lambda self: len(self.model) < len(NAMES))
    @rule(data=st.data(), words=bodies, position=st.integers(0, 50))
    def add(self, data, words, position) -> None:
        name = data.draw(st.sampled_from([n for n in NAMES if n not in self.model]))
        text = self.new_text(words, position)
        assert self.ingest(name, text) is FileStatus.INGESTED
        self.model[name] = text

    @precondition(lambda self: self.model)
    @rule(data=st.data(), words=bodies, position=st.integers(0, 50))
    def replace_with_new_bytes(self, data, words, position) -> None:
        name = data.draw(st.sampled_from(sorted(self.model)))
        text = self.new_text(words, position)
        assert self.ingest(name, text) is FileStatus.REPLACED
        self.model[name] = text

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def add_the_same_bytes_again(self, data) -> None:
        name = data.draw(st.sampled_from(sorted(self.model)))
        assert self.ingest(name, self.model[name]) is FileStatus.UNCHANGED

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def delete(self, data) -> None:
        name = data.draw(st.sampled_from(sorted(self.model)))
        self.library.delete(self.library.find(name).doc_id)
        del self.model[name]

    @rule()
    def restart(self) -> None:
        self.reopen()

    @rule(
        name=st.sampled_from(NAMES),
        words=bodies,
        position=st.integers(0, 50),
        written=st.integers(0, 3),
    )
    def crash_while_adding(self, name, words, position, written) -> None:
        """A new version of `name` left pending with some of its chunks written, as a
        crash mid-ingest leaves it; the restart must drop it and keep the model."""
        self.leave_pending(name, self.new_text(words, position), written)
        self.reopen()

    @rule(
        name=st.sampled_from(NAMES),
        words=bodies,
        position=st.integers(0, 50),
        written=st.integers(0, 3),
    )
    def retry_an_interrupted_add(self, name, words, position, written) -> None:
        """The same bytes ingested again, without a restart, after an attempt that stopped
        before publishing (a storage error does that): the retry completes the document
        with no chunk indexed twice."""
        text = self.new_text(words, position)
        self.leave_pending(name, text, written)
        expected = FileStatus.REPLACED if name in self.model else FileStatus.INGESTED
        assert self.ingest(name, text) is expected
        self.model[name] = text

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def crash_while_deleting(self, data) -> None:
        """A document marked for deletion whose chunks were not yet removed: the restart
        must finish the deletion."""
        name = data.draw(st.sampled_from(sorted(self.model)))
        record = self.library.find(name)
        catalog = self.library.inspect_stores().catalog
        catalog.put([replace(record, status=DocumentStatus.DELETING)])
        self.reopen()
        del self.model[name]

    # Invariants ---------------------------------------------------------------------------

    @invariant()
    def visible_documents_are_the_model(self) -> None:
        shown = {r.name: r.sha256 for r in self.library.documents()}
        expected = {name: document_id(text.encode())[1] for name, text in self.model.items()}
        assert shown == expected
        statuses = {r.status for r in self.library.inspect_stores().catalog.records()}
        assert statuses <= {DocumentStatus.READY}

    @invariant()
    def both_indexes_and_the_files_hold_exactly_the_visible_documents(self) -> None:
        expected = sorted(
            chunk_id_for(r.doc_id, index)
            for r in self.library.documents()
            for index in range(r.chunks)
        )
        assert sorted(self.library.inspect_stores().chunks.chunk_ids()) == expected
        assert sorted(lexical_chunk_ids(self.library)) == expected  # duplicates show here
        assert original_files(self.library) == {r.doc_id for r in self.library.documents()}

    @invariant()
    def a_unique_word_finds_its_document_while_the_model_holds_it(self) -> None:
        holders = {text: name for name, text in self.model.items()}
        for word, text in self.markers.items():
            hits = self.library.search_words(word, 10)
            found = {doc_id_of(hit.chunk_id) for hit in hits}
            expected = {document_id(text.encode())[0]} if text in holders else set()
            assert found == expected, (word, holders.get(text))


def test_library_life_cycle_keeps_the_indexes_and_the_model_in_agreement(
    tmp_path: Path, base_settings: Settings, embedder: Embedder
) -> None:
    LibraryLifeCycle.embedder = embedder
    # One data folder; each example gets its own collection in it.
    LibraryLifeCycle.base_settings = base_settings.with_overrides(data_dir=tmp_path / "data")
    run_state_machine_as_test(LibraryLifeCycle, settings=LIFE_CYCLE_SETTINGS)
