"""Drawing one page for the viewer, inside the parser process (`ingest.worker`), under its
time and memory limits: the request names the page and the zoom; the reply carries the
page count, the page's size, its picture as PNG and its characters with their boxes, or
`{"error": reason}` with a reason meant for the person reading the document.
"""

from __future__ import annotations

import base64
import math
from io import BytesIO

from PIL import Image

from ingest.viewer.pdfium import (
    PdfDrawError,
    PdfOpenError,
    PdfPasswordError,
    draw_page,
    open_pdf,
    page_chars,
    page_size,
)
from ingest.viewer.views import MAX_PAGE_PIXELS, PNG_LEVEL

# Pixels per point at zoom 1: a Letter page is drawn 918 pixels wide (108 dpi), readable
# on a laptop screen without scrolling sideways.
BASE_SCALE = 1.5
# A poster or a ribbon-shaped page is drawn smaller than its zoom asks: at most
# MAX_PAGE_PIXELS, and this long a side (the picture must fit the reply and a browser).
MAX_SIDE_PX = 12_000
# Five decimals place a box within a hundredth of a millimetre on a Letter page.
BOX_DECIMALS = 5
PASSWORD_REASON = (
    "This PDF is password-protected. Its password is not kept, so its pages cannot be "
    "shown; the passage can still be read as text."
)


def viewer_scale(width_pt: float, height_pt: float, zoom: float) -> float:
    """Pixels per point for a page at a zoom: `BASE_SCALE * zoom`, less for a page that
    would pass `MAX_PAGE_PIXELS` or `MAX_SIDE_PX`."""
    if width_pt <= 0 or height_pt <= 0:
        raise PdfDrawError("the page has no size")
    scale = min(BASE_SCALE * zoom, math.sqrt(MAX_PAGE_PIXELS / (width_pt * height_pt)))
    return min(scale, MAX_SIDE_PX / max(width_pt, height_pt))


def render_request(data: bytes, request: dict) -> dict:
    """The reply to a render request (`{"page": n, "zoom": z}`) on a PDF's bytes."""
    try:
        document = open_pdf(data, None)
    except PdfPasswordError:
        return {"error": PASSWORD_REASON}
    except PdfOpenError as exc:
        return {"error": f"This PDF could not be opened to show its pages ({exc})."}
    try:
        return _render(document, int(request["page"]), float(request["zoom"]))
    except PdfDrawError as exc:
        return {"error": f"This page could not be drawn ({exc})."}
    except MemoryError:
        return {"error": too_much_memory(request["memory_mb"])}
    except Exception as exc:  # PDFium and Pillow raise many kinds; each means the same
        return {"error": f"This page could not be drawn ({type(exc).__name__}: {exc})."}
    finally:
        document.close()


def too_much_memory(memory_mb: int) -> str:
    """The reason given for a page that needs more memory than the limit to draw."""
    return (
        f"Drawing this page needed more than {memory_mb:,} MB of memory"
        " (RAG_PARSE_MEMORY_MB) and was stopped."
    )


def _render(document, number: int, zoom: float) -> dict:
    pages = len(document)
    if not 1 <= number <= pages:
        return {"error": f"This document has {pages} pages; there is no page {number}."}
    width, height = page_size(document, number)
    pixels = draw_page(document, number, lambda w, h: viewer_scale(w, h, zoom), grey=False)
    chars = page_chars(document, number)
    boxes = [None if box is None else [round(v, BOX_DECIMALS) for v in box] for box in chars.boxes]
    return {
        "pages": pages,
        "size": [width, height],
        "png": base64.b64encode(_png(pixels)).decode("ascii"),
        "text": chars.text,
        "boxes": boxes,
    }


def _png(pixels) -> bytes:
    out = BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", compress_level=PNG_LEVEL)
    return out.getvalue()
