"""The parser process: one request on standard input, JSON lines on standard output.

Input: a JSON line (the request: the file's suffix, its password, the limits, whether and
how to read scanned pages), then the file's bytes. Output: while scanned pages are read, a
line `{"progress": [page, pages]}` before each; for a PDF whose request asks to `stream`,
its outline and pages as they are read (`ingest.pdf_stream`); then one line, the reply (see
`ingest.parsing.ParsedFile`) or `{"error": "reason"}`. The process limits itself before
it reads the file: address space, CPU time, no files written, no core dump. Every reason
is meant for the person who uploaded the file. A request of kind "render" draws one page
of a PDF for the viewer instead (see `ingest.viewer.render`).
"""

from __future__ import annotations

import json
import resource
import sys

from ingest.formats import read_document
from ingest.formats.extracted import ReadLimits
from ingest.pdf_worker import parse_request, too_much_memory
from rag.errors import IngestError
from rag.safe_text import shorten


def limit_resources(memory_mb: int, cpu_s: int, ocr_memory_mb: int = 0) -> None:
    """Cap this process: memory, CPU time, file writes and core dumps.

    The CPU limit backs up the parent's wall-clock deadline: should the app itself die, an
    orphaned parser still stops on its own. Text recognition needs more memory than text
    extraction: the hard memory limit leaves it room, which `allow_ocr_memory` opens only
    once the document has been read.
    """
    memory = memory_mb * 1024 * 1024
    hard = max(memory_mb, ocr_memory_mb) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, hard))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def emit(message: dict) -> None:
    """Write one line of JSON to the parent."""
    sys.stdout.buffer.write(json.dumps(message, ensure_ascii=False).encode("utf-8") + b"\n")
    sys.stdout.buffer.flush()


def handle(data: bytes, request: dict) -> dict:
    """Read the file as the request says; describe the outcome as a JSON-ready dict."""
    if request.get("kind") == "render":
        from ingest.viewer.render import render_request  # only the viewer draws pages

        return render_request(data, request)
    if request.get("suffix", ".pdf") == ".pdf":
        return parse_request(data, request, emit)
    try:
        return read_document(request["suffix"], data, ReadLimits(**request["read"])).as_reply()
    except IngestError as exc:
        return {"error": str(exc)}
    except MemoryError:
        return {"error": too_much_memory(request["memory_mb"])}
    except Exception as exc:  # a reader's library raises many kinds; each means the same
        kind = request["suffix"].lstrip(".").upper()
        return {"error": shorten(f"unreadable {kind} file ({type(exc).__name__}: {exc})", 240)}


def main() -> None:
    """Read the request, limit this process, read the file, and write the reply."""
    request = json.loads(sys.stdin.buffer.readline())
    ocr = request.get("ocr") or {}
    limit_resources(request["memory_mb"], request["cpu_s"], ocr.get("memory_mb", 0))
    emit(handle(sys.stdin.buffer.read(), request))


if __name__ == "__main__":
    main()
