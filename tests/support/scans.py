"""Scanned PDFs made from known text, and the character error rate of reading them back.

`text_pdf` writes a born-digital PDF by hand in a base-14 font (Helvetica or Times), which
PDFium draws with its own bundled fonts, so no system font is needed. `scanned_pdf` draws
that PDF at a scanner's resolution, tilts it a little, blurs it and adds grain, then saves
the pictures alone as a PDF: a page with no text layer, as a scanner makes. Everything is
decided by the seed: the same arguments give the same bytes.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Sequence
from io import BytesIO

import numpy as np
import pypdfium2 as pdfium
from PIL import Image, ImageFilter
from pypdf import PdfReader, PdfWriter

from tests.support.hostile_pdfs import pdf_file, stream

PAGE_WIDTH, PAGE_HEIGHT, MARGIN = 612, 792, 72  # US Letter, one-inch margins, in points
FONT_SIZE = 11
_EPOCH = time.gmtime(1_704_067_200)  # 2024-01-01
# Advance widths of the printable ASCII characters (32 to 126) in thousandths of the font
# size: Adobe's metrics for the base-14 fonts, as PDFium's bundled fonts measure them.
_WIDTHS = {
    "Helvetica": (
        "278 278 355 556 556 889 667 191 333 333 389 584 278 333 278 278 556 556 556 556 556"
        " 556 556 556 556 556 278 278 584 584 584 556 1015 667 667 722 722 667 611 778 722 278"
        " 500 667 556 833 722 778 667 778 722 667 611 722 667 944 667 667 611 278 278 278 469"
        " 556 333 556 556 500 556 556 278 556 556 222 222 500 222 833 556 556 556 556 333 500"
        " 278 556 500 722 500 500 500 334 260 334 584"
    ),
    "Times-Roman": (
        "250 333 408 500 500 833 778 180 333 333 500 564 250 333 250 278 500 500 500 500 500"
        " 500 500 500 500 500 278 278 564 564 564 444 921 722 667 667 722 611 556 722 722 333"
        " 389 722 611 889 722 722 556 722 667 556 611 722 722 944 722 722 611 333 278 333 469"
        " 500 333 444 500 444 500 444 333 500 500 278 278 500 278 778 500 500 500 500 333 389"
        " 278 500 500 722 500 500 444 480 200 480 541"
    ),
}
# Typographic characters with a plain ASCII stand-in; other non-ASCII letters lose their
# accents (NFKD), and what is left without an ASCII form is dropped.
_ASCII = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "−": "-"})


def printable(text: str) -> str:
    """The text as the generated PDFs show it: printable ASCII, paragraphs kept."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_ASCII))
    paragraphs = ("".join(c for c in p if " " <= c <= "~") for p in decomposed.split("\n"))
    return "\n".join(" ".join(p.split()) for p in paragraphs)


def text_width(text: str, font: str = "Helvetica", size: float = FONT_SIZE) -> float:
    """The width of `text` in points, in one of the base-14 fonts of `_WIDTHS`."""
    widths = [int(w) for w in _WIDTHS[font].split()]
    return sum(widths[ord(c) - 32] for c in text) * size / 1000


def wrap(text: str, font: str = "Helvetica", size: float = FONT_SIZE) -> list[str]:
    """The page's lines: each paragraph cut at spaces to fit between the margins, and an
    empty line between paragraphs."""
    lines: list[str] = []
    width = PAGE_WIDTH - 2 * MARGIN
    for paragraph in printable(text).split("\n"):
        if lines:
            lines.append("")
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if line and text_width(candidate, font, size) > width:
                lines.append(line)
                candidate = word
            line = candidate
        if line:
            lines.append(line)
    return lines


def text_pdf(pages: Sequence[str], font: str = "Helvetica", size: int = FONT_SIZE) -> bytes:
    """A born-digital PDF: each string one Letter page, word-wrapped, in `font` at `size`
    points."""
    count = len(pages)
    kids = b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /%s /Encoding /WinAnsiEncoding >>"
        % font.encode(),
    ]
    for i, text in enumerate(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d]"
            b" /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>"
            % (PAGE_WIDTH, PAGE_HEIGHT, 5 + 2 * i)
        )
        objects.append(stream(_content(wrap(text, font, size), size)))
    return pdf_file(objects)


