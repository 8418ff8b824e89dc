"""Read a file's text page by page. PDFs are parsed in a child process with limits.

A hostile or broken PDF can make a parser loop or allocate without end, so pypdf runs in
a separate process with a memory ceiling and a wall-clock deadline; on overrun the process
is killed and the file is reported, while the app carries on.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path, PurePath
from subprocess import DEVNULL, PIPE

from rag.errors import IngestError

PDF_HEADER = b"%PDF-"
# The PDF header may follow some junk, but must appear within the first kilobyte.
HEADER_WINDOW = 1024
TEXT_SUFFIXES = (".txt", ".md", ".markdown")
SUPPORTED_SUFFIXES = (".pdf", *TEXT_SUFFIXES)
_PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)


@dataclass(frozen=True)
class ParsedFile:
    """Raw page texts (page n is `pages[n - 1]`) and pages the parser could not read."""

    pages: tuple[str, ...]
    unreadable_pages: tuple[int, ...] = ()


@dataclass(frozen=True)
class ParseLimits:
    """Bounds for the parser process."""

    timeout_s: float = 120.0
    memory_mb: int = 1024


def parse_file(
    name: str, data: bytes, password: str | None = None, limits: ParseLimits | None = None
) -> ParsedFile:
    """The pages of a PDF, text or Markdown file; raises IngestError with the reason."""
    suffix = PurePath(name).suffix.lower()
    if not data:
        raise IngestError("empty file (0 bytes)")
    if suffix in TEXT_SUFFIXES:
        return ParsedFile((_decode_text(data),))
    if suffix != ".pdf":
        raise IngestError(
            f"unsupported file type {suffix or '(none)'}; use {', '.join(SUPPORTED_SUFFIXES)}"
        )
    if PDF_HEADER not in data[:HEADER_WINDOW]:
        raise IngestError("not a PDF: the file does not start with %PDF-")
    return _parse_pdf_isolated(data, password, limits or ParseLimits())


def _decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Not UTF-8: cp1252 covers most older Western text files and never fails on a byte.
        return data.decode("cp1252", errors="replace")


def _parse_pdf_isolated(data: bytes, password: str | None, limits: ParseLimits) -> ParsedFile:
    # A fresh interpreter rather than multiprocessing: it never re-imports the caller's
    # main module (Streamlit's, a test runner's), and it shares no threads or locks.
    command = [sys.executable, "-m", "ingest.pdf_worker", str(limits.memory_mb)]
    request = json.dumps({"password": password}).encode() + b"\n" + data
    environment = {**os.environ, "PYTHONPATH": _PROJECT_ROOT}
    with subprocess.Popen(
        command, stdin=PIPE, stdout=PIPE, stderr=DEVNULL, env=environment
    ) as child:
        try:
            output, _ = child.communicate(request, timeout=limits.timeout_s)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            raise IngestError(
                f"parsing took longer than {limits.timeout_s:g} s and was stopped"
            ) from None
    try:
        reply = json.loads(output)
    except ValueError:
        raise IngestError(
            f"the PDF parser stopped (exit code {child.returncode}); the file may need more"
            f" than {limits.memory_mb} MB to parse, or is damaged"
        ) from None
    if "error" in reply:
        raise IngestError(reply["error"])
    return ParsedFile(tuple(reply["pages"]), tuple(reply["unreadable_pages"]))


def parse_pdf_in_this_process(data: bytes, password: str | None, memory_mb: int) -> dict:
    """The worker's side: limit memory, parse, and describe the outcome as a dict."""
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        parsed = _read_pdf(data, password)
    except IngestError as exc:
        return {"error": str(exc)}
    except MemoryError:
        return {"error": f"parsing needed more than {memory_mb} MB of memory"}
    except Exception as exc:  # pypdf raises many kinds; each means the same to the user
        return {"error": f"unreadable PDF: {_short(exc)}"}
    return {"pages": parsed.pages, "unreadable_pages": parsed.unreadable_pages}


def _read_pdf(data: bytes, password: str | None) -> ParsedFile:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(BytesIO(data))
        _unlock(reader, password)
        pages = reader.pages
        count = len(pages)
    except PdfReadError as exc:
        raise IngestError(f"unreadable PDF: {_short(exc)}") from exc
    texts, unreadable = [], []
    for number in range(1, count + 1):
        try:
            texts.append(pages[number - 1].extract_text() or "")
        except Exception:  # one bad page must not cost the rest of the document
            texts.append("")
            unreadable.append(number)
    return ParsedFile(tuple(texts), tuple(unreadable))


def _unlock(reader, password: str | None) -> None:
    from pypdf import PasswordType

    if not reader.is_encrypted:
        return
    if reader.decrypt("") != PasswordType.NOT_DECRYPTED:
        return  # encrypted with an empty user password: opens like any PDF
    if not password:
        raise IngestError("password-protected: give the password to open it")
    if reader.decrypt(password) == PasswordType.NOT_DECRYPTED:
        raise IngestError("password-protected: the password given is wrong")


def _short(exc: Exception, limit: int = 200) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
