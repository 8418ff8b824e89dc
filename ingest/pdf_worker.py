"""Reading a PDF inside the parser process (`ingest.worker`): text, title, outline, and
the scanned pages by text recognition.

The reply: `{"pages": [...], "unreadable_pages": [...], "page_error": ..., "title": ...,
"outline": [[page, [titles...]], ...]}` and what `ingest.scanned` adds, or
`{"error": "reason"}`. Every reason is meant for the person who uploaded the file.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from io import BytesIO

from ingest.pdf_layout import PageScan, headings_in, page_text_with_tables, scan_page
from ingest.pdf_stream import PageStream
from ingest.reasons import too_much_text
from ingest.scanned import Emit, read_scanned_pages
from rag.errors import IngestError

# An intact PDF ends with %%EOF; a download cut short does not.
_END_MARKER = b"%%EOF"
_TAIL = 2048
# Bounds on reading bookmarks: a hostile outline must cost little time and reply space.
MAX_OUTLINE_ENTRIES = 2000
MAX_OUTLINE_DEPTH = 6
MAX_OUTLINE_BYTES = 32_000
MAX_TITLE_CHARS = 200
_NO_SCAN = PageScan("", (), ())
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


def parse_request(data: bytes, request: dict, emit: Emit) -> dict:
    """Parse the PDF as the request says; describe the outcome as a JSON-ready dict.

    Pages without a usable text layer are then read by text recognition where the request
    allows it, each announced through `emit` first.
    """
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = _open(data, request["password"], request["max_pages"])
        title, outline = metadata_title(reader), read_outline(reader)
        stream = PageStream(emit, title, outline) if request.get("stream") else None
        tables = request.get("pdf_tables", True)
        reply = _extract(reader.pages, request["max_chars"], tables, stream)
        reply |= {"title": title, "outline": outline}
        return reply | read_scanned_pages(reply, data, request, emit)
    except IngestError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # pypdf raises many kinds; each means the same to the user
        if _caused_by(exc, MemoryError):
            return {"error": too_much_memory(request["memory_mb"])}
        return {"error": f"unreadable PDF: {_open_failure(exc, data)}"}


def _open(data: bytes, password: str | None, max_pages: int):
    """The document's reader, once it is unlocked and its page count is within the limit."""
    from pypdf import PdfReader

    reader = PdfReader(BytesIO(data))
    _unlock(reader, password)
    # The declared count costs nothing to read; walking the page tree may cost seconds.
    _check_page_count(_declared_page_count(reader), max_pages)
    _check_page_count(len(reader.pages), max_pages)  # the declared count may understate
    return reader


def _extract(pages, max_chars: int, with_tables: bool, stream: PageStream | None) -> dict:
    """Each page's text (its tables as rows, when asked) and the headings set in larger or
    bold type, stopping as soon as the document passes the character limit; each page is
    sent on through `stream` as soon as it is read, when there is one."""
    texts, scans, unreadable = [], [], []
    page_error, total, tables = None, 0, 0
    for number, page in enumerate(pages, start=1):
        scan, error = _page_scan(page)
        if error is not None:
            unreadable.append(number)
            page_error = page_error or error
        text, count = _tables_as_rows(page, scan.text) if with_tables else (scan.text, 0)
        total += len(text)
        if total > max_chars:
            raise IngestError(too_much_text(max_chars, number, len(pages)))
        texts.append(text)
        scans.append(scan)
        tables += count
        if stream is not None:
            stream.page(number, len(pages), text, scans)
    return {
        "pages": texts,
        "unreadable_pages": unreadable,
        "page_error": page_error,
        "headings": [list(heading) for heading in headings_in(scans)],
        "tables": tables,
    }


def _page_scan(page) -> tuple[PageScan, str | None]:
    """(the page's text and lines, None), or (nothing, why) when the page cannot be read:
    one bad page must not cost the rest of the document."""
    try:
        scan = scan_page(page)
    except Exception as exc:
        if _caused_by(exc, MemoryError):
            raise
        return _NO_SCAN, describe(exc)
    # "replace" puts one "?" per lone surrogate, so the scan's line offsets stay true.
    return replace(scan, text=_printable(scan.text)), None


