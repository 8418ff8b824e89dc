"""File bytes to a published document: parse, clean, chunk, embed, write, publish."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from ingest.chunking import chunk_pages, document_sections
from ingest.cleaning import check_pages, clean_text, no_text_reason, ocr_note
from ingest.files import (
    FileStatus,
    IngestOutcome,
    Progress,
    Step,
    TextDocument,
    document_id,
    outcome_of,
)
from ingest.headers import document_title
from ingest.locations import PAGES_APART, locate
from ingest.parsing import ParsedFile, parse_file, parse_limits, read_limited, too_large
from ingest.reasons import too_much_text
from rag.documents import Chunk, DocumentRecord, with_header
from rag.errors import IngestError, RagError
from rag.stores.library import Library

log = logging.getLogger(__name__)

# Chunks embedded and written per step; small enough to report progress often.
WRITE_BATCH = 128


@dataclass(frozen=True)
class _Chunked:
    """A document cut into chunks, with the pages whose text looked like junk."""

    record: DocumentRecord
    chunks: list[Chunk]
    junk_pages: tuple[int, ...] = ()


@dataclass(frozen=True)
class _Prepared:
    """A chunked document waiting for its batch to be embedded."""

    position: int
    document: _Chunked
    original: bytes

    @property
    def record(self) -> DocumentRecord:
        return self.document.record


class Ingestor:
    """Adds files to a library, one at a time, reporting each outcome."""

    def __init__(self, library: Library) -> None:
        self._library = library
        self._guard = threading.Lock()
        self._busy: dict[str, tuple[threading.Lock, int]] = {}
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
        if len(data) > self._max_bytes:
            return IngestOutcome(name, FileStatus.FAILED, too_large(len(data), self._max_bytes))
        doc_id, sha256 = document_id(data)
        # Two sessions uploading the same file at once: the second waits, then finds it
        # unchanged, so a failure of one can never remove what the other published.
        with self._one_at_a_time(doc_id):
            same = next((r for r in self._library.documents() if r.sha256 == sha256), None)
            if same is not None:
                return outcome_of(name, FileStatus.UNCHANGED, same)
            try:
                document = self._prepare(name, data, password, doc_id, sha256, progress)
                self._write(document.record, data, document.chunks, progress)
                retired = self._library.publish(document.record)
            except RagError as exc:  # a bad file, or storage that failed (disk full, read-only)
                return IngestOutcome(name, FileStatus.FAILED, str(exc), doc_id)
        status = FileStatus.REPLACED if retired else FileStatus.INGESTED
        return outcome_of(name, status, document.record, document.junk_pages)

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
        batch: list[_Prepared] = []
        for position, document in enumerate(documents):
            # Kept as the original: the title, a blank line, the text.
            data = with_header(document.title, document.text).encode("utf-8")
            doc_id, sha256 = document_id(document.name.encode("utf-8") + b"\n" + data)
            if sha256 in known:
                outcomes[position] = outcome_of(document.name, FileStatus.UNCHANGED, known[sha256])
            else:
                prepared = self._prepare_text(position, document, data, doc_id, sha256)
                if isinstance(prepared, IngestOutcome):
                    outcomes[position] = prepared
                else:
                    known[sha256] = prepared.record
                    batch.append(prepared)
            if sum(len(p.document.chunks) for p in batch) >= WRITE_BATCH:
                outcomes.update(self._write_batch(batch))
                batch = []
            if progress:
                progress(position + 1, len(documents), Step.EMBED)
        outcomes.update(self._write_batch(batch))
        return [outcomes[position] for position in range(len(documents))]

    def _prepare_text(
        self,
        position: int,
        document: TextDocument,
        data: bytes,
        doc_id: str,
        sha256: str,
    ) -> _Prepared | IngestOutcome:
        parsed = ParsedFile((document.text,))
        try:
            chunked = self._chunk(document.name, parsed, len(data), doc_id, sha256, document.title)
        except IngestError as exc:
            return IngestOutcome(document.name, FileStatus.FAILED, str(exc), doc_id)
        return _Prepared(position, chunked, data)

    def _write_batch(self, batch: Sequence[_Prepared]) -> dict[int, IngestOutcome]:
        """Embed, write and publish a batch; outcomes by input position."""
        if not batch:
            return {}
        chunks = [chunk for p in batch for chunk in p.document.chunks]
        try:
            self._library.begin_many([(p.record, p.original) for p in batch])
            self._index([p.record.doc_id for p in batch], chunks)
            retired = self._library.publish_many([p.record for p in batch])
        except RagError as exc:
            return {
                p.position: IngestOutcome(
                    p.record.name, FileStatus.FAILED, str(exc), p.record.doc_id
                )
                for p in batch
            }
        return {
            p.position: outcome_of(
                p.record.name,
                FileStatus.REPLACED if old else FileStatus.INGESTED,
                p.record,
                p.document.junk_pages,
            )
            for p, old in zip(batch, retired, strict=True)
        }

    def _prepare(
        self, name, data: bytes, password, doc_id, sha256, progress: Progress | None
    ) -> _Chunked:
        def reading(page: int, pages: int) -> None:
            if progress:
                progress(page, pages, Step.OCR)

        parsed = parse_file(name, data, password, self._limits, reading)
        return self._chunk(name, parsed, len(data), doc_id, sha256)

    def _chunk(
        self,
        name: str,
        parsed: ParsedFile,
        size: int,
        doc_id: str,
        sha256: str,
        title: str | None = None,
    ) -> _Chunked:
        """Clean and chunk a parsed file; a file's title, unless given, is its own."""
        settings = self._library.settings
        if sum(map(len, parsed.pages)) > settings.max_chars:
            raise IngestError(too_much_text(settings.max_chars))
        pages = [clean_text(page) for page in parsed.pages]
        check = check_pages(pages)
        if len(check.unusable) == len(pages):
            # Only a PDF can hold scanned pages: say what text recognition did with them.
            scanned = name.lower().endswith(".pdf")
            why = ocr_note(self._limits.ocr, parsed.ocr_skipped) if scanned else None
            unreadable = parsed.unreadable_pages
            raise IngestError(no_text_reason(check, len(pages), unreadable, parsed.page_error, why))
        # A junk page is indexed as if it were empty; it keeps its number.
        pages = ["" if n in check.junk_text else page for n, page in enumerate(pages, start=1)]
        title = document_title(parsed.title, name) if title is None else title
        chunks = self._chunk_pages(name, pages, doc_id, title, parsed)
        record = DocumentRecord(
            doc_id=doc_id,
            name=name,
            sha256=sha256,
            size_bytes=size,
            pages=len(pages),
            chunks=len(chunks),
            added_at=0.0,
            pages_without_text=check.unusable,
            unit=parsed.unit,
            pages_ocr=tuple(p for p in parsed.ocr_pages if p not in check.unusable),
            tables=parsed.tables,
        )
        return _Chunked(record, chunks, check.junk_text)

    def _chunk_pages(self, name, pages, doc_id, title, parsed: ParsedFile) -> list[Chunk]:
        settings = self._library.settings
        sections = document_sections(name, pages, parsed.outline, parsed.unit, parsed.headings)
        chunks = chunk_pages(
            pages,
            doc_id=doc_id,
            source=name,
            embedder=self._library.tokenizer,
            size=settings.chunk_tokens,
            overlap=settings.chunk_overlap,
            title=title,
            sections=sections,
            pages_apart=parsed.unit in PAGES_APART,
        )
        return locate(chunks, parsed, pages, sections)

    def _write(
        self, record: DocumentRecord, data: bytes, chunks: list[Chunk], progress: Progress | None
    ) -> None:
        self._library.begin(record, data)
        self._index([record.doc_id], chunks, progress)

    def _index(
        self, doc_ids: Sequence[str], chunks: Sequence[Chunk], progress: Progress | None = None
    ) -> None:
        """Embed and write the chunks of pending documents; on failure, remove them."""
        library = self._library
        try:
            for start in range(0, len(chunks), WRITE_BATCH):
                batch = chunks[start : start + WRITE_BATCH]
                library.write_chunks(batch, library.embed_passages(_texts(batch)))
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
