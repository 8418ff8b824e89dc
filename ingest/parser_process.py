"""The parser process, run from the app: request, deadline, bounded reply, progress.

A hostile or broken file can make a parser loop or allocate without end, so files are read
in a separate process (`ingest.worker`) with a memory ceiling, a CPU-time limit and a
wall-clock deadline; on overrun the process is killed and the file is reported, while the
app carries on. The parent reads at most a bounded reply.
"""

from __future__ import annotations

import json
import math
import os
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from signal import SIGKILL, SIGSEGV, SIGXCPU
from subprocess import DEVNULL, PIPE

from rag.config import DEFAULTS
from rag.errors import IngestError

_PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)
_READ_SIZE = 1 << 20
# Parser processes at once, however many sessions upload: each may use its whole memory
# limit, so this bounds the app's worst case at this many times RAG_PARSE_MEMORY_MB.
MAX_WORKERS = max(2, os.cpu_count() or 2)
_WORKERS = threading.BoundedSemaphore(MAX_WORKERS)
# (page being read, pages in the document): text recognition's progress.
PageProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class ParseLimits:
    """Bounds for parsing one file: the parser process's time and memory, and how many
    pages and characters a document may have. The defaults are the settings' defaults.

    Text recognition, when on, adds its own time budget to the deadline and may use up to
    `ocr_memory_mb`; ZIP-based formats are checked against the archive limits.
    """

    timeout_s: float = DEFAULTS.parse_timeout_s
    memory_mb: int = DEFAULTS.parse_memory_mb
    max_pages: int = DEFAULTS.max_pages
    max_chars: int = DEFAULTS.max_chars
    ocr: bool = DEFAULTS.ocr
    ocr_page_timeout_s: float = DEFAULTS.ocr_page_timeout_s
    ocr_document_timeout_s: float = DEFAULTS.ocr_document_timeout_s
    ocr_memory_mb: int = DEFAULTS.ocr_memory_mb
    max_unzipped_mb: int = DEFAULTS.max_unzipped_mb
    max_zip_ratio: int = DEFAULTS.max_zip_ratio
    max_sheet_rows: int = DEFAULTS.max_sheet_rows
    max_sheet_cells: int = DEFAULTS.max_sheet_cells
    pdf_tables: bool = DEFAULTS.pdf_tables

    @property
    def deadline_s(self) -> float:
        """The longest a parse may take: the parse timeout, plus the recognition budget
        when there are scanned pages to read."""
        return self.timeout_s + (self.ocr_document_timeout_s if self.ocr else 0.0)

    @property
    def cpu_s(self) -> int:
        """The parser's CPU-time limit: just above the deadline, times the cores that text
        recognition may keep busy at once."""
        cores = (os.cpu_count() or 1) if self.ocr else 1
        return math.ceil(self.deadline_s * cores) + 1

    @property
    def reply_bytes(self) -> int:
        """The most the parser may send back: each character is at most 6 bytes of JSON
        (a control character escaped), as much again for the word boxes of recognised
        text, plus a little per page."""
        return 12 * self.max_chars + 64 * self.max_pages + 65_536

    def request(self, suffix: str, password: str | None) -> dict:
        """The JSON request the parser process reads first."""
        return {
            "suffix": suffix,
            "password": password,
            "memory_mb": self.memory_mb,
            "cpu_s": self.cpu_s,
            "max_pages": self.max_pages,
            "max_chars": self.max_chars,
            "pdf_tables": self.pdf_tables,
            "ocr": {
                "enabled": self.ocr,
                "page_timeout_s": self.ocr_page_timeout_s,
                "document_timeout_s": self.ocr_document_timeout_s,
                "memory_mb": self.ocr_memory_mb if self.ocr else 0,
            },
            "read": {
                "max_pages": self.max_pages,
                "max_chars": self.max_chars,
                "max_unzipped_mb": self.max_unzipped_mb,
                "max_zip_ratio": self.max_zip_ratio,
                "max_sheet_rows": self.max_sheet_rows,
                "max_sheet_cells": self.max_sheet_cells,
            },
        }


class WorkerTimeoutError(IngestError):
    """The parser process ran past its deadline and was stopped."""


def run_parser(
    request: dict, data: bytes, limits: ParseLimits, progress: PageProgress | None = None
) -> dict:
    """The parser process's reply to `request` on `data`; IngestError when it fails."""
    reply, code = run_worker(request, data, limits, progress)
    if reply is None:
        raise IngestError(_reason_for_exit(code, limits))
    if "error" in reply:
        raise IngestError(reply["error"])
    return reply


