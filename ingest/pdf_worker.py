"""The PDF parser process: one request on stdin, one JSON reply on stdout.

Input: a JSON line `{"password", "memory_mb", "cpu_s", "max_pages", "max_chars"}`, then the
PDF bytes. Output: `{"pages": [...], "unreadable_pages": [...], "page_error": ...}` or
`{"error": "reason"}`. The process limits itself before it reads the PDF: address space,
CPU time, no files written, no core dump. Every reason is meant for the person who
uploaded the file.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
from io import BytesIO

from ingest.reasons import too_much_text
from rag.errors import IngestError

# An intact PDF ends with %%EOF; a download cut short does not.
_END_MARKER = b"%%EOF"
_TAIL = 2048
# What a pypdf error means to someone who is no PDF expert, by a word of its message.
_HINTS = (
    ("decompress", "a compressed part expands to far more data than a document needs"),
    ("stream length", "a part declares an impossible size"),
    ("tokens", "a page holds too many drawing instructions"),
    ("page tree", "its list of pages is too large or too deep"),
    ("cyclic", "its list of pages loops back on itself"),
    ("/pages", "its list of pages is damaged"),
    ("xref", "its index of parts (the cross-reference table) is missing or damaged"),
)


def limit_resources(memory_mb: int, cpu_s: int) -> None:
    """Cap this process: memory, CPU time, file writes and core dumps.

    The CPU limit backs up the parent's wall-clock deadline: should the app itself die, an
    orphaned parser still stops on its own.
    """
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def parse_request(data: bytes, request: dict) -> dict:
    """Parse the PDF as the request says; describe the outcome as a JSON-ready dict."""
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        pages = _open_pages(data, request["password"], request["max_pages"])
        return _extract(pages, request["max_chars"])
    except IngestError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # pypdf raises many kinds; each means the same to the user
        if _caused_by(exc, MemoryError):
            return {"error": too_much_memory(request["memory_mb"])}
        return {"error": f"unreadable PDF: {_open_failure(exc, data)}"}


def _open_pages(data: bytes, password: str | None, max_pages: int):
    """The document's pages, once it is unlocked and its page count is within the limit."""
    from pypdf import PdfReader

    reader = PdfReader(BytesIO(data))
    _unlock(reader, password)
    # The declared count costs nothing to read; walking the page tree may cost seconds.
    _check_page_count(_declared_page_count(reader), max_pages)
    pages = reader.pages
    _check_page_count(len(pages), max_pages)  # the declared count may understate
    return pages


def _extract(pages, max_chars: int) -> dict:
    """Each page's text, stopping as soon as the document passes the character limit."""
    texts: list[str] = []
    unreadable: list[int] = []
    page_error = None
    total = 0
    for number, page in enumerate(pages, start=1):
        text, error = _page_text(page)
        if error is not None:
            unreadable.append(number)
            page_error = page_error or error
        total += len(text)
        if total > max_chars:
            raise IngestError(too_much_text(max_chars, number, len(pages)))
        texts.append(text)
    return {"pages": texts, "unreadable_pages": unreadable, "page_error": page_error}


def _page_text(page) -> tuple[str, str | None]:
    """(text, None), or ("", why) when the page cannot be read: one bad page must not cost
    the rest of the document."""
    try:
        text = page.extract_text() or ""
    except Exception as exc:
        if _caused_by(exc, MemoryError):
            raise
        return "", describe(exc)
    # A font can map glyphs to lone surrogates, which no encoder or index accepts.
    return text.encode("utf-8", "replace").decode("utf-8"), None


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


def _declared_page_count(reader) -> int:
    """The page count the file declares: read without walking the page tree."""
    try:
        return int(reader.trailer["/Root"]["/Pages"]["/Count"])
    except Exception:
        return 0  # missing or malformed: the walk that follows will tell


def _check_page_count(count: int, limit: int) -> None:
    if count > limit:
        raise IngestError(f"too many pages: {count:,} (the limit is {limit:,}, RAG_MAX_PAGES)")


def too_much_memory(memory_mb: int) -> str:
    """The reason given when the parser runs out of its memory."""
    return (
        f"parsing needed more than {memory_mb} MB of memory and was stopped (RAG_PARSE_MEMORY_MB)"
    )


def describe(exc: BaseException) -> str:
    """A parser error in words: what kind of damage, then the parser's own message."""
    if _caused_by(exc, RecursionError):
        return "its objects are nested too deeply to read"
    for error in _chain(exc):
        message = str(error).lower()
        hint = next((h for word, h in _HINTS if word in message), None)
        if hint is None and type(error).__name__ == "LimitReachedError":
            hint = "it goes past a safety limit of the PDF reader"
        if hint is not None:
            return f"{hint} ({_short(error)})"
    return _short(exc)


def _open_failure(exc: Exception, data: bytes) -> str:
    if _END_MARKER not in data[-_TAIL:]:
        return f"the file seems cut short; {describe(exc)}"
    return describe(exc)


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and those it was raised from (pypdf wraps the real cause)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    return any(isinstance(error, kind) for error in _chain(exc))


def _short(exc: BaseException, limit: int = 200) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def main() -> None:
    """Read the request, limit this process, parse, and write the reply."""
    request = json.loads(sys.stdin.buffer.readline())
    limit_resources(request["memory_mb"], request["cpu_s"])
    reply = parse_request(sys.stdin.buffer.read(), request)
    sys.stdout.buffer.write(json.dumps(reply, ensure_ascii=False).encode("utf-8"))


if __name__ == "__main__":
    main()
