"""ZIP packages (Office, EPUB, OpenDocument) opened safely, before any library sees them.

A ZIP file is a directory of members, each declaring its sizes. A "zip bomb" declares or
hides far more data than a document needs: gigabytes from a few kilobytes. So the
directory is checked first (member count, the total size declared, how many times larger
than the archive it is, encryption, compression method), then members are inflated here
with a hard cap: a member whose data inflates past the size it declares is refused, so a
lying header never gets past, whatever a library would do with it later.

XML members are refused if they declare entities (`<!ENTITY`): nothing in these formats
needs them, and they are how "billion laughs" expansion bombs and external entities
(`file:///etc/passwd`, `http://...`) work. What we parse ourselves goes through defusedxml.
The libraries are safe on their own too, which this check backs up: python-docx and
python-pptx parse with lxml's `resolve_entities=False`; openpyxl reads sheets and shared
strings with defusedxml's iterparse and the rest with lxml and `resolve_entities=False`;
lxml never fetches from the network by default (`no_network=True`).
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from io import BytesIO
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ingest.formats.extracted import ReadLimits
from rag.errors import IngestError

MEGABYTE = 1024 * 1024
_CHUNK = 1 << 16
# Below this size a member cannot hurt however well it compresses (zeros, repeated tags).
RATIO_FLOOR = MEGABYTE
# Legacy Office files, and Office files saved with a password, are OLE compound files.
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_END_OF_DIRECTORY = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_LOCAL_HEADER = b"PK\x03\x04"
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_ENTITY = "<!ENTITY"
# The declaration in every encoding an XML parser detects by itself.
_ENTITY_MARKS = tuple(
    _ENTITY.encode(encoding)
    for encoding in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
)
_OVERLAP = max(len(mark) for mark in _ENTITY_MARKS) - 1
_XML_NAMES = (".xml", ".rels", ".opf", ".ncx", ".xhtml", ".html", ".htm", ".svg")
# A byte order mark, then blanks, then "<": XML whatever the member's name.
_XML_START = re.compile(rb"^(?:\xef\xbb\xbf|\xff\xfe|\xfe\xff|\x00\x00\xfe\xff)?[\s\x00]*<")


def entities_reason(where: str) -> str:
    """The reason given for XML that declares entities."""
    return (
        f"the file's part {where} declares XML entities, which documents do not need and"
        " which can make a reader expand text without end or read other files; it was"
        " not opened"
    )


class Archive:
    """A ZIP package whose directory passed every check; its members read with caps.

    `kind` names the format for reasons, for example "Word document".
    """

    def __init__(self, data: bytes, kind: str, limits: ReadLimits) -> None:
        self.kind = kind
        self._data = data
        self._zip = _open_zip(data, kind, limits)
        self._infos = self._zip.infolist()
        _check_directory(self._infos, len(data), limits)
        self._by_name = {info.filename: info for info in self._infos}

    def has(self, name: str) -> bool:
        """Whether the archive holds a member of that name."""
        return name in self._by_name

    def read(self, name: str) -> bytes:
        """A member's bytes, inflated here and never past the size it declares."""
        info = self._by_name.get(name)
        if info is None:
            raise IngestError(f"damaged {self.kind}: its part {name} is missing")
        return b"".join(self._checked_chunks(info))

    def verify(self) -> None:
        """Inflate every member once, keeping nothing, so that a library may then read
        them: each must inflate to exactly its declared size, and XML must hold no entities.
        """
        for info in self._infos:
            for _ in self._checked_chunks(info):
                pass

    def _checked_chunks(self, info: zipfile.ZipInfo) -> Iterator[bytes]:
        scan = info.filename.lower().endswith(_XML_NAMES)
        tail = b""
        produced = 0
        crc = 0
        for chunk in _member_chunks(self._data, info, self.kind):
            produced += len(chunk)
            if produced > info.file_size:
                raise IngestError(
                    f"unsafe {self.kind}: its part {info.filename} holds more data than it"
                    " declares (a ZIP trick used to hide a huge expansion); it was not opened"
                )
            crc = zlib.crc32(chunk, crc)
            # XML whatever its name: a member's first bytes are "<", maybe after a BOM.
            scan = scan or (produced == len(chunk) and _XML_START.match(chunk[:64]) is not None)
            if scan:
                window = tail + chunk
                if any(mark in window for mark in _ENTITY_MARKS):
                    raise IngestError(entities_reason(info.filename))
                tail = window[-_OVERLAP:]
            yield chunk
        if produced != info.file_size or crc != info.CRC:
            raise IngestError(_damaged(self.kind, f"its part {info.filename} is corrupt"))


def parse_xml(data: bytes, where: str, kind: str) -> Element:
    """An XML member parsed with defusedxml: no entities, no DTD fetched, nothing remote."""
    try:
        return fromstring(data)
    except DefusedXmlException:
        raise IngestError(entities_reason(where)) from None
    except (ParseError, ValueError) as exc:
        raise IngestError(_damaged(kind, f"its part {where} is not valid XML ({exc})")) from None


def library_failure(kind: str, exc: Exception) -> IngestError:
    """The reason to give when a format's library fails on a file that passed the checks."""
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return IngestError(_damaged(kind, f"it could not be read ({detail[:200]})"))


