"""The parser process, run from the app: request, deadline, bounded reply, progress.

A hostile or broken file can make a parser loop or allocate without end, so files are read
in a separate process (`ingest.worker`) with a memory ceiling, a CPU-time limit and a
wall-clock deadline; on overrun the process is killed and the file is reported, while the
app carries on. The parent reads at most a bounded reply.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from signal import SIGKILL, SIGSEGV, SIGXCPU
from subprocess import DEVNULL, PIPE

from ingest.limits import ParseLimits
from rag.errors import IngestError

_PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)
_READ_SIZE = 1 << 20
# Parser processes at once, however many sessions upload: each may use its whole memory
# limit, so this bounds the app's worst case at this many times RAG_PARSE_MEMORY_MB.
MAX_WORKERS = max(2, os.cpu_count() or 2)
_WORKERS = threading.BoundedSemaphore(MAX_WORKERS)
# (page being read, pages in the document): text recognition's progress.
PageProgress = Callable[[int, int], None]
# Receives what the parser sends before its reply: pages, outline, headings.
Listener = Callable[[dict], None]
# The lines sent before the reply, each of one of these keys; any other line is the reply.
_EARLY_KEYS = frozenset({"progress", "document", "page", "headings"})


class WorkerTimeoutError(IngestError):
    """The parser process ran past its deadline and was stopped."""


def run_parser(
    request: dict,
    data: bytes,
    limits: ParseLimits,
    progress: PageProgress | None = None,
    listen: Listener | None = None,
) -> dict:
    """The parser process's reply to `request` on `data`; IngestError when it fails.

    With `listen`, the request asks the parser to stream its pages, and each line it sends
    before the reply is passed on (see `ingest.pdf_stream`).
    """
    cap = None
    if listen is not None:
        request, cap = {**request, "stream": True}, limits.streamed_reply_bytes
    reply, code = run_worker(request, data, limits, progress, cap, listen)
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
    listen: Listener | None = None,
) -> tuple[dict | None, int]:
    """(the parser process's reply to `request` on `data`, or None when it wrote none, and
    its exit code). It is killed past its deadline (WorkerTimeoutError) or once its reply
    passes `reply_bytes` (by default `limits.reply_bytes`; IngestError). Lines sent before
    the reply go to `progress` (text recognition's) or to `listen` (the rest)."""
    header = json.dumps(request).encode() + b"\n"
    cap = reply_bytes or limits.reply_bytes
    early = _EarlyLines(limits, progress, listen)
    return _run_worker(header, data, early, cap)


def _run_worker(
    header: bytes, data: bytes, early: _EarlyLines, cap: int
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
            reply = _read_reply(child.stdout, early, cap)
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


def _read_reply(pipe, early: _EarlyLines, cap: int) -> dict | None:
    """The worker's reply line, passing on the lines before it, within the deadline and
    size cap; None when it exits without a reply."""
    clock = early.clock
    line, received = bytearray(), 0
    # A selector, not select.select: a busy server may hold more than 1,024 descriptors.
    with selectors.DefaultSelector() as selector:
        selector.register(pipe, selectors.EVENT_READ)
        while True:
            if not selector.select(clock.remaining()):
                raise WorkerTimeoutError(_too_slow(clock.limits, clock.recognising))
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
                if message is not None and not _is_early(message):
                    return message
                if message is not None:
                    early.pass_on(message)
            line += rest


class _EarlyLines:
    """Where the lines sent before the reply go, and the deadline they may extend: the
    recognition budget is added when the worker announces its first scanned page, so a
    slow text layer is stopped as soon as ever, and only a scan gets the time it needs."""

    def __init__(
        self, limits: ParseLimits, progress: PageProgress | None, listen: Listener | None
    ) -> None:
        self.clock = _Deadline(limits)
        self._progress = progress or (lambda page, pages: None)
        self._listen = listen or (lambda message: None)

    def pass_on(self, message: dict) -> None:
        if "progress" in message:
            self.clock.recognition_started()
            self._progress(*message["progress"])
        else:
            self._listen(message)


class _Deadline:
    """When the parser must have finished: the parse timeout, and once text recognition
    has started, its document budget on top."""

    def __init__(self, limits: ParseLimits) -> None:
        self.limits = limits
        self._at = time.monotonic() + limits.timeout_s
        self.recognising = False

    def recognition_started(self) -> None:
        if not self.recognising:
            self.recognising = True
            self._at += self.limits.ocr_document_timeout_s

    def remaining(self) -> float:
        # A zero or negative timeout makes select return at once, with nothing ready.
        return max(self._at - time.monotonic(), 0.0)


def _is_early(message: dict) -> bool:
    return len(message) == 1 and next(iter(message)) in _EARLY_KEYS


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
