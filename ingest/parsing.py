"""Read a file's text page by page. PDFs are parsed in a child process with limits.

A hostile or broken PDF can make a parser loop or allocate without end, so pypdf runs in
a separate process (`ingest.pdf_worker`) with a memory ceiling, a CPU-time limit and a
wall-clock deadline; on overrun the process is killed and the file is reported, while the
app carries on. The parent reads at most a bounded reply.
"""

from __future__ import annotations

import json
import math
import os
import re
import selectors
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path, PurePath
from signal import SIGKILL, SIGSEGV, SIGXCPU
from subprocess import DEVNULL, PIPE

from ingest.reasons import too_much_text
from rag.config import DEFAULTS
from rag.errors import IngestError

PDF_HEADER = b"%PDF-"
# The PDF header may follow some junk, but must appear within the first kilobyte.
HEADER_WINDOW = 1024
# Junk before the header that is a web page: an HTML/PDF polyglot, refused.
_MARKUP = re.compile(rb"<\s*(?:!doctype|html|head|body|script|iframe|svg|img|meta)\b", re.I)
TEXT_SUFFIXES = (".txt", ".md", ".markdown")
BINARY_WINDOW = 8192
# Byte order marks of UTF-16 text, as Windows Notepad saves "Unicode".
UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")
SUPPORTED_SUFFIXES = (".pdf", *TEXT_SUFFIXES)
_PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)
_READ_SIZE = 1 << 20


