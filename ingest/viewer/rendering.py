"""Pages drawn in the parser process, for the viewer, and kept in a bounded cache.

PDFium is a large C library reading untrusted files: a page is drawn in a child process
(`ingest.worker`) under the parsing memory limit and a short deadline, as files are
parsed, so a hostile page costs a refusal, never the app.

The cache keeps the last pages drawn, in memory, per process, by (document, page, zoom).
A document's id is the hash of its bytes, so an entry can never go stale; a page is a few
hundred kilobytes and its characters, so a few dozen pages cost tens of megabytes, and a
reader paging back and forth, or two people reading the same answer, draw each page once.
Memory rather than disk: the data folder may be read-only, and nothing has to be removed
when a document is deleted.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from signal import SIGXCPU

from ingest.limits import ParseLimits
from ingest.parser_process import WorkerTimeoutError, run_worker
from ingest.viewer.views import MISSING_ORIGINAL, Box, PageViewError
from rag.config import DEFAULTS, Settings
from rag.errors import IngestError

# The longest a page may take to draw, whatever the parse timeout: a reader is waiting.
MAX_RENDER_S = 30.0
# A page's reply: its PNG (a 24-megapixel page in colour), in base64, and its characters.
REPLY_BYTES = 96 * 1024 * 1024


@dataclass(frozen=True)
class RenderLimits:
    """Bounds for drawing a page: the child's deadline and memory, and the cache's size."""

    timeout_s: float = min(DEFAULTS.parse_timeout_s, MAX_RENDER_S)
    memory_mb: int = DEFAULTS.parse_memory_mb
    cache_mb: int = 64
    cache_pages: int = 64

    @classmethod
    def from_settings(cls, settings: Settings) -> RenderLimits:
        """The parsing limits of the settings (RAG_PARSE_TIMEOUT_S, at most 30 s, and
        RAG_PARSE_MEMORY_MB)."""
        return cls(min(settings.parse_timeout_s, MAX_RENDER_S), settings.parse_memory_mb)


@dataclass(frozen=True)
class RenderedPage:
    """A page as drawn: the document's page count, the page's size in points, its PNG,
    and its characters with each one's box (fractions of the page, top left; None for a
    character without one)."""

    pages: int
    size: tuple[float, float]
    png: bytes
    text: str
    boxes: tuple[Box | None, ...]

    @property
    def weight(self) -> int:
        """About how many bytes the page holds in memory."""
        return len(self.png) + 80 * len(self.boxes)


def render_page(path: Path, page: int, zoom: float, limits: RenderLimits) -> RenderedPage:
    """Draw a page of the PDF at `path` in the parser process; PageViewError if it cannot."""
    limited = ParseLimits(timeout_s=limits.timeout_s, memory_mb=limits.memory_mb, ocr=False)
    request = {
        "kind": "render",
        "page": page,
        "zoom": zoom,
        "memory_mb": limits.memory_mb,
        "cpu_s": limited.cpu_s,
    }
    try:
        data = path.read_bytes()
    except OSError:
        raise PageViewError(MISSING_ORIGINAL) from None
    try:
        reply, code = run_worker(request, data, limited, reply_bytes=REPLY_BYTES)
    except WorkerTimeoutError:
        raise PageViewError(_too_slow(limits)) from None
    except IngestError:
        raise PageViewError("Drawing this page gave more data than a page may have.") from None
    if reply is None:
        raise PageViewError(_reason_for_exit(code, limits))
    if "error" in reply:
        raise PageViewError(str(reply["error"]))
    return _rendered(reply)


def _rendered(reply: dict) -> RenderedPage:
    try:
        boxes = tuple(None if box is None else tuple(map(float, box)) for box in reply["boxes"])
        return RenderedPage(
            int(reply["pages"]),
            (float(reply["size"][0]), float(reply["size"][1])),
            base64.b64decode(reply["png"], validate=True),
            str(reply["text"]),
            boxes,
        )
    except (KeyError, TypeError, ValueError, IndexError, binascii.Error):
        raise PageViewError("Drawing this page gave a malformed answer.") from None


def _too_slow(limits: RenderLimits) -> str:
    return (
        f"Drawing this page took longer than {limits.timeout_s:g} s and was stopped"
        " (RAG_PARSE_TIMEOUT_S, at most 30 s for a page)."
    )


def _reason_for_exit(code: int, limits: RenderLimits) -> str:
    if code == -SIGXCPU:
        return _too_slow(limits)
    # Out of memory shows as a kill, a crash, or a library that failed to load (exit 1).
    how = f"signal {-code}" if code < 0 else f"exit code {code}"
    return (
        f"Drawing this page stopped ({how}): it may need more than {limits.memory_mb:,} MB"
        " of memory (RAG_PARSE_MEMORY_MB), or the PDF is damaged."
    )


class PageCache:
    """The pages drawn last, by (document id, page, zoom), within a size and a count;
    the least recently used go first. Safe to share between threads."""

    def __init__(self, max_bytes: int, max_pages: int) -> None:
        self._pages: OrderedDict[tuple[str, int, float], RenderedPage] = OrderedDict()
        self._max_bytes, self._max_pages = max_bytes, max_pages
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int, float]) -> RenderedPage | None:
        """The page kept under `key`, now the most recently used; None if not kept."""
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, key: tuple[str, int, float], page: RenderedPage) -> None:
        """Keep a page, dropping the least recently used beyond the bounds."""
        with self._lock:
            old = self._pages.pop(key, None)
            self._bytes -= old.weight if old else 0
            self._pages[key] = page
            self._bytes += page.weight
            while len(self._pages) > 1 and (
                self._bytes > self._max_bytes or len(self._pages) > self._max_pages
            ):
                _, dropped = self._pages.popitem(last=False)
                self._bytes -= dropped.weight
