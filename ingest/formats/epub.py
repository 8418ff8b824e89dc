"""EPUB books (.epub): one page per chapter, in reading (spine) order.

The container names the package file, the package lists the chapters in order, and each
chapter is XHTML read like a web page. Everything is read from inside the archive:
a reference outside the book (`../`, an absolute path, a URL) is refused, never
followed, and nothing remote is fetched. Chapters without text (a cover picture) are
left out; a chapter listed twice is read once.
"""

from __future__ import annotations

import posixpath
from urllib.parse import unquote, urlsplit

from ingest.formats.archive import Archive, parse_xml
from ingest.formats.extracted import Extracted, ReadLimits
from ingest.formats.html import HtmlText, decode, html_text
from ingest.formats.markdown import one_line
from ingest.reasons import too_much_text
from rag.errors import IngestError

KIND = "EPUB book"
CONTAINER = "META-INF/container.xml"
ENCRYPTION = "META-INF/encryption.xml"
_CONTAINER_NS = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_OPF = "{http://www.idpf.org/2007/opf}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_XMLENC = "{http://www.w3.org/2001/04/xmlenc#}"
_CHAPTER_TYPES = frozenset({"application/xhtml+xml", "text/html"})


def read(data: bytes, limits: ReadLimits) -> Extracted:
    """The chapters' text; the chapter titles (first headings) name the pages."""
    archive = Archive(data, KIND, limits)
    package_path = _package_path(archive)
    package = parse_xml(archive.read(package_path), package_path, KIND)
    paths = _chapter_paths(package, posixpath.dirname(package_path))
    _refuse_encrypted(archive, paths)
    chapters: list[HtmlText] = []
    total = 0
    for path in paths:
        if not archive.has(path):
            continue  # listed but missing: the rest of the book is still worth reading
        chapter = html_text(decode(archive.read(path)))
        if not chapter.text.strip():
            continue
        total += len(chapter.text)
        if total > limits.max_chars:
            raise IngestError(too_much_text(limits.max_chars))
        chapters.append(chapter)
    title = one_line(package.findtext(f".//{_DC}title") or "")
    names = tuple(chapter.first_heading or chapter.title for chapter in chapters)
    return Extracted(
        tuple(chapter.text for chapter in chapters),
        unit="chapter",
        title=title or next((name for name in names if name), ""),
        page_names=names,
        tables=sum(chapter.tables for chapter in chapters),
    )


def _package_path(archive: Archive) -> str:
    """Where the container says the package file (.opf) is."""
    if not archive.has(CONTAINER):
        raise IngestError(f"not an {KIND}: it has no {CONTAINER}, which every EPUB has")
    container = parse_xml(archive.read(CONTAINER), CONTAINER, KIND)
    for rootfile in container.iter(f"{_CONTAINER_NS}rootfile"):
        path = rootfile.get("full-path")
        if path:
            return inside("", path)
    raise IngestError(f"damaged {KIND}: {CONTAINER} does not name the book's package file")


def _chapter_paths(package, base: str) -> list[str]:
    """The spine's documents in reading order, each path once, inside the archive."""
    manifest = {
        item.get("id"): (item.get("href") or "", item.get("media-type") or "")
        for item in package.iter(f"{_OPF}item")
    }
    paths: dict[str, None] = {}  # in order, each once
    for reference in package.iter(f"{_OPF}itemref"):
        href, media_type = manifest.get(reference.get("idref"), ("", ""))
        if href and media_type in _CHAPTER_TYPES:
            paths[inside(base, href)] = None
        # Anything else is a picture or a missing entry: no text to read.
    return list(paths)


def inside(base: str, href: str) -> str:
    """The archive path a reference names, relative to `base`; IngestError when it
    points outside the book: a URL, an absolute path, or `..` past the top."""
    target = unquote(href.split("#", 1)[0]).replace("\\", "/")
    path = posixpath.normpath(posixpath.join(base, target))
    if urlsplit(target).scheme or target.startswith("/") or path.split("/")[0] == "..":
        raise IngestError(
            f"unsafe {KIND}: it refers to {href[:120]!r}, outside the book; EPUB readers"
            " only read what is inside it, so it was not opened"
        )
    return path


def _refuse_encrypted(archive: Archive, paths: list[str]) -> None:
    """Refuse a book whose chapters are encrypted (DRM); encrypted fonts are common and
    harmless."""
    if not archive.has(ENCRYPTION):
        return
    encryption = parse_xml(archive.read(ENCRYPTION), ENCRYPTION, KIND)
    chapters = set(paths)
    for reference in encryption.iter(f"{_XMLENC}CipherReference"):
        uri = reference.get("URI") or ""
        if posixpath.normpath(unquote(uri)) in chapters:
            raise IngestError(
                "protected by DRM: the book's chapters are encrypted; only its publisher's"
                " reader app can open them"
            )