def _tables_as_rows(page, text: str) -> tuple[str, int]:
    """The page's text with the tables found in its layout written as rows, and how many;
    the plain text when the layout cannot be read."""
    if not text:
        return text, 0
    try:
        rows, count = page_text_with_tables(page, text)
    except Exception as exc:
        if _caused_by(exc, MemoryError):
            raise
        return text, 0  # the layout is a second reading: its failure costs only the rows
    return _printable(rows), count


def _printable(text: str) -> str:
    # A font can map glyphs to lone surrogates, which no encoder or index accepts.
    return text.encode("utf-8", "replace").decode("utf-8")


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


def metadata_title(reader) -> str:
    """The title the file's metadata declares ("" if none or unreadable)."""
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:
        return ""  # a damaged info dictionary costs the title, not the document
    return _text(title) if title else ""


def read_outline(reader) -> list[list]:
    """The bookmarks as [1-based page, [title, nested title, ...]] in outline order.

    A damaged or looping outline is ignored, and the walk is bounded: at most
    `MAX_OUTLINE_ENTRIES` bookmarks visited, `MAX_OUTLINE_DEPTH` levels, and
    `MAX_OUTLINE_BYTES` of reply, so the outline can never cost the document.
    """
    try:
        outlines = reader.trailer["/Root"].get("/Outlines")
        if outlines is None:
            return []
        return _walk_outline(reader, outlines.get_object().get("/First"))
    except Exception:
        return []


def _walk_outline(reader, first) -> list[list]:
    entries: list[list] = []
    seen: set[int] = set()
    size = 0
    pages = {page.indirect_reference.idnum: n for n, page in enumerate(reader.pages, start=1)}
    # pypdf walks the whole name tree on every read of named_destinations: read it once.
    names = cache(lambda: reader.named_destinations)
    stack = [(first, ())]
    while stack and len(seen) < MAX_OUTLINE_ENTRIES and size < MAX_OUTLINE_BYTES:
        reference, parents = stack.pop()
        key = getattr(reference, "idnum", None)
        if reference is None or key in seen:
            continue  # the end of a list, or a bookmark met before: a loop
        seen.add(key if key is not None else -len(seen) - 1)
        node = reference.get_object()
        path = (*parents, _text(node.get("/Title") or ""))
        stack.append((node.get("/Next"), parents))
        if len(path) < MAX_OUTLINE_DEPTH:
            stack.append((node.get("/First"), path))
        page = _bookmark_page(names, node, pages)
        if page is not None:
            entries.append([page, list(path)])
            size += len(json.dumps(entries[-1], ensure_ascii=False).encode())
    return entries


def _bookmark_page(names: Callable[[], dict], node, pages: dict[int, int]) -> int | None:
    """The 1-based page a bookmark opens, by its destination or its GoTo action."""
    target = node.get("/Dest")
    action = node.get("/A")
    if target is None and action is not None and action.get_object().get("/S") == "/GoTo":
        target = action.get_object().get("/D")
    if target is None:
        return None
    target = target.get_object()
    if isinstance(target, str | bytes):
        name = target.decode("latin-1") if isinstance(target, bytes) else str(target)
        named = names().get(name)
        return _page_number(getattr(named, "page", None), pages)
    if hasattr(target, "keys") and "/D" in target:
        target = target["/D"].get_object()
    return _page_number(target[0] if len(target) else None, pages)


def _page_number(page, pages: dict[int, int]) -> int | None:
    if isinstance(page, int):
        return page + 1 if 0 <= page < len(pages) else None
    return pages.get(getattr(page, "idnum", None))


def _text(value) -> str:
    """A string from the file, cut short, with lone surrogates made printable."""
    return str(value)[:MAX_TITLE_CHARS].encode("utf-8", "replace").decode("utf-8")


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
