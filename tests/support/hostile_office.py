"""Hostile and broken Office, EPUB, OpenDocument, CSV and HTML files, generated.

Each case builds one file and names the words its refusal must contain (`reason`), or
None when the file must be read, within bounds, rather than refused. ZIP tricks are
written by hand, header by header, so that each lie is exactly the one named: a size
declared too small or too large, a member that inflates a thousand times.
"""

from __future__ import annotations

import random
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO

import xlsxwriter

from ingest.formats.extracted import ReadLimits
from tests.support import office_files
from tests.support.office_files import NOWHERE, members, zip_file

MEGABYTE = 1024 * 1024
W_NAMESPACE = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
MAIN = "word/document.xml"


@dataclass(frozen=True)
class RawMember:
    """A ZIP member as written: `payload` is stored as is (deflated already when `method`
    is 8), and the headers declare `size` and `crc`, true or not."""

    name: str
    payload: bytes
    size: int
    crc: int
    method: int = zipfile.ZIP_DEFLATED
    flags: int = 0


def raw_zip(entries: list[RawMember]) -> bytes:
    """A ZIP whose headers say exactly what the entries say."""
    out, directory = bytearray(), bytearray()
    for entry in entries:
        offset, name = len(out), entry.name.encode()
        sizes = (entry.crc, len(entry.payload), entry.size)
        local = (b"PK\x03\x04", 20, entry.flags, entry.method, 0, 33, *sizes, len(name), 0)
        out += struct.pack("<4s5H3L2H", *local) + name + entry.payload
        central = (b"PK\x01\x02", 20, *local[1:], 0, 0, 0, 0, offset)
        directory += struct.pack("<4s6H3L5H2L", *central)
        directory += name
    count = len(entries)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(directory), len(out), 0)
    return bytes(out + directory + end)


def deflated_zeros(name: str, size: int, declared: int | None = None) -> RawMember:
    """`size` zero bytes, deflated a mebibyte at a time (about 1,000 to 1), declaring
    `declared` bytes (default: the truth)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block, crc, parts = bytes(MEGABYTE), 0, []
    for _ in range(size // MEGABYTE):
        parts.append(packer.compress(block))
        crc = zlib.crc32(block, crc)
    payload = b"".join(parts) + packer.flush()
    return RawMember(name, payload, size if declared is None else declared, crc)


def with_member(data: bytes, name: str, content: bytes | str) -> bytes:
    """The archive with one member's content replaced (or added)."""
    parts = dict(members(data))
    parts[name] = content.encode() if isinstance(content, str) else content
    return zip_file(list(parts.items()))


def billion_laughs(root: str, namespaces: str, reference: str = "&lol9;") -> str:
    """An XML document whose nine nested entities expand to 3 GB of "lol"."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">' for level in range(1, 10)
    ]
    return (
        f'<?xml version="1.0"?><!DOCTYPE {root} [{"".join(entities)}]>'
        f"<{root} {namespaces}>{reference}</{root}>"
    )


def word_document(body_text: str, doctype: str = "") -> str:
    """word/document.xml with one paragraph of `body_text` (which may name entities)."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{doctype}<w:document xmlns:w="{W_NAMESPACE}">'
        f"<w:body><w:p><w:r><w:t>{body_text}</w:t></w:r></w:p></w:body></w:document>"
    )


def laughing_docx(encoding: str = "utf-8") -> bytes:
    """A Word document whose body is a billion laughs, in `encoding`."""
    xml = word_document("&lol9;", _laughs_doctype("w:document"))
    if encoding != "utf-8":
        xml = xml.replace('encoding="UTF-8"', f'encoding="{encoding.upper()}"')
    return with_member(office_files.docx_file(), MAIN, xml.encode(encoding))


def _laughs_doctype(root: str) -> str:
    laughs = billion_laughs(root, "")
    return laughs[laughs.index("<!DOCTYPE") : laughs.index("]>") + 2]


def external_entity_docx(target: str = "file:///etc/passwd") -> bytes:
    """A Word document whose text is an external entity: a file, or a URL."""
    doctype = f'<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "{target}">]>'
    xml = word_document("&xxe;", doctype)
    return with_member(office_files.docx_file(), MAIN, xml)


