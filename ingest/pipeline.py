"""File bytes to a published document: parse, clean, chunk, embed, write, publish."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from ingest.chunked import Chunked, Source, chunk_document
from ingest.files import (
    FileStatus,
    IngestOutcome,
    Progress,
    Step,
    TextDocument,
    document_id,
    outcome_of,
)
from ingest.parsing import ParsedFile, parse_file, parse_limits, read_limited, too_large
from ingest.speculation import Speculation, Vectors, vectors_for
from rag.documents import Chunk, DocumentRecord, with_header
from rag.errors import IngestError, RagError
from rag.stores.library import Library

log = logging.getLogger(__name__)

# Chunks embedded and written per step; small enough to report progress often.
WRITE_BATCH = 128
# One embedding at a time in the process: the model already uses every core, so the
# queues of several knowledge bases take turns rather than slow each other down.
_EMBEDDING = threading.Lock()


@dataclass(frozen=True)
class PreparedFile:
    """A file read and chunked, waiting to be embedded and published (see `Ingestor.commit`),
    with the vectors of the chunks embedded while it was read, by text."""

    document: Chunked
    original: bytes
    vectors: Vectors = field(default_factory=dict)

    @property
    def record(self) -> DocumentRecord:
        """The document's catalog record, not yet written."""
        return self.document.record


