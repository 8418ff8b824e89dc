"""Read a file's text page by page: text files here, every other format in the parser
process (`ingest.parser_process`), which runs under time, memory and output limits."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path, PurePath

from ingest.cleaning import decode_text
from ingest.formats import SUFFIXES as OTHER_SUFFIXES
from ingest.limits import ParseLimits
from ingest.parser_process import Listener, PageProgress, run_parser
from ingest.reasons import too_much_text
from rag.config import Settings
from rag.errors import IngestError

PDF_HEADER = b"%PDF-"
# The PDF header may follow some junk, but must appear within the first kilobyte.
HEADER_WINDOW = 1024
# Junk before the header that is a web page: an HTML/PDF polyglot, refused.
_MARKUP = re.compile(rb"<\s*(?:!doctype|html|head|body|script|iframe|svg|img|meta)\b", re.I)
TEXT_SUFFIXES = (".txt", ".md", ".markdown")
SUPPORTED_SUFFIXES = (".pdf", *TEXT_SUFFIXES, *OTHER_SUFFIXES)


@dataclass(frozen=True)
class ParsedFile:
    """Raw page texts (page n is `pages[n - 1]`) and pages the parser could not read.

    `page_error` says why the first unreadable page could not be read. A PDF also gives
    its metadata title (raw, maybe boilerplate) and its outline: (1-based page, path of
    nested bookmark titles) for each bookmark, in outline order; its scanned pages read by
    text recognition (`ocr_pages`, with each word's box as fractions of the page, top left
    first: `ocr_words[page]` = ((word, x0, y0, x1, y1), ...)) and those it could not read
    (`ocr_skipped`: page -> why), and the headings its type sets apart (page, level, text
    as on the page). Other formats name their unit (a slide, a sheet, a
    chapter) and its pages, count their tables and, for sheets, give each text line's row.
    """

    pages: tuple[str, ...]
    unreadable_pages: tuple[int, ...] = ()
    page_error: str | None = None
    title: str = ""
    outline: tuple[tuple[int, tuple[str, ...]], ...] = ()
    unit: str = "page"
    page_names: tuple[str, ...] = ()
    tables: int = 0
    row_numbers: tuple[tuple[int, ...], ...] = ()
    ocr_pages: tuple[int, ...] = ()
    ocr_words: dict[int, tuple[tuple, ...]] = field(default_factory=dict)
    ocr_skipped: dict[int, str] = field(default_factory=dict)
    headings: tuple[tuple[int, int, str], ...] = ()


def parse_limits(settings: Settings) -> ParseLimits:
    """The parsing limits the settings ask for."""
    names = [field.name for field in fields(ParseLimits)]
    renamed = {"timeout_s": "parse_timeout_s", "memory_mb": "parse_memory_mb"}
    return ParseLimits(**{name: getattr(settings, renamed.get(name, name)) for name in names})


def read_limited(path: Path, max_bytes: int) -> bytes:
    """A file's bytes; IngestError, before reading it, when it is over `max_bytes`."""
    with path.open("rb") as file:
        size = os.fstat(file.fileno()).st_size
        if size > max_bytes:
            raise IngestError(too_large(size, max_bytes))
        # One byte past the limit stops a file that grew since, or a device with no size.
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise IngestError(too_large(len(data), max_bytes))
    return data


def too_large(size: int, max_bytes: int) -> str:
    """The reason given for a file over the upload size limit."""
    megabyte = 1024 * 1024
    return (
        f"file too large: {size / megabyte:,.1f} MB"
        f" (the limit is {max_bytes // megabyte:,} MB, RAG_MAX_UPLOAD_MB)"
    )


def parse_file(
    name: str,
    data: bytes,
    password: str | None = None,
    limits: ParseLimits | None = None,
    progress: PageProgress | None = None,
    listen: Listener | None = None,
) -> ParsedFile:
    """The pages of a file of any supported format; raises IngestError with the reason.

    `progress(page, pages)` is called before each scanned page is read by recognition;
    `listen`, given a PDF, receives each page as it is read (see `ingest.pdf_stream`).
    """
    limits = limits or ParseLimits()
    suffix = PurePath(name).suffix.lower()
    if not data:
        raise IngestError("empty file (0 bytes)")
    if suffix in TEXT_SUFFIXES:
        return _text_file(data, limits)
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(
            f"unsupported file type {suffix or '(none)'}; use {', '.join(SUPPORTED_SUFFIXES)}"
        )
    if suffix == ".pdf":
        _check_pdf_header(data)
    else:
        listen = None  # other formats are read in one go
    reply = run_parser(limits.request(suffix, password), data, limits, progress, listen)
    return _parsed(reply)


def _parsed(reply: dict) -> ParsedFile:
    """The parser process's reply as a ParsedFile; malformed optional parts left out."""
    words = reply.get("ocr_words") or {}
    skipped = reply.get("ocr_skipped") or {}
    return ParsedFile(
        tuple(reply["pages"]),
        tuple(reply.get("unreadable_pages") or ()),
        reply.get("page_error"),
        str(reply.get("title") or ""),
        outline_entries(reply.get("outline")),
        unit=str(reply.get("unit") or "page"),
        page_names=tuple(map(str, reply.get("page_names") or ())),
        tables=int(reply.get("tables") or 0),
        row_numbers=tuple(tuple(rows) for rows in reply.get("row_numbers") or ()),
        ocr_pages=tuple(reply.get("ocr_pages") or ()),
        ocr_words={int(page): tuple(map(tuple, found)) for page, found in words.items()},
        ocr_skipped={int(page): str(why) for page, why in skipped.items()},
        headings=heading_entries(reply.get("headings")),
    )


def heading_entries(entries: object) -> tuple[tuple[int, int, str], ...]:
    """The reply's headings, any that are malformed left out."""
    if not isinstance(entries, list):
        return ()
    return tuple(
        (entry[0], entry[1], entry[2])
        for entry in entries
        if isinstance(entry, list)
        and len(entry) == 3
        and isinstance(entry[0], int)
        and isinstance(entry[1], int)
        and isinstance(entry[2], str)
    )


def _text_file(data: bytes, limits: ParseLimits) -> ParsedFile:
    text = decode_text(data)
    if len(text) > limits.max_chars:
        raise IngestError(too_much_text(limits.max_chars))
    return ParsedFile((text,))


def _check_pdf_header(data: bytes) -> None:
    start = data.find(PDF_HEADER, 0, HEADER_WINDOW)
    if start < 0:
        raise IngestError("not a PDF: the file does not start with %PDF-")
    if _MARKUP.search(data, 0, start):
        raise IngestError("not a PDF: the file starts as a web page (HTML) with a PDF after it")


def outline_entries(entries: object) -> tuple[tuple[int, tuple[str, ...]], ...]:
    """The reply's outline entries, any that are malformed left out."""
    if not isinstance(entries, list):
        return ()
    return tuple(
        (entry[0], tuple(str(title) for title in entry[1]))
        for entry in entries
        if isinstance(entry, list)
        and len(entry) == 2
        and isinstance(entry[0], int)
        and isinstance(entry[1], list)
    )
