"""Hostile and broken PDFs, generated: each function returns the bytes of one file.

Most are written by hand as raw PDF syntax, so that each flaw is exactly the one named:
a wrong cross-reference offset, a page tree that contains itself, a stream that inflates
to gigabytes. `good_pdf` is the well-formed baseline the others are cut from.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence
from functools import cache
from io import BytesIO

HEADER = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
GOOD_TEXT = (
    "Beekeepers in the northern valley harvest lavender honey every July.",
    "The hives stand on the south side of the orchard, sheltered from wind.",
)
PASSWORD = "open sesame"


# --- building blocks ---------------------------------------------------------------------


def pdf_file(
    objects: Sequence[bytes],
    *,
    header: bytes = HEADER,
    xref_shift: int = 0,
    with_xref: bool = True,
    trailer: bytes = b"",
) -> bytes:
    """A PDF with the given objects (numbered from 1; object 1 is the catalog).

    `xref_shift` moves every offset in the cross-reference table, `with_xref=False`
    leaves out the table and the `startxref` pointer.
    """
    out = bytearray(header)
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    if not with_xref:
        return bytes(out + b"trailer\n<< /Root 1 0 R >>\n%%EOF\n")
    xref_at = len(out)
    out += _xref_section(offsets, xref_shift)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\n" % (len(objects) + 1, trailer)
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def _xref_section(offsets: Sequence[int], shift: int = 0) -> bytes:
    rows = [b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1)]
    rows += [b"%010d 00000 n \n" % (offset + shift) for offset in offsets]
    return b"".join(rows)


def stream(data: bytes, entries: bytes = b"", length: int | None = None) -> bytes:
    """A stream object's body; `length` declares a /Length other than the true one."""
    declared = len(data) if length is None else length
    return b"<< /Length %d %s>>\nstream\n%s\nendstream" % (declared, entries, data)


def text_content(lines: Sequence[str]) -> bytes:
    """A content stream that shows each line in Helvetica, one under the other."""
    shown = b"".join(b"(%s) Tj 0 -16 Td\n" % _pdf_string(line) for line in lines)
    return b"BT /F1 12 Tf 72 720 Td\n" + shown + b"ET"


def _pdf_string(text: str) -> bytes:
    raw = text.encode("latin-1", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def page_objects(contents: Sequence[bytes], resources: bytes = b"") -> list[bytes]:
    """Catalog, page tree, font, then a page and its content stream per entry: objects
    1 to 3, then 4 and 5 for the first page, and so on."""
    count = len(contents)
    kids = b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(count))
    resources = resources or b"<< /Font << /F1 3 0 R >> >>"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, content in enumerate(contents):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources %s"
            b" /Contents %d 0 R >>" % (resources, 5 + 2 * i)
        )
        objects.append(stream(content))
    return objects


def good_pdf(lines: Sequence[str] = GOOD_TEXT, pages: int = 2) -> bytes:
    """A well-formed PDF with the same lines of text on each page."""
    return pdf_file(
        page_objects([text_content([*lines, f"Page {n}."]) for n in range(1, pages + 1)])
    )


# --- not a PDF, or not only one ------------------------------------------------------------


def zero_bytes() -> bytes:
    """An empty file."""
    return b""


def not_a_pdf() -> bytes:
    """A ZIP archive (say, a Word document) under a .pdf name."""
    return b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)) * 8


def html_then_pdf() -> bytes:
    """A web page first, a PDF after it within the first kilobyte: a polyglot."""
    page = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script>\n"
    return page + good_pdf() + b"</body></html>\n"


def pdf_then_html() -> bytes:
    """A real PDF with a web page in a comment and after its end: the other way round."""
    comment = b"%<html><body><script>alert(document.cookie)</script></body></html>\n"
    pdf = pdf_file(page_objects([text_content(GOOD_TEXT)]), header=HEADER + comment)
    return pdf + b"<html><script>alert(document.cookie)</script></html>\n"


# --- damaged structure ---------------------------------------------------------------------


def truncated() -> bytes:
    """A good ten-page PDF cut in half: no cross-reference table, no end."""
    data = good_pdf(pages=10)
    return data[: len(data) // 2]


def broken_xref() -> bytes:
    """Every offset in the cross-reference table points 7 bytes too far."""
    return pdf_file(page_objects([text_content(GOOD_TEXT)]), xref_shift=7)


def missing_xref() -> bytes:
    """No cross-reference table and no `startxref` at all."""
    return pdf_file(page_objects([text_content(GOOD_TEXT)]), with_xref=False)


def circular_xref_chain() -> bytes:
    """Two cross-reference sections whose trailers name each other as /Prev."""
    objects = page_objects([text_content(GOOD_TEXT)])
    out = bytearray(HEADER)
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    size = len(objects) + 1
    first = len(out)
    # Both sections have the same length, so the second's offset is known in advance.
    section = _xref_section(offsets) + b"trailer\n<< /Size %d /Root 1 0 R /Prev %010d >>\n"
    second = first + len(section % (size, 0))
    out += section % (size, second)
    out += section % (size, first)
    out += b"startxref\n%d\n%%%%EOF\n" % second
    return bytes(out)


def cyclic_page_tree() -> bytes:
    """A /Pages node whose /Kids holds itself, and a child node that holds its parent."""
    return pdf_file(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
            b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R 4 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 612 792]"
            b" /Resources << /Font << /F1 5 0 R >> >> /Contents 6 0 R >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            stream(text_content(GOOD_TEXT)),
        ]
    )