def laughing_xlsx() -> bytes:
    """A workbook whose shared strings are a billion laughs."""
    namespaces = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    xml = billion_laughs("sst", namespaces, "<si><t>&lol9;</t></si>")
    return with_member(office_files.xlsx_file(), "xl/sharedStrings.xml", xml)


def laughing_odt() -> bytes:
    """An OpenDocument text whose content is a billion laughs."""
    xml = billion_laughs("office:document-content", office_files.ODT_NAMESPACES)
    return office_files.odt_file(content=xml)


def deep_docx(depth: int = 20_000) -> bytes:
    """A Word document whose body nests `depth` elements: past what lxml accepts."""
    xml = word_document("<w:r>" * depth + "deep" + "</w:r>" * depth)
    return with_member(office_files.docx_file(), MAIN, xml)


def wide_sheet(rows: int = 200) -> bytes:
    """A sheet each of whose rows has a cell in the last column Excel allows (XFD)."""
    out = BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("Wide")
    for row in range(rows):
        sheet.write(row, 16_383, "far")
    book.close()
    return out.getvalue()


def deep_odt(depth: int = 100_000) -> bytes:
    """An OpenDocument text with a paragraph of `depth` nested spans around one word."""
    spans = "<text:span>" * depth + "bottom" + "</text:span>" * depth
    return office_files.odt_file(body=f"<text:p>{spans}</text:p>")


def ratio_bomb() -> bytes:
    """100 MB of zeros in a 100 KB archive: within the size limit, not the ratio limit."""
    return raw_zip([deflated_zeros(MAIN, 100 * MEGABYTE)])


def hidden_ratio_bomb() -> bytes:
    """A 100 MB part of zeros hidden beside a mebibyte of noise: the archive as a whole
    expands about 90 times (allowed), the one part a thousand times."""
    noise = random.Random(7).randbytes(MEGABYTE)
    stored = RawMember("word/media/noise.bin", noise, len(noise), zlib.crc32(noise), method=0)
    return raw_zip([stored, deflated_zeros("word/media/zeros.bin", 100 * MEGABYTE)])


def declared_size_bomb() -> bytes:
    """A part that declares 600 MB: refused on the directory, before anything inflates."""
    return raw_zip([deflated_zeros(MAIN, MEGABYTE, declared=600 * MEGABYTE)])


def lying_sizes() -> bytes:
    """A part that declares 1,000 bytes and inflates to 100 MB."""
    return raw_zip([deflated_zeros(MAIN, 100 * MEGABYTE, declared=1000)])


def many_members(count: int) -> bytes:
    """An archive of `count` empty parts."""
    return raw_zip([RawMember(f"part{n}.xml", b"", 0, 0, method=0) for n in range(count)])


def encrypted_member() -> bytes:
    """A Word document whose main part is marked encrypted."""
    parts = [
        RawMember(name, data, len(data), zlib.crc32(data), method=0, flags=int(name == MAIN))
        for name, data in members(office_files.docx_file())
    ]
    return raw_zip(parts)


def bzip2_member() -> bytes:
    """A Word document compressed with bzip2, which Office never uses (and whose
    decompressor Python cannot cap)."""
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_BZIP2) as archive:
        for name, content in members(office_files.docx_file()):
            info = zipfile.ZipInfo(name, office_files.FIXED_TIME)
            info.compress_type = zipfile.ZIP_BZIP2
            archive.writestr(info, content)
    return buffer.getvalue()


@dataclass(frozen=True)
class HostileCase:
    """One hostile file: how to build it, its suffix, the words its refusal must hold
    (None: it must be read, and give the word `keeps`), and the limits to read it under."""

    name: str
    suffix: str
    build: Callable[[], bytes]
    reason: str | None
    limits: ReadLimits = field(default_factory=ReadLimits)
    keeps: str = ""  # a word a file that is read must still give