class Ingestor:
    """Adds files to a library, one at a time, reporting each outcome."""

    def __init__(self, library: Library) -> None:
        self._library = library
        self._guard = threading.Lock()
        self._busy: dict[str, tuple[threading.Lock, int]] = {}
        # Held while a file's chunks are embedded; a file still being read embeds ahead
        # only while it is free.
        self._embedder = _EMBEDDING
        self._limits = parse_limits(library.settings)
        self._max_bytes = library.settings.max_upload_mb * 1024 * 1024

    def ingest_path(
        self, path: Path, password: str | None = None, progress: Progress | None = None
    ) -> IngestOutcome:
        """Ingest a file from disk; the document's name is the file name.

        A file over the size limit is refused before it is read into memory.
        """
        try:
            data = read_limited(path, self._max_bytes)
        except OSError as exc:
            return IngestOutcome(str(path), FileStatus.FAILED, f"cannot read: {exc.strerror}")
        except IngestError as exc:
            return IngestOutcome(str(path), FileStatus.FAILED, str(exc))
        return replace(self.ingest_bytes(path.name, data, password, progress), path=str(path))

    def ingest_bytes(
        self, name: str, data: bytes, password: str | None = None, progress: Progress | None = None
    ) -> IngestOutcome:
        """Ingest one file's bytes under a name; never raises for a bad file.

        The name is only shown, never used as a path: the original is stored under the
        document id.
        """
        doc_id, _ = document_id(data)
        # Two sessions uploading the same file at once: the second waits, then finds it
        # unchanged, so a failure of one can never remove what the other published.
        with self._one_at_a_time(doc_id):
            prepared = self.prepare(name, data, password, progress)
            if isinstance(prepared, IngestOutcome):
                return prepared
            return self.commit(prepared, progress)

    def prepare(
        self, name: str, data: bytes, password: str | None = None, progress: Progress | None = None
    ) -> PreparedFile | IngestOutcome:
        """Read and chunk a file, writing nothing: the part that may run beside another
        file's `commit`. The outcome at once for a file refused, unchanged or unreadable."""
        if len(data) > self._max_bytes:
            return IngestOutcome(name, FileStatus.FAILED, too_large(len(data), self._max_bytes))
        doc_id, sha256 = document_id(data)
        same = self._published(doc_id, sha256)
        if same is not None:
            return outcome_of(name, FileStatus.UNCHANGED, same)
        try:
            return self._prepare(
                name, data, password, Source(name, len(data), doc_id, sha256), progress
            )
        except RagError as exc:
            return IngestOutcome(name, FileStatus.FAILED, str(exc), doc_id)

    def commit(self, prepared: PreparedFile, progress: Progress | None = None) -> IngestOutcome:
        """Embed, write and publish a prepared file; never raises for a bad file.

        A file published since it was prepared (the same bytes queued twice) is unchanged.
        """
        return self.commit_many([prepared], progress)[0]

    def commit_many(
        self, files: Sequence[PreparedFile], progress: Progress | None = None
    ) -> list[IngestOutcome]:
        """`commit` for several files at once, their outcomes in order: one batch of
        chunks to embed, one catalog write to begin and one to publish, one index commit.
        For many small files, whose stores' cost per file outweighs their embedding."""
        outcomes: dict[int, IngestOutcome] = {}
        todo: list[tuple[int, PreparedFile]] = []
        for position, prepared in enumerate(files):
            record = prepared.record
            same = self._published(record.doc_id, record.sha256)
            if same is not None:
                outcomes[position] = outcome_of(record.name, FileStatus.UNCHANGED, same)
            else:
                todo.append((position, prepared))
        written = self._write_batch([prepared for _, prepared in todo], progress)
        outcomes.update(zip([position for position, _ in todo], written, strict=True))
        return [outcomes[position] for position in range(len(files))]

    def _published(self, doc_id: str, sha256: str) -> DocumentRecord | None:
        """The visible document with these bytes, if any: the cached set of visible ids
        (a document's id comes from the same hash) rules most files out without reading
        the catalog."""
        if doc_id not in self._library.visible_ids():
            return None
        return next((r for r in self._library.documents() if r.sha256 == sha256), None)

    @contextmanager
    def _one_at_a_time(self, doc_id: str) -> Iterator[None]:
        """Hold the lock of one document id; locks exist only while someone uses them."""
        with self._guard:
            lock, users = self._busy.get(doc_id, (threading.Lock(), 0))
            self._busy[doc_id] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._busy.pop(doc_id)
                if users > 1:
                    self._busy[doc_id] = (lock, users - 1)

    def ingest_texts(
        self, documents: Sequence[TextDocument], progress: Progress | None = None
    ) -> list[IngestOutcome]:
        """Ingest many plain-text documents, several to an embedding batch.

        For corpora of short texts (a BEIR data set, notes), where one document per batch
        would leave the embedder mostly idle. A document is identified by its name, title
        and text, so an unchanged one is skipped without embedding it again; one whose text
        changed replaces the older version under its name.
        """
        known = {r.sha256: r for r in self._library.documents()}
        outcomes: dict[int, IngestOutcome] = {}
        batch: list[tuple[int, PreparedFile]] = []
        for position, document in enumerate(documents):
            # Kept as the original: the title, a blank line, the text.
            data = with_header(document.title, document.text).encode("utf-8")
            doc_id, sha256 = document_id(document.name.encode("utf-8") + b"\n" + data)
            if sha256 in known:
                outcomes[position] = outcome_of(document.name, FileStatus.UNCHANGED, known[sha256])
            else:
                prepared = self._prepare_text(document, data, doc_id, sha256)
                if isinstance(prepared, IngestOutcome):
                    outcomes[position] = prepared
                else:
                    known[sha256] = prepared.record
                    batch.append((position, prepared))
            if sum(len(p.document.chunks) for _, p in batch) >= WRITE_BATCH:
                outcomes.update(self._write_positions(batch))
                batch = []
            if progress:
                progress(position + 1, len(documents), Step.EMBED)
        outcomes.update(self._write_positions(batch))
        return [outcomes[position] for position in range(len(documents))]

    def _prepare_text(
        self, document: TextDocument, data: bytes, doc_id: str, sha256: str
    ) -> PreparedFile | IngestOutcome:
        parsed = ParsedFile((document.text,))
        try:
            source = Source(document.name, len(data), doc_id, sha256)
            chunked = self._chunk(source, parsed, document.title)
        except IngestError as exc:
            return IngestOutcome(document.name, FileStatus.FAILED, str(exc), doc_id)
        return PreparedFile(chunked, data)

    def _write_positions(
        self, batch: Sequence[tuple[int, PreparedFile]]
    ) -> dict[int, IngestOutcome]:
        written = self._write_batch([prepared for _, prepared in batch])
        return dict(zip([position for position, _ in batch], written, strict=True))

    def _write_batch(
        self, files: Sequence[PreparedFile], progress: Progress | None = None
    ) -> list[IngestOutcome]:
        """Embed, write and publish files not yet published; their outcomes in order."""
        if not files:
            return []
        chunks = [chunk for prepared in files for chunk in prepared.document.chunks]
        known = {text: vector for prepared in files for text, vector in prepared.vectors.items()}
        try:
            self._library.begin_many([(p.record, p.original) for p in files])
            self._index([p.record.doc_id for p in files], chunks, progress, known)
            retired = self._library.publish_many([p.record for p in files])
        except RagError as exc:  # a bad file, or storage that failed (disk full, read-only)
            return [
                IngestOutcome(p.record.name, FileStatus.FAILED, str(exc), p.record.doc_id)
                for p in files
            ]
        return [
            outcome_of(
                p.record.name,
                FileStatus.REPLACED if old else FileStatus.INGESTED,
                p.record,
                p.document.junk_pages,
            )
            for p, old in zip(files, retired, strict=True)
        ]

    def _prepare(
        self, name: str, data: bytes, password, source: Source, progress: Progress | None
    ) -> PreparedFile:
        def recognising(page: int, pages: int) -> None:
            if progress:
                progress(page, pages, Step.OCR)

        def listen(message: dict) -> None:
            ahead.listen(message)
            if progress and "page" in message:
                progress(message["page"][0], message["page"][1], Step.READ)

        def chunk(parsed: ParsedFile) -> list[Chunk]:
            return self._chunk(source, parsed).chunks

        ahead = Speculation(chunk, self._library.embed_passages, self._embedder)
        try:
            parsed = parse_file(name, data, password, self._limits, recognising, listen)
        finally:
            vectors = ahead.finish()
        return PreparedFile(self._chunk(source, parsed), data, vectors)

    def _chunk(self, source: Source, parsed: ParsedFile, title: str | None = None) -> Chunked:
        library = self._library
        return chunk_document(library.settings, library.tokenizer, source, parsed, title)

    def _index(
        self,
        doc_ids: Sequence[str],
        chunks: Sequence[Chunk],
        progress: Progress | None = None,
        known: Vectors | None = None,
    ) -> None:
        """Embed and write the chunks of pending documents, taking the `known` vectors of
        texts embedded earlier; on failure, remove the documents."""
        library = self._library
        try:
            for start in range(0, len(chunks), WRITE_BATCH):
                batch = chunks[start : start + WRITE_BATCH]
                with self._embedder:
                    vectors = vectors_for(_texts(batch), known or {}, library.embed_passages)
                library.write_chunks(batch, vectors)
                if progress:
                    progress(start + len(batch), len(chunks), Step.EMBED)
        except Exception as exc:
            for doc_id in doc_ids:
                library.discard(doc_id)
            if isinstance(exc, RagError):
                raise  # a storage or embedding error keeps its type
            log.exception("Indexing %s failed", ", ".join(doc_ids))
            raise IngestError(f"internal error while indexing: {type(exc).__name__}") from exc


def _texts(chunks: Sequence[Chunk]) -> list[str]:
    return [chunk.indexed_text() for chunk in chunks]