def run_worker(
    request: dict,
    data: bytes,
    limits: ParseLimits,
    progress: PageProgress | None = None,
    reply_bytes: int | None = None,
) -> tuple[dict | None, int]:
    """(the parser process's reply to `request` on `data`, or None when it wrote none, and
    its exit code). It is killed past its deadline (WorkerTimeoutError) or once its reply
    passes `reply_bytes` (by default `limits.reply_bytes`; IngestError)."""
    header = json.dumps(request).encode() + b"\n"
    cap = reply_bytes or limits.reply_bytes
    return _run_worker(header, data, limits, progress or (lambda page, pages: None), cap)


def _run_worker(
    header: bytes, data: bytes, limits: ParseLimits, progress: PageProgress, cap: int
) -> tuple[dict | None, int]:
    """(the worker's reply, or None when it wrote none, and its exit code); kills it on
    overrun."""
    # A fresh interpreter rather than multiprocessing: it never re-imports the caller's
    # main module (Streamlit's, a test runner's), and it shares no threads or locks.
    command = [sys.executable, "-m", "ingest.worker"]
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
            reply = _read_reply(child.stdout, limits, progress, cap)
        finally:
            if child.poll() is None:
                child.kill()
            code = child.wait()
            feeder.join()
    return reply, code


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


def _read_reply(pipe, limits: ParseLimits, progress: PageProgress, cap: int) -> dict | None:
    """The worker's reply line, passing on its progress lines, within the deadline and
    size cap; None when it exits without a reply.

    The deadline is RAG_PARSE_TIMEOUT_S, extended by the recognition budget when the
    worker announces its first scanned page: a slow text layer is stopped as soon as
    ever, and only a scan gets the time a scan needs.
    """
    clock = _Deadline(limits)
    line, received = bytearray(), 0
    # A selector, not select.select: a busy server may hold more than 1,024 descriptors.
    with selectors.DefaultSelector() as selector:
        selector.register(pipe, selectors.EVENT_READ)
        while True:
            if not selector.select(clock.remaining()):
                raise WorkerTimeoutError(_too_slow(limits, clock.recognising))
            piece = os.read(pipe.fileno(), _READ_SIZE)
            if not piece:
                return _message(bytes(line))
            received += len(piece)
            if received > cap:
                raise IngestError("the file parser sent back more text than the limits allow")
            *complete, rest = piece.split(b"\n")
            for part in complete:
                message = _message(bytes(line + part))
                line.clear()
                if message is not None and "progress" not in message:
                    return message
                if message is not None:
                    clock.recognition_started()
                    progress(*message["progress"])
            line += rest


class _Deadline:
    """When the parser must have finished: the parse timeout, and once text recognition
    has started, its document budget on top."""

    def __init__(self, limits: ParseLimits) -> None:
        self._limits = limits
        self._at = time.monotonic() + limits.timeout_s
        self.recognising = False

    def recognition_started(self) -> None:
        if not self.recognising:
            self.recognising = True
            self._at += self._limits.ocr_document_timeout_s

    def remaining(self) -> float:
        # A zero or negative timeout makes select return at once, with nothing ready.
        return max(self._at - time.monotonic(), 0.0)


def _message(line: bytes) -> dict | None:
    """One line of the worker's output as a dict; None when it is not one (cut short)."""
    try:
        message = json.loads(line)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def _reason_for_exit(code: int, limits: ParseLimits) -> str:
    """Why the worker stopped without a reply, from its exit status."""
    if code == -SIGXCPU:
        return _too_slow(limits)
    if code in (-SIGKILL, -SIGSEGV):
        return (
            f"the file parser crashed (signal {-code}); the file may need more than"
            f" {limits.memory_mb} MB to parse, or is damaged"
        )
    return (
        f"the file parser stopped (exit code {code}); the file may need more than"
        f" {limits.memory_mb} MB to parse, or is damaged"
    )


def _too_slow(limits: ParseLimits, recognising: bool = False) -> str:
    if recognising:
        return (
            f"parsing took longer than {limits.deadline_s:g} s and was stopped"
            " (RAG_PARSE_TIMEOUT_S plus RAG_OCR_DOCUMENT_TIMEOUT_S)"
        )
    return f"parsing took longer than {limits.timeout_s:g} s and was stopped (RAG_PARSE_TIMEOUT_S)"