def inline_image_without_end() -> bytes:
    """An inline image (BI ... ID) whose data never reaches its EI end marker."""
    noise = random.Random(7).randbytes(200_000).replace(b"EI", b"E!")
    content = b"q 10 0 0 10 72 72 cm BI /W 100 /H 100 /BPC 8 /CS /G ID " + noise
    return pdf_file(page_objects([content]))


def absurd_stream_length() -> bytes:
    """A content stream that declares a /Length of a terabyte."""
    objects = page_objects([text_content(GOOD_TEXT)])
    objects[4] = stream(text_content(GOOD_TEXT), length=10**12)
    return pdf_file(objects)


def deep_nesting(depth: int = 100_000) -> bytes:
    """A page dictionary holding an array nested `depth` levels deep: [[[[...]]]]."""
    objects = page_objects([text_content(GOOD_TEXT)])
    nested = b"[" * depth + b"]" * depth
    objects[3] = objects[3].replace(b"/Type /Page ", b"/Type /Page /Junk %s " % nested)
    return pdf_file(objects)


@cache
def decompression_bomb(gigabytes: int = 2) -> bytes:
    """A FlateDecode content stream of a few MB that inflates to `gigabytes` of zeros."""
    objects = page_objects([b""])
    objects[4] = _deflated_zeros_stream(gigabytes << 30)
    return pdf_file(objects)


def _deflated_zeros_stream(size: int) -> bytes:
    # Deflate blocks after a full flush are independent of what came before, so one
    # compressed block of 16 MiB of zeros, repeated, is a valid stream of any multiple of
    # that size: seconds to build rather than minutes.
    block = 1 << 24
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH)
    final = compressor.flush()
    adler = ((size % 65521) << 16) | 1  # Adler-32 of `size` zero bytes
    body = b"\x78\xda" + piece * (size // block) + final + adler.to_bytes(4, "big")
    return stream(body, b"/Filter /FlateDecode ")


# --- too much ------------------------------------------------------------------------------


@cache
def many_pages(count: int = 20_000) -> bytes:
    """`count` small pages that share one content stream and one font."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % (5 + i) for i in range(count)), count),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        stream(text_content(["One of very many small pages."])),
    ]
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200]"
        b" /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
    )
    return pdf_file(objects + [page] * count)


@cache
def slow_page(operators: int = 900_000) -> bytes:
    """One page of 10 KB that takes pypdf about 20 s: 900,000 one-letter strings shown.

    Extraction time grows faster than the operator count (100,000 take 1 s), and this
    count stays under pypdf's budget of 2,000,000 tokens per content stream.
    """
    content = b"BT /F1 1 Tf\n" + b"(a) Tj\n" * operators + b"ET"
    objects = page_objects([b""])
    objects[4] = stream(zlib.compress(content, 9), b"/Filter /FlateDecode ")
    return pdf_file(objects)


# --- locked, empty, junk -------------------------------------------------------------------


def encrypted(password: str = PASSWORD) -> bytes:
    """A good PDF that opens only with `password` (AES-128)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(BytesIO(good_pdf())))
    writer.encrypt(user_password=password, owner_password="owner " + password, algorithm="AES-128")
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def scanned_without_text() -> bytes:
    """One page that only paints an 8x8 grey image: what a scanner without OCR makes."""
    image = stream(
        bytes(range(0, 256, 4)),
        b"/Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceGray"
        b" /BitsPerComponent 8 ",
    )
    objects = page_objects(
        [b"q 400 0 0 400 100 200 cm /Im1 Do Q"], b"<< /XObject << /Im1 6 0 R >> >>"
    )
    return pdf_file([*objects, image])


def garbage_text_layer(pages: int = 2) -> bytes:
    """Pages whose text layer is the symbol soup of a failed OCR."""
    rng = random.Random(301)
    return pdf_file(page_objects([text_content(ocr_noise(rng)) for _ in range(pages)]))


def partly_junk() -> bytes:
    """Three pages: good text, a failed OCR, nothing."""
    junk = text_content(ocr_noise(random.Random(1)))
    return pdf_file(page_objects([text_content(GOOD_TEXT), junk, b""]))


def ocr_noise(rng: random.Random) -> list[str]:
    """Twenty lines of what a failed OCR makes of a picture: marks, stray letters."""
    marks = [*".,:;'`\"?!%»•^~", "..", ".,", "i", "l", "I", "1", "e.", "rn", "srN", "Y."]
    return [" ".join(rng.choice(marks) for _ in range(12)) for _ in range(20)]


def binary_file(size: int = 4096) -> bytes:
    """Random bytes, as a program or an image is: not text, whatever its name says."""
    return random.Random(5).randbytes(size)