def _content(lines: list[str], size: int) -> bytes:
    leading = round(size * 1.3)
    room = (PAGE_HEIGHT - 2 * MARGIN) // leading
    if len(lines) > room:
        raise ValueError(f"{len(lines)} lines do not fit on one page ({room} do)")
    shown = b"".join(b"(%s) Tj T*\n" % _pdf_string(line) for line in lines)
    top = PAGE_HEIGHT - MARGIN - size
    return b"BT /F1 %d Tf %d TL %d %d Td\n%sET" % (size, leading, MARGIN, top, shown)


def _pdf_string(text: str) -> bytes:
    return text.encode("ascii").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def scanned_pdf(
    pages: Sequence[str],
    *,
    seed: int,
    dpi: int = 150,
    rotation: float = 1.0,
    noise: float = 8.0,
    blur: float = 0.6,
    font: str = "Helvetica",
    size: int = FONT_SIZE,
) -> bytes:
    """An image-only PDF, as a scanner makes it, of `text_pdf(pages, font, size)`."""
    look = {"dpi": dpi, "rotation": rotation, "noise": noise, "blur": blur}
    return scan(text_pdf(pages, font, size), seed=seed, **look)


def scan(
    pdf: bytes,
    *,
    seed: int,
    dpi: int = 150,
    rotation: float = 1.0,
    noise: float = 8.0,
    blur: float = 0.6,
) -> bytes:
    """Any PDF as a scanner copies it: each page drawn in grey at `dpi`, turned by
    `rotation` degrees (the direction drawn from the seed), blurred by a Gaussian of radius
    `blur` pixels, given Gaussian grain of standard deviation `noise` grey levels, and
    stored as a JPEG picture alone, as most scanners do."""
    rng = np.random.default_rng(seed)
    document = pdfium.PdfDocument(pdf)
    images = []
    for page in document:
        picture = page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
        images.append(_degrade(picture, rng, rotation, noise, blur))
        page.close()
    document.close()
    out = BytesIO()
    # Fixed dates: Pillow stamps the time of saving otherwise, and the bytes would differ.
    dates = {"creationDate": _EPOCH, "modDate": _EPOCH}
    images[0].save(
        out, format="PDF", save_all=True, append_images=images[1:], resolution=dpi, **dates
    )
    return out.getvalue()


def _degrade(
    picture: Image.Image, rng: np.random.Generator, rotation: float, noise: float, blur: float
) -> Image.Image:
    angle = rotation * rng.choice((-1.0, 1.0))
    tilted = picture.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    if blur > 0:
        tilted = tilted.filter(ImageFilter.GaussianBlur(blur))
    grain = rng.normal(0.0, noise, size=(tilted.height, tilted.width))
    pixels = np.clip(np.asarray(tilted, dtype=np.float64) + grain, 0, 255)
    return Image.fromarray(pixels.astype(np.uint8))  # 8-bit grey


def encrypted(pdf: bytes, password: str) -> bytes:
    """The same PDF locked with AES-128 under a user password."""
    writer = PdfWriter(clone_from=PdfReader(BytesIO(pdf)))
    writer.encrypt(user_password=password, owner_password=None, algorithm="AES-128")
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate: the Levenshtein distance between the two texts, whitespace
    runs made one space, over the reference's length (0 when both are empty)."""
    truth, read = " ".join(reference.split()), " ".join(hypothesis.split())
    if not truth:
        return float(bool(read))
    return edit_distance(truth, read) / len(truth)


def edit_distance(a: str, b: str) -> int:
    """Insertions, deletions and substitutions that turn `a` into `b`."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, start=1):
        current = [i]
        for j, other in enumerate(b, start=1):
            cost = previous[j - 1] + (char != other)
            current.append(min(cost, previous[j] + 1, current[j - 1] + 1))
        previous = current
    return previous[-1]
