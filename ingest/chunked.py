"""A parsed file to a chunked document: clean the pages, check them, cut them into chunks."""

from __future__ import annotations

from dataclasses import dataclass

from ingest.chunking import chunk_pages, document_sections
from ingest.cleaning import check_pages, clean_text, no_text_reason, ocr_note
from ingest.headers import document_title
from ingest.locations import PAGES_APART, locate
from ingest.parsing import ParsedFile
from ingest.reasons import too_much_text
from rag.config import Settings
from rag.documents import Chunk, DocumentRecord
from rag.errors import IngestError
from rag.providers.embeddings import Embedder


@dataclass(frozen=True)
class Chunked:
    """A document cut into chunks, with the pages whose text looked like junk."""

    record: DocumentRecord
    chunks: list[Chunk]
    junk_pages: tuple[int, ...] = ()


@dataclass(frozen=True)
class Source:
    """What is known of a file before it is read: its name, size and identity."""

    name: str
    size: int
    doc_id: str
    sha256: str


def chunk_document(
    settings: Settings,
    tokenizer: Embedder,
    source: Source,
    parsed: ParsedFile,
    title: str | None = None,
) -> Chunked:
    """Clean and chunk a parsed file; a file's title, unless given, is its own.

    IngestError when the file holds too much text, or no page with usable text.
    """
    if sum(map(len, parsed.pages)) > settings.max_chars:
        raise IngestError(too_much_text(settings.max_chars))
    pages = [clean_text(page) for page in parsed.pages]
    check = check_pages(pages)
    if len(check.unusable) == len(pages):
        # Only a PDF can hold scanned pages: say what text recognition did with them.
        scanned = source.name.lower().endswith(".pdf")
        why = ocr_note(settings.ocr, parsed.ocr_skipped) if scanned else None
        unreadable = parsed.unreadable_pages
        raise IngestError(no_text_reason(check, len(pages), unreadable, parsed.page_error, why))
    # A junk page is indexed as if it were empty; it keeps its number.
    pages = ["" if n in check.junk_text else page for n, page in enumerate(pages, start=1)]
    title = document_title(parsed.title, source.name) if title is None else title
    chunks = _chunk_pages(settings, tokenizer, source, pages, title, parsed)
    record = DocumentRecord(
        doc_id=source.doc_id,
        name=source.name,
        sha256=source.sha256,
        size_bytes=source.size,
        pages=len(pages),
        chunks=len(chunks),
        added_at=0.0,
        pages_without_text=check.unusable,
        unit=parsed.unit,
        pages_ocr=tuple(p for p in parsed.ocr_pages if p not in check.unusable),
        tables=parsed.tables,
    )
    return Chunked(record, chunks, check.junk_text)


def _chunk_pages(
    settings: Settings,
    tokenizer: Embedder,
    source: Source,
    pages: list[str],
    title: str,
    parsed: ParsedFile,
) -> list[Chunk]:
    name = source.name
    sections = document_sections(name, pages, parsed.outline, parsed.unit, parsed.headings)
    chunks = chunk_pages(
        pages,
        doc_id=source.doc_id,
        source=name,
        embedder=tokenizer,
        size=settings.chunk_tokens,
        overlap=settings.chunk_overlap,
        title=title,
        sections=sections,
        pages_apart=parsed.unit in PAGES_APART,
    )
    return locate(chunks, parsed, pages, sections)
