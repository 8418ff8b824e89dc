"""PDFium (through pypdfium2), the one module that imports it: open a PDF, draw a page,
and read a page's characters with their boxes.

Text recognition draws scanned pages with it and the viewer draws the page a citation
points to; both run it inside the parser process, under its limits. Errors come out as
`PdfError`s whose message is PDFium's own; callers say what it means for their purpose.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pypdfium2
import pypdfium2.raw as pdfium_c

from ingest.viewer.views import Box
from rag.errors import RagError

# Page coordinates are mapped onto a virtual device this many units a side: the mapping
# is affine, so three points give it, at a precision of one unit in a million.
_DEVICE = 1_000_000


class PdfError(RagError):
    """PDFium could not open or draw a PDF; the message is PDFium's reason."""


class PdfPasswordError(PdfError):
    """The PDF is locked and the password was missing or wrong."""


class PdfOpenError(PdfError):
    """The PDF could not be opened (damaged, or not a PDF)."""


class PdfDrawError(PdfError):
    """A page could not be drawn or its text not read."""


@dataclass(frozen=True)
class PageChars:
    """A page's characters in PDFium's order, one string position per character index,
    and each one's box (x0, y0, x1, y1) as fractions of the drawn page, origin top left;
    None for a character PDFium made up (a space or line break between runs of text)."""

    text: str
    boxes: tuple[Box | None, ...]


def open_pdf(data: bytes, password: str | None):
    """The document, opened; PdfPasswordError or PdfOpenError when it cannot be."""
    try:
        return pypdfium2.PdfDocument(data, password=password or None)
    except pypdfium2.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise PdfPasswordError(str(exc)) from None
        raise PdfOpenError(str(exc)) from None


def page_size(document, number: int) -> tuple[float, float]:
    """(width, height) in points of the 1-based page as drawn (its rotation applied)."""
    page = _page(document, number)
    try:
        return page.get_size()
    finally:
        page.close()


def draw_page(
    document, number: int, scale_for: Callable[[float, float], float], grey: bool
) -> np.ndarray:
    """The 1-based page drawn at `scale_for(width_pt, height_pt)` pixels per point: a
    (height, width) uint8 array in grey, or (height, width, 3) in RGB."""
    page = _page(document, number)
    try:
        scale = scale_for(*page.get_size())
        bitmap = page.render(scale=scale, grayscale=grey, rev_byteorder=not grey)
        pixels = bitmap.to_numpy()
        # A copy: the bitmap's memory is freed. PDFium may add a fourth, unused channel.
        return (pixels if grey else pixels[:, :, :3]).copy()
    except pypdfium2.PdfiumError as exc:
        raise PdfDrawError(str(exc)) from None
    finally:
        page.close()


def page_chars(document, number: int) -> PageChars:
    """The 1-based page's characters and their boxes (see PageChars)."""
    page = _page(document, number)
    try:
        textpage = page.get_textpage()
        try:
            return _chars(page, textpage)
        finally:
            textpage.close()
    except pypdfium2.PdfiumError as exc:
        raise PdfDrawError(str(exc)) from None
    finally:
        page.close()


def _page(document, number: int):
    try:
        return document[number - 1]
    except pypdfium2.PdfiumError as exc:
        raise PdfDrawError(str(exc)) from None


def _chars(page, textpage) -> PageChars:
    # One code point per index, read one by one: the whole-range text call may drop or
    # add characters against the index, and maps the line-end hyphen to U+FFFE.
    handle = textpage.raw
    to_fraction = _fractions(page)
    text, boxes = [], []
    for index in range(textpage.count_chars()):
        code = pdfium_c.FPDFText_GetUnicode(handle, index)
        text.append(chr(code) if 0 < code < 0x110000 else "\ufffd")
        if pdfium_c.FPDFText_IsGenerated(handle, index) == 1:
            boxes.append(None)
            continue
        left, bottom, right, top = textpage.get_charbox(index)
        boxes.append(to_fraction(left, bottom, right, top))
    return PageChars("".join(text), tuple(boxes))


def _fractions(page) -> Callable[[float, float, float, float], Box]:
    """A function from a box in page units (left, bottom, right, top) to fractions of the
    drawn page, origin top left, whatever the page's rotation and crop box."""
    origin, across, down = (
        _to_device(page, x, y) for x, y in ((0.0, 0.0), (1000.0, 0.0), (0.0, 1000.0))
    )
    dx = ((across[0] - origin[0]) / 1000, (across[1] - origin[1]) / 1000)
    dy = ((down[0] - origin[0]) / 1000, (down[1] - origin[1]) / 1000)

    def convert(left: float, bottom: float, right: float, top: float) -> Box:
        xs, ys = [], []
        for x, y in ((left, bottom), (right, top)):
            xs.append(min(1.0, max(0.0, origin[0] + x * dx[0] + y * dy[0])))
            ys.append(min(1.0, max(0.0, origin[1] + x * dx[1] + y * dy[1])))
        return (min(xs), min(ys), max(xs), max(ys))

    return convert


def _to_device(page, x: float, y: float) -> tuple[float, float]:
    device_x, device_y = ctypes.c_int(), ctypes.c_int()
    pdfium_c.FPDF_PageToDevice(
        page.raw, 0, 0, _DEVICE, _DEVICE, 0, x, y, ctypes.byref(device_x), ctypes.byref(device_y)
    )
    return device_x.value / _DEVICE, device_y.value / _DEVICE
