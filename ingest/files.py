"""What ingestion takes and reports: files to read, text documents, and each file's outcome."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from ingest.parsing import SUPPORTED_SUFFIXES
from rag.documents import DocumentRecord, page_list


class FileStatus(StrEnum):
    """How ingesting one file ended."""

    INGESTED = "ingested"
    UNCHANGED = "unchanged"
    REPLACED = "replaced"
    FAILED = "failed"


@dataclass(frozen=True)
class IngestOutcome:
    """The result for one file, as the command line and the app report it.

    `pages_without_text` lists every page that gave nothing to index; those of them whose
    text layer looked like junk (a bad OCR) are also in `pages_with_junk_text`. `unit`
    says what a page is (a slide, a sheet, ...); `pages_ocr` lists the pages read by text
    recognition, and `tables` counts the tables kept as rows.
    """

    path: str
    status: FileStatus
    reason: str | None = None
    doc_id: str | None = None
    pages: int = 0
    pages_without_text: tuple[int, ...] = field(default=())
    chunks: int = 0
    pages_with_junk_text: tuple[int, ...] = field(default=())
    unit: str = "page"
    pages_ocr: tuple[int, ...] = field(default=())
    tables: int = 0

    @property
    def ok(self) -> bool:
        """True unless the file failed."""
        return self.status is not FileStatus.FAILED

    def as_dict(self) -> dict:
        """JSON-friendly form."""
        return {
            "path": self.path,
            "status": self.status.value,
            "reason": self.reason,
            "doc_id": self.doc_id,
            "pages": self.pages,
            "pages_without_text": list(self.pages_without_text),
            "pages_with_junk_text": list(self.pages_with_junk_text),
            "chunks": self.chunks,
            "unit": self.unit,
            "pages_ocr": list(self.pages_ocr),
            "tables": self.tables,
        }


@dataclass(frozen=True)
class TextDocument:
    """A document that is already text: a name (shown as its source), the text, and the
    title that heads each of its chunks ("" for none)."""

    name: str
    text: str
    title: str = ""


def document_id(data: bytes) -> tuple[str, str]:
    """(doc_id, sha256): a document is identified by the hash of its bytes."""
    digest = hashlib.sha256(data).hexdigest()
    return digest[:20], digest


def supported_files(paths: Sequence[Path]) -> list[Path]:
    """The given files, and the supported files inside the given folders, in name order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = (p for p in sorted(path.rglob("*")) if p.is_file())
            found += [p for p in inside if p.suffix.lower() in SUPPORTED_SUFFIXES]
        elif path.is_file():
            found.append(path)
    return found


def outcome_of(
    name: str, status: FileStatus, record: DocumentRecord, junk_pages: tuple[int, ...] = ()
) -> IngestOutcome:
    """The outcome of a file that is now (or already was) in the library as `record`."""
    return IngestOutcome(
        path=name,
        status=status,
        doc_id=record.doc_id,
        pages=record.pages,
        pages_without_text=record.pages_without_text,
        chunks=record.chunks,
        pages_with_junk_text=junk_pages,
        unit=record.unit,
        pages_ocr=record.pages_ocr,
        tables=record.tables,
    )


def found_in(outcome: IngestOutcome) -> str:
    """What ingestion found in a file, in words: "12 slides, 30 chunks, 2 tables; pages
    3, 4 read by OCR; no text on pages 7"."""
    parts = [f"{outcome.chunks:,} chunks"]
    if outcome.unit != "section":  # a document with no pages of its own: no count
        parts.insert(0, _count(outcome.pages, outcome.unit))
    if outcome.tables:
        parts.append(_count(outcome.tables, "table"))
    found = ", ".join(parts)
    if outcome.pages_ocr:
        found += f"; pages {page_list(outcome.pages_ocr, 10)} read by OCR"
    if outcome.pages_without_text:
        found += f"; no text on pages {page_list(outcome.pages_without_text, 10)}"
    return found


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


class Step(StrEnum):
    """What a file's progress counts: pages read, pages read by text recognition, or chunks
    embedded."""

    READ = "read"
    OCR = "ocr"
    EMBED = "embed"


# (done, total, what is counted): "reading page 12 of 40 (OCR)", "embedded 128 of 400 chunks".
Progress = Callable[[int, int, Step], None]


def progress_text(done: int, total: int, step: Step) -> str:
    """The progress of one file in words."""
    if step is Step.READ:
        return f"reading page {done} of {total}"
    if step is Step.OCR:
        return f"reading page {done} of {total} (OCR)"
    return f"embedded {done} of {total} chunks"