def hostile_cases(remote: str = NOWHERE) -> list[HostileCase]:
    """Every hostile case; `remote` is where URLs in the files point."""
    rows, cells = ReadLimits(max_sheet_rows=20), ReadLimits(max_sheet_cells=60)
    nested = {
        "divs": "<div>" * 200_000,
        "lists": "<ul><li>" * 120_000,
        "tables": "<table><tr><td>" * 60_000,
        "options": "<select>" + "<option>" * 200_000 + "</select>",
        "list headings": "<ol><li><h2>t</h2>" * 50_000,
    }
    ratios = ReadLimits(max_zip_ratio=100_000)
    return [
        HostileCase("zip bomb by ratio", ".docx", ratio_bomb, "RAG_MAX_ZIP_RATIO"),
        HostileCase("one part a zip bomb", ".docx", hidden_ratio_bomb, "zeros.bin expands"),
        HostileCase("declared size", ".xlsx", declared_size_bomb, "RAG_MAX_UNZIPPED_MB"),
        HostileCase("sizes that lie", ".docx", lying_sizes, "more data than it declares"),
        HostileCase("too many parts", ".pptx", lambda: many_members(10_001), "10,001 parts"),
        HostileCase("encrypted part", ".docx", encrypted_member, "password-protected"),
        HostileCase("bzip2 parts", ".docx", bzip2_member, "compression method"),
        HostileCase("billion laughs docx", ".docx", laughing_docx, "declares XML entities"),
        HostileCase("laughs in UTF-16", ".docx", lambda: laughing_docx("utf-16"), "entities"),
        HostileCase("billion laughs xlsx", ".xlsx", laughing_xlsx, "declares XML entities"),
        HostileCase("billion laughs odt", ".odt", laughing_odt, "declares XML entities"),
        HostileCase("external file", ".docx", external_entity_docx, "declares XML entities"),
        HostileCase(
            "external URL", ".docx", lambda: external_entity_docx(f"{remote}/xxe"), "entities"
        ),
        HostileCase("nesting past lxml", ".docx", deep_docx, "could not be read"),
        HostileCase("deep spans", ".odt", deep_odt, None, ratios, keeps="bottom"),
        HostileCase("sheet rows", ".xlsx", lambda: office_files.xlsx_file(50), "ROWS", rows),
        HostileCase("wide sheet", ".xlsx", wide_sheet, "more than 2,000,000 cells"),
        HostileCase("sheet cells", ".xlsm", lambda: office_files.xlsx_file(50), "CELLS", cells),
        HostileCase("csv rows", ".csv", lambda: b"a,b\n" * 50, "RAG_MAX_SHEET_ROWS", rows),
        HostileCase("csv open quote", ".csv", lambda: b'a,b\n"' + b"x" * 200_000, "malformed"),
        HostileCase("csv binary", ".csv", lambda: b"PK\x03\x04\x00\x00" * 99, "binary data"),
        HostileCase("not a zip", ".docx", lambda: b"Dear diary. " * 99, "not a readable Word"),
        HostileCase("old Office", ".xlsx", lambda: OLE + bytes(4096), "older Office format"),
        HostileCase("cut short", ".pptx", lambda: office_files.pptx_file()[:20_000], "cut short"),
        *(_nested_html(name, markup) for name, markup in nested.items()),
        HostileCase("no text charset", ".html", HEX_CHARSET.encode, None, keeps="plain words"),
        HostileCase("package outside", ".epub", lambda: epub(opf_path="../content.opf"), "outside"),
        HostileCase("remote chapter", ".epub", lambda: epub([f"{remote}/c.xhtml"]), "outside"),
        HostileCase("escaping chapter", ".epub", lambda: epub(["../../etc/passwd"]), "outside"),
        HostileCase("encrypted chapters", ".epub", drm_epub, "DRM"),
        HostileCase("chapter 5,000 times", ".epub", epub_repeated, None, keeps="Swarms"),
    ]


def _nested_html(name: str, markup: str) -> HostileCase:
    return HostileCase(f"nested {name}", ".html", (markup + " bottom").encode, None, keeps="bottom")


def epub_repeated() -> bytes:
    """A book whose spine lists the same chapter 5,000 times."""
    return epub(["chapter2.xhtml"] * 5000)


HEX_CHARSET = '<meta charset="hex"><p>plain words</p>'
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
epub = office_files.epub_file


def drm_epub() -> bytes:
    """A book whose chapters are listed as encrypted, as DRM does."""
    encryption = (
        '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" xmlns:enc='
        '"http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData><enc:CipherData>'
        '<enc:CipherReference URI="OEBPS/chapter2.xhtml"/></enc:CipherData>'
        "</enc:EncryptedData></encryption>"
    )
    return epub(extra=[("META-INF/encryption.xml", encryption)])