def _damaged(kind: str, detail: str) -> str:
    return f"damaged {kind}: {detail}"


def _open_zip(data: bytes, kind: str, limits: ReadLimits) -> zipfile.ZipFile:
    if data.startswith(_OLE_MAGIC):
        raise IngestError(
            f"not a readable {kind}: it is password-protected, or an older Office format"
            " (.doc, .xls, .ppt) with a new name; remove the password, or save it"
            " again in the new format"
        )
    _check_member_count(_declared_members(data), limits)
    try:
        return zipfile.ZipFile(BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, struct.error) as exc:
        raise IngestError(
            f"not a readable {kind}: the file is damaged, cut short, or another kind of"
            f" file with this name ({exc})"
        ) from None


def _declared_members(data: bytes) -> int:
    """The member count the end of the archive declares, read before the directory is.

    Reading the directory of an archive that declares millions of members costs memory
    in proportion; 0 when the count is not found (the ZIP reader will say why).
    """
    end = data.rfind(_END_OF_DIRECTORY, max(0, len(data) - 65_557))
    if end < 0 or len(data) < end + 22:
        return 0
    count = struct.unpack_from("<H", data, end + 10)[0]
    locator = end - 20
    if count == 0xFFFF and locator >= 0 and data[locator : locator + 4] == _ZIP64_LOCATOR:
        record = struct.unpack_from("<Q", data, locator + 8)[0]
        if record + 40 <= len(data):
            count = struct.unpack_from("<Q", data, record + 32)[0]
    return count


def _check_member_count(count: int, limits: ReadLimits) -> None:
    if count > limits.max_zip_members:
        raise IngestError(
            f"the file holds {count:,} parts, more than the {limits.max_zip_members:,}"
            " a document may have; it may be built to overwhelm the reader"
        )


def _check_directory(infos: list[zipfile.ZipInfo], size: int, limits: ReadLimits) -> None:
    _check_member_count(len(infos), limits)
    for info in infos:
        if info.flag_bits & 0x1:
            raise IngestError(
                f"password-protected: its part {info.filename} is encrypted;"
                " remove the password and upload it again"
            )
        if info.compress_type not in _METHODS:
            raise IngestError(
                f"its part {info.filename} uses a compression method documents do not use"
                f" (method {info.compress_type}); it was not opened"
            )
    total = sum(info.file_size for info in infos)
    if total > limits.max_unzipped_mb * MEGABYTE:
        raise IngestError(
            f"the file would expand to {total / MEGABYTE:,.0f} MB when unpacked"
            f" (the limit is {limits.max_unzipped_mb:,} MB, RAG_MAX_UNZIPPED_MB)"
        )
    if total > RATIO_FLOOR and total > limits.max_zip_ratio * max(size, 1):
        raise IngestError(_ratio_reason("the file", total / max(size, 1), limits))
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR and ratio > limits.max_zip_ratio:
            raise IngestError(_ratio_reason(f"its part {info.filename}", ratio, limits))


def _ratio_reason(what: str, ratio: float, limits: ReadLimits) -> str:
    return (
        f"{what} expands {ratio:,.0f} times when unpacked, as zip bombs do"
        f" (the limit is {limits.max_zip_ratio:,} times, RAG_MAX_ZIP_RATIO)"
    )


def _member_chunks(data: bytes, info: zipfile.ZipInfo, kind: str) -> Iterator[bytes]:
    """The member's inflated bytes in chunks of at most 64 KiB, from its raw data."""
    raw = _raw_member(data, info, kind)
    if info.compress_type == zipfile.ZIP_STORED:
        for start in range(0, len(raw), _CHUNK):
            yield bytes(raw[start : start + _CHUNK])
        return
    yield from _inflate(raw, kind, info.filename)


def _raw_member(data: bytes, info: zipfile.ZipInfo, kind: str) -> memoryview:
    """The member's compressed bytes: after its local header, as long as the directory says."""
    offset = info.header_offset
    header = data[offset : offset + 30]
    if len(header) < 30 or not header.startswith(_LOCAL_HEADER):
        raise IngestError(_damaged(kind, f"its part {info.filename} cannot be found"))
    name_length, extra_length = struct.unpack_from("<HH", header, 26)
    start = offset + 30 + name_length + extra_length
    raw = memoryview(data)[start : start + info.compress_size]
    if len(raw) < info.compress_size:
        raise IngestError(_damaged(kind, "the file is cut short"))
    return raw


def _inflate(raw: memoryview, kind: str, name: str) -> Iterator[bytes]:
    """Raw deflate data inflated at most 64 KiB at a time, however much it expands."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    pending: bytes | memoryview = b""
    offset = 0
    try:
        while not inflater.eof:
            if not pending and offset < len(raw):
                pending, offset = raw[offset : offset + _CHUNK], offset + _CHUNK
            chunk = inflater.decompress(pending, _CHUNK)
            pending = inflater.unconsumed_tail
            if not chunk and not pending and offset >= len(raw):
                break
            yield chunk
    except zlib.error as exc:
        raise IngestError(_damaged(kind, f"its part {name} is corrupt ({exc})")) from None
    if not inflater.eof:
        raise IngestError(_damaged(kind, f"its part {name} is cut short"))
