"""OpenDocument text (.odt): the document as one section of light Markdown.

content.xml is read with defusedxml: headings (`text:h` by outline level), paragraphs,
lists, tables, and the spaces, tabs and line breaks ODF writes as elements. Footnotes,
comments, tracked deletions and the table of contents (a copy of the headings) are left
out. Repeated spaces, columns and rows are not multiplied out: a hostile file cannot turn
a few bytes into pages of nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ingest.formats.archive import Archive, parse_xml
from ingest.formats.extracted import Extracted, ReadLimits
from ingest.formats.markdown import heading, join_kinds, list_item, one_line, table_lines
from rag.errors import IngestError

KIND = "OpenDocument text"
_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_H, _P, _LIST = f"{_TEXT}h", f"{_TEXT}p", f"{_TEXT}list"
_ITEMS = frozenset({f"{_TEXT}list-item", f"{_TEXT}list-header"})
_CONTAINERS = frozenset({f"{_TEXT}section", f"{_OFFICE}text"})
_ROW_GROUPS = frozenset(
    f"{_TABLE}{name}" for name in ("table-header-rows", "table-rows", "table-row-group")
)
_CELLS = frozenset({f"{_TABLE}table-cell", f"{_TABLE}covered-table-cell"})
_SKIPPED_INLINE = frozenset(
    {f"{_TEXT}note", f"{_OFFICE}annotation", f"{_OFFICE}annotation-end", f"{_TEXT}ruby-text"}
)
_TEXT_MIME = "application/vnd.oasis.opendocument.text"
_BLANKS = re.compile(r"[ \t\r\n]+")
# `text:s` may ask for any number of spaces: more than a line's worth is never meant.
MAX_SPACES = 64


def read(data: bytes, limits: ReadLimits) -> Extracted:
    """The document's headings, paragraphs, lists and tables; its title from meta.xml."""
    archive = Archive(data, KIND, limits)
    _check_mimetype(archive)
    if not archive.has("content.xml"):
        raise IngestError(f"not an {KIND}: it has no content.xml, which every ODT file has")
    content = parse_xml(archive.read("content.xml"), "content.xml", KIND)
    body = content.find(f"{_OFFICE}body/{_OFFICE}text")
    blocks = list(_blocks(body)) if body is not None else []
    title = ""
    if archive.has("meta.xml"):
        title = one_line(
            parse_xml(archive.read("meta.xml"), "meta.xml", KIND).findtext(f".//{_DC}title") or ""
        )
    first = next((text[2:] for kind, text in blocks if text.startswith("# ")), "")
    return Extracted(
        (join_kinds(blocks),),
        unit="section",
        title=title or first,
        tables=sum(1 for kind, text in blocks if kind == "table" and text),
    )


def _check_mimetype(archive: Archive) -> None:
    if not archive.has("mimetype"):
        return  # optional in practice: content.xml decides
    declared = archive.read("mimetype").decode("ascii", errors="replace").strip()
    if not declared.startswith(_TEXT_MIME):
        raise IngestError(
            f"not an {KIND}: it is another kind of OpenDocument file ({declared[:80]});"
            " save it as a text document (.odt)"
        )


def _blocks(body) -> Iterator[tuple[str, str]]:
    """(kind, Markdown) for each heading, paragraph, list item and table, in order."""
    stack = [(child, 0) for child in reversed(body)]
    while stack:
        element, depth = stack.pop()
        tag = element.tag
        if tag == _H:
            level = element.get(f"{_TEXT}outline-level") or "1"
            yield "heading", heading(inline_text(element), int(level) if level.isdigit() else 1)
        elif tag == _P:
            text = inline_text(element)
            yield ("item", list_item(text, depth - 1)) if depth else ("text", text.strip())
        elif tag == f"{_TABLE}table":
            yield "table", "\n".join(table_lines(_table_rows(element)))
        else:
            inner = depth + (tag == _LIST)
            if tag == _LIST or tag in _ITEMS or tag in _CONTAINERS:
                stack.extend((child, inner) for child in reversed(element))


def _table_rows(table) -> list[list[str]]:
    rows = []
    stack = list(reversed(table))  # rows in document order, inside their groups too
    while stack:
        child = stack.pop()
        if child.tag in _ROW_GROUPS:
            stack.extend(reversed(child))
        elif child.tag == f"{_TABLE}table-row":
            rows.append([_cell_text(cell) for cell in child if cell.tag in _CELLS])
    return rows


def _cell_text(cell) -> str:
    return " ".join(inline_text(p) for p in cell.iter() if p.tag in (_P, _H))


def inline_text(paragraph) -> str:
    """A paragraph's text: its blanks collapsed as ODF says, `text:s`, `text:tab` and
    `text:line-break` written out; notes and comments left out."""
    parts = [_BLANKS.sub(" ", paragraph.text or "")]
    # Items are elements to open, or the text after an element, kept for its turn.
    stack: list = list(reversed(paragraph))
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(_BLANKS.sub(" ", item))
            continue
        if item.tail:
            stack.append(item.tail)
        parts.append(_special(item))
        if item.tag not in _SKIPPED_INLINE and item.tag not in _SPECIAL:
            parts.append(_BLANKS.sub(" ", item.text or ""))
            stack.extend(reversed(item))
    return "".join(parts).strip(" ")


_SPECIAL = frozenset({f"{_TEXT}s", f"{_TEXT}tab", f"{_TEXT}line-break"})


def _special(element) -> str:
    if element.tag == f"{_TEXT}s":
        count = element.get(f"{_TEXT}c") or "1"
        return " " * min(int(count) if count.isdigit() else 1, MAX_SPACES)
    if element.tag == f"{_TEXT}tab":
        return "\t"
    return "\n" if element.tag == f"{_TEXT}line-break" else ""
