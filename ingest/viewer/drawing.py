"""Highlights drawn onto a page's picture: translucent yellow with a darker outline."""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO

from PIL import Image, ImageDraw

from ingest.viewer.views import MAX_PAGE_PIXELS, PNG_LEVEL, Box, PageViewError

FILL = (255, 221, 0, 96)
OUTLINE = (204, 133, 0, 255)
# A box is drawn this many pixels wider on each side than the letters, so that the
# outline does not cut through them.
PAD_PX = 2
NOT_A_PAGE = "Drawing this page gave a picture that is not a page."


def draw_boxes(png: bytes, boxes: Sequence[Box]) -> tuple[bytes, tuple[int, int]]:
    """The page's PNG with the boxes (fractions of the page, top left) drawn in, and its
    size in pixels; the same bytes when there are no boxes."""
    try:
        with Image.open(BytesIO(png)) as picture:
            size = picture.size
            if picture.format != "PNG" or size[0] * size[1] > MAX_PAGE_PIXELS:
                raise PageViewError(NOT_A_PAGE)
            if not boxes:
                return png, size
            page = picture.convert("RGBA")
    except (OSError, ValueError, Image.DecompressionBombError):
        # The parser process drew it: anything but a page-sized PNG means it went wrong.
        raise PageViewError(NOT_A_PAGE) from None
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    pen = ImageDraw.Draw(layer)
    width, height = size
    outline = max(1, round(width / 600))
    for x0, y0, x1, y1 in boxes:
        corners = (x0 * width - PAD_PX, y0 * height - PAD_PX)
        corners += (x1 * width + PAD_PX, y1 * height + PAD_PX)
        pen.rectangle(corners, fill=FILL, outline=OUTLINE, width=outline)
    out = BytesIO()
    Image.alpha_composite(page, layer).convert("RGB").save(
        out, format="PNG", compress_level=PNG_LEVEL
    )
    return out.getvalue(), size
