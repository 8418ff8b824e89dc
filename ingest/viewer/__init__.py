"""The document viewer: a cited passage shown where it is.

A PDF's page is drawn (in the parser process, under its limits) with the passage boxed
in translucent yellow; other formats, which have no pages to draw, show the passage in
the text of its slide, sheet, chapter or section. Pages call `PageViewer` only:

    viewer = PageViewer(library)
    if viewer.can_render(chunk.doc_id):
        view = viewer.page(chunk.doc_id, chunk.page_start, chunk, zoom=1.0)   # PageView
    else:
        view = viewer.passage(chunk)                                         # TextView

Every refusal is a RagError (PageViewError, or DocumentNotFoundError for a document no
longer in the library) whose message is meant for the person reading.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.viewer.drawing import draw_boxes
from ingest.viewer.highlight import Highlight, ocr_highlight, text_highlight
from ingest.viewer.passage import passage_in_context, unit_title
from ingest.viewer.rendering import PageCache, RenderedPage, RenderLimits, render_page
from ingest.viewer.views import (
    DEFAULT_ZOOM,
    MAX_ZOOM,
    MIN_ZOOM,
    MISSING_ORIGINAL,
    PageView,
    PageViewError,
    TextView,
)
from rag.documents import Chunk, DocumentRecord, page_label
from rag.errors import DocumentNotFoundError

if TYPE_CHECKING:
    from rag.stores.library import Library

__all__ = [
    "DEFAULT_ZOOM",
    "MAX_ZOOM",
    "MIN_ZOOM",
    "PageView",
    "PageViewError",
    "PageViewer",
    "RenderLimits",
    "TextView",
    "check_zoom",
]


# How long a page that could not be drawn is reported as such without trying again.
FAILURE_MEMORY_S = 60.0


class PageViewer:
    """Shows a library's documents: PDF pages drawn with a passage boxed, and passages of
    other formats in their text. One viewer may serve every session (thread-safe); it
    keeps the pages drawn last in memory (see `ingest.viewer.rendering`)."""

    def __init__(self, library: Library, limits: RenderLimits | None = None) -> None:
        self._library = library
        self._limits = limits or RenderLimits.from_settings(library.settings)
        self._cache = PageCache(self._limits.cache_mb * 1024 * 1024, self._limits.cache_pages)
        self._lock = threading.Lock()
        self._renders = 0
        self._failures: dict[tuple[str, int, float], tuple[float, PageViewError]] = {}

    @property
    def renders(self) -> int:
        """How many pages were drawn in a child process; the others came from the cache."""
        return self._renders

    def chunk(self, chunk_id: str) -> Chunk:
        """A stored chunk of a visible document; DocumentNotFoundError when it is gone."""
        found = self._library.stored_chunks([chunk_id]).get(chunk_id)
        if found is None or found.doc_id not in self._library.visible_ids():
            raise DocumentNotFoundError(
                "This passage is no longer in the library: its document was deleted or replaced."
            )
        return found

    def page_count(self, doc_id: str) -> int:
        """How many pages (slides, sheets, chapters) the document has."""
        return self._library.find(doc_id).pages

    def original(self, doc_id: str) -> Path | None:
        """The original file as it was uploaded, or None when it is no longer kept."""
        path = self._library.original_path(doc_id)
        return path if path.is_file() else None

    def can_render(self, doc_id: str) -> bool:
        """True for a visible PDF whose original file is still kept."""
        try:
            record = self._library.find(doc_id)
        except DocumentNotFoundError:
            return False
        return _is_pdf(record) and self._library.original_path(record.doc_id).is_file()

    def page(
        self, doc_id: str, page: int, chunk: Chunk | None = None, zoom: float = DEFAULT_ZOOM
    ) -> PageView:
        """The 1-based page of a PDF at a zoom (0.5 to 3), with `chunk`'s passage boxed
        when given; PageViewError when it cannot be shown."""
        zoom = check_zoom(zoom)
        record = self._pdf(doc_id)
        if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= record.pages:
            raise PageViewError(
                f"{record.name} has {record.pages:,} pages; there is no page {page}."
            )
        drawn = self._drawn(record.doc_id, page, zoom)
        found = _highlight(record, page, chunk, drawn) if chunk else Highlight(())
        png, (width, height) = draw_boxes(drawn.png, found.boxes)
        return PageView(
            record.doc_id, record.name, page, drawn.pages, zoom, png, width, height,
            found.boxes, found.note,
        )  # fmt: skip

    def passage(self, chunk: Chunk) -> TextView:
        """The chunk's passage in the text of its unit (slide, sheet, chapter, section or
        page), with a few thousand characters of context on each side."""
        chunks = self._library.chunks_of(chunk.doc_id)
        before, passage, after = passage_in_context(chunk, chunks)
        return TextView(chunk.doc_id, chunk.source, unit_title(chunk), before, passage, after)

    def _pdf(self, doc_id: str) -> DocumentRecord:
        record = self._library.find(doc_id)
        if not _is_pdf(record):
            raise PageViewError(
                f"{record.name} has no pages to draw; its passages are shown as text."
            )
        if not self._library.original_path(record.doc_id).is_file():
            raise PageViewError(MISSING_ORIGINAL)
        return record

    def _drawn(self, doc_id: str, page: int, zoom: float) -> RenderedPage:
        key = (doc_id, page, zoom)
        drawn = self._cache.get(key)
        if drawn is None:
            drawn = self._render(key)
            self._cache.put(key, drawn)
        return drawn

    def _render(self, key: tuple[str, int, float]) -> RenderedPage:
        """Draw a page in the parser process. A page that could not be drawn (a locked or
        damaged PDF) is not tried again for a while: every rerun of the dialog would
        start another process to fail the same way."""
        with self._lock:
            failed = self._failures.get(key)
            if failed and time.monotonic() - failed[0] < FAILURE_MEMORY_S:
                raise failed[1]
        doc_id, page, zoom = key
        try:
            drawn = render_page(self._library.original_path(doc_id), page, zoom, self._limits)
        except PageViewError as exc:
            with self._lock:
                self._failures[key] = (time.monotonic(), exc)
            raise
        with self._lock:
            self._renders += 1
        return drawn


def check_zoom(zoom: float) -> float:
    """The zoom as a float, when it is a number from 0.5 to 3; PageViewError otherwise."""
    number = zoom if isinstance(zoom, (int, float)) and not isinstance(zoom, bool) else math.nan
    if not MIN_ZOOM <= number <= MAX_ZOOM:
        raise PageViewError(
            f"Zoom must be from {MIN_ZOOM:g} to {MAX_ZOOM:g} ({MIN_ZOOM:.0%} to"
            f" {MAX_ZOOM:.0%}); {zoom!r} is not."
        )
    return round(float(number), 3)


def _is_pdf(record: DocumentRecord) -> bool:
    return record.unit == "page" and record.name.lower().endswith(".pdf")


def _highlight(record: DocumentRecord, page: int, chunk: Chunk, drawn: RenderedPage) -> Highlight:
    """Where the chunk's passage is on the page: from the stored word boxes of a page read
    by text recognition, else by aligning its words with the page's text."""
    if chunk.doc_id != record.doc_id or not chunk.page_start <= page <= chunk.page_end:
        where = page_label(chunk.page_start, chunk.page_end)
        return Highlight((), f"The passage is on {where} of {chunk.source}, not on this page.")
    if page in record.pages_ocr:
        return ocr_highlight(chunk.boxes, page)
    return text_highlight(chunk.text, drawn.text, drawn.boxes)