@dataclass(frozen=True)
class ParsedFile:
    """Raw page texts (page n is `pages[n - 1]`) and pages the parser could not read.

    `page_error` says why the first unreadable page could not be read. A PDF also gives
    its metadata title (raw, maybe boilerplate) and its outline: (1-based page, path of
    nested bookmark titles) for each bookmark, in outline order.
    """

    pages: tuple[str, ...]
    unreadable_pages: tuple[int, ...] = ()
    page_error: str | None = None
    title: str = ""
    outline: tuple[tuple[int, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class ParseLimits:
    """Bounds for parsing one file: the parser process's time and memory, and how many
    pages and characters a document may have. The defaults are the settings' defaults."""

    timeout_s: float = DEFAULTS.parse_timeout_s
    memory_mb: int = DEFAULTS.parse_memory_mb
    max_pages: int = DEFAULTS.max_pages
    max_chars: int = DEFAULTS.max_chars

    @property
    def cpu_s(self) -> int:
        """The parser's CPU-time limit: just above the wall-clock deadline."""
        return math.ceil(self.timeout_s) + 1

    @property
    def reply_bytes(self) -> int:
        """The most the parser may send back: each character is at most 6 bytes of JSON
        (a control character escaped), plus a little per page."""
        return 6 * self.max_chars + 64 * self.max_pages + 65_536


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
    name: str, data: bytes, password: str | None = None, limits: ParseLimits | None = None
) -> ParsedFile:
    """The pages of a PDF, text or Markdown file; raises IngestError with the reason."""
    limits = limits or ParseLimits()
    suffix = PurePath(name).suffix.lower()
    if not data:
        raise IngestError("empty file (0 bytes)")
    if suffix in TEXT_SUFFIXES:
        return _text_file(data, limits)
    if suffix != ".pdf":
        raise IngestError(
            f"unsupported file type {suffix or '(none)'}; use {', '.join(SUPPORTED_SUFFIXES)}"
        )
    _check_pdf_header(data)
    return _parse_pdf_isolated(data, password, limits)


def _text_file(data: bytes, limits: ParseLimits) -> ParsedFile:
    text = _decode_text(data)
    if len(text) > limits.max_chars:
        raise IngestError(too_much_text(limits.max_chars))
    return ParsedFile((text,))


def _decode_text(data: bytes) -> str:
    if data.startswith(UTF16_MARKS):
        return data.decode("utf-16", errors="replace")
    # A NUL byte in the first few kilobytes marks a binary file, as git and `file` judge.
    if b"\x00" in data[:BINARY_WINDOW]:
        raise IngestError("not a text file: it holds binary data (a program, an image?)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Not UTF-8: cp1252 covers most older Western text files and never fails on a byte.
        return data.decode("cp1252", errors="replace")


def _check_pdf_header(data: bytes) -> None:
    start = data.find(PDF_HEADER, 0, HEADER_WINDOW)
    if start < 0:
        raise IngestError("not a PDF: the file does not start with %PDF-")
    if _MARKUP.search(data, 0, start):
        raise IngestError("not a PDF: the file starts as a web page (HTML) with a PDF after it")


# Parser processes at once, however many sessions upload: each may use its whole memory
# limit, so this bounds the app's worst case at this many times RAG_PARSE_MEMORY_MB.
MAX_WORKERS = max(2, os.cpu_count() or 2)
_WORKERS = threading.BoundedSemaphore(MAX_WORKERS)


def _parse_pdf_isolated(data: bytes, password: str | None, limits: ParseLimits) -> ParsedFile:
    request = {
        "password": password,
        "memory_mb": limits.memory_mb,
        "cpu_s": limits.cpu_s,
        "max_pages": limits.max_pages,
        "max_chars": limits.max_chars,
    }
    output, code = _run_worker(json.dumps(request).encode() + b"\n", data, limits)
    try:
        reply = json.loads(output)
    except ValueError:
        raise IngestError(_reason_for_exit(code, limits)) from None
    if "error" in reply:
        raise IngestError(reply["error"])
    return ParsedFile(
        tuple(reply["pages"]),
        tuple(reply["unreadable_pages"]),
        reply.get("page_error"),
        str(reply.get("title") or ""),
        _outline(reply.get("outline")),
    )


def _outline(entries: object) -> tuple[tuple[int, tuple[str, ...]], ...]:
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


def _run_worker(header: bytes, data: bytes, limits: ParseLimits) -> tuple[bytes, int]:
    """(what the worker wrote, its exit code); kills it on overrun."""
    # A fresh interpreter rather than multiprocessing: it never re-imports the caller's
    # main module (Streamlit's, a test runner's), and it shares no threads or locks.
    command = [sys.executable, "-m", "ingest.pdf_worker"]
    environment = {**os.environ, "PYTHONPATH": _PROJECT_ROOT}
    with (
        _WORKERS,
        subprocess.Popen(
            command, stdin=PIPE, stdout=PIPE, stderr=DEVNULL, env=environment, bufsize=0
        ) as child,
    ):
        feeder = threading.Thread(target=_feed, args=(child.stdin, header, data), daemon=True)
        feeder.start()
        try:
            output = _read_reply(child.stdout, limits)
        finally:
            if child.poll() is None:
                child.kill()
            code = child.wait()
            feeder.join()
    return output, code


def _feed(pipe, *parts: bytes) -> None:
    """Write the request; a worker that died or was killed stops reading, which is fine."""
    try:
        for part in parts:
            view = memoryview(part)
            while view:
                view = view[pipe.write(view) :]
        pipe.close()
    except (BrokenPipeError, OSError, ValueError):
        pass


def _read_reply(pipe, limits: ParseLimits) -> bytes:
    """Everything the worker writes until it exits, within the deadline and size cap."""
    deadline = time.monotonic() + limits.timeout_s
    received = bytearray()
    # A selector, not select.select: a busy server may hold more than 1,024 descriptors.
    with selectors.DefaultSelector() as selector:
        selector.register(pipe, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise IngestError(_too_slow(limits))
            piece = os.read(pipe.fileno(), _READ_SIZE)
            if not piece:
                return bytes(received)
            received += piece
            if len(received) > limits.reply_bytes:
                raise IngestError("the PDF parser sent back more text than the limits allow")


def _reason_for_exit(code: int, limits: ParseLimits) -> str:
    """Why the worker stopped without a reply, from its exit status."""
    if code == -SIGXCPU:
        return _too_slow(limits)
    if code in (-SIGKILL, -SIGSEGV):
        return (
            f"the PDF parser crashed (signal {-code}); the file may need more than"
            f" {limits.memory_mb} MB to parse, or is damaged"
        )
    return (
        f"the PDF parser stopped (exit code {code}); the file may need more than"
        f" {limits.memory_mb} MB to parse, or is damaged"
    )


def _too_slow(limits: ParseLimits) -> str:
    return f"parsing took longer than {limits.timeout_s:g} s and was stopped (RAG_PARSE_TIMEOUT_S)"
