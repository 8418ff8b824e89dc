"""What the viewer shows: a page with the passage boxed, or a passage in its text."""

from __future__ import annotations

from dataclasses import dataclass

from rag.errors import RagError

# A rectangle on a page: x0, y0, x1, y1 as fractions of the page, origin top left.
Box = tuple[float, float, float, float]
# zlib level 1: pages are drawn on demand and shown once, so speed beats a smaller file.
PNG_LEVEL = 1
# The most pixels a drawn page may have; a bigger picture from the parser process is refused.
MAX_PAGE_PIXELS = 24_000_000
# Zoom 1 draws a Letter page about 900 pixels wide; 0.5 to 3 times that are allowed.
MIN_ZOOM, DEFAULT_ZOOM, MAX_ZOOM = 0.5, 1.0, 3.0
MISSING_ORIGINAL = (
    "The original file of this document is no longer kept, so its pages cannot be shown."
)


class PageViewError(RagError):
    """A page cannot be shown; the message says why, for the person reading."""


@dataclass(frozen=True)
class PageView:
    """A PDF page drawn with the passage boxed.

    `png` has the highlights drawn in; `boxes` are the same rectangles as fractions of the
    page (x0, y0, x1, y1), origin top left. `note` says when the passage was asked for but
    could not be found on this page.
    """

    doc_id: str
    name: str
    page: int
    pages: int
    zoom: float
    png: bytes
    width_px: int
    height_px: int
    boxes: tuple[Box, ...]
    note: str | None


@dataclass(frozen=True)
class TextView:
    """A passage in the text of its unit (a section, slide, sheet, chapter or page):
    the text before it, the passage, the text after it (each side cut to a few thousand
    characters, marked with "…" where cut), and a title such as "slide 4"."""

    doc_id: str
    name: str
    title: str
    before: str
    passage: str
    after: str
