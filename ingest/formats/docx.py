"""Word documents (.docx): the body in document order, as light Markdown.

python-docx opens the package and resolves styles; the text is read from the XML itself,
so that tracked insertions, hyperlinks, fields and content controls keep their words, and
tables keep their place between paragraphs. Text boxes and headers and footers are left
out: they repeat on every page or float beside the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from io import BytesIO

from docx import Document
from docx.text.paragraph import Paragraph
from lxml import etree

from ingest.formats.archive import Archive, library_failure
from ingest.formats.extracted import Extracted, ReadLimits
from ingest.formats.markdown import heading, join_kinds, list_item, one_line, table_lines

KIND = "Word document"
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_NS = {"w": _W, "mc": "http://schemas.openxmlformats.org/markup-compatibility/2006"}
_P, _TBL, _SDT, _CUSTOM = (f"{{{_W}}}{tag}" for tag in ("p", "tbl", "sdt", "customXml"))
# Text of a run, in order: text, tabs, line breaks; not what a text box or a deletion holds.
_RUN_TEXT = etree.XPath(
    ".//*[(self::w:t or self::w:tab or self::w:br or self::w:cr)"
    " and not(ancestor::w:txbxContent) and not(ancestor::mc:Fallback)"
    " and not(ancestor::w:del)]",
    namespaces=_NS,
)
_CELL_PARAGRAPHS = etree.XPath(
    ".//w:p[not(ancestor::w:txbxContent) and not(ancestor::mc:Fallback)]", namespaces=_NS
)
_ROWS = etree.XPath("./w:tr", namespaces=_NS)
_CELLS = etree.XPath("./w:tc | ./w:sdt/w:sdtContent/w:tc", namespaces=_NS)
_STYLE_ID = etree.XPath("string(./w:pPr/w:pStyle/@w:val)", namespaces=_NS)
_LIST_LEVEL = etree.XPath("./w:pPr/w:numPr/w:ilvl/@w:val", namespaces=_NS)
_NUMBERED = etree.XPath("boolean(./w:pPr/w:numPr/w:numId)", namespaces=_NS)
_HEADING_STYLE = re.compile(r"heading ([1-9])")
# A custom style is a heading if a style it is based on is; this many steps up at most.
_STYLE_DEPTH = 8
_INVENTED_TITLE = "Word Document"


def read(data: bytes, limits: ReadLimits) -> Extracted:
    """The document as one section of Markdown: headings, list items, paragraphs, tables."""
    Archive(data, KIND, limits).verify()
    try:
        document = Document(BytesIO(data))
        return _extract(document)
    except MemoryError:
        raise  # the process's memory limit, not damage: the parent reports it
    except Exception as exc:  # python-docx and lxml raise many kinds; each means damage
        raise library_failure(KIND, exc) from exc


def _extract(document) -> Extracted:
    kinds = _StyleKinds(document)
    blocks: list[tuple[str, str]] = []
    first_heading = ""
    tables = 0
    for element in _body_blocks(document.element.body):
        if element.tag == _TBL:
            lines = table_lines(_table_rows(element))
            tables += bool(lines)
            blocks.append(("table", "\n".join(lines)))
            continue
        kind, level = kinds.of(element)
        text = _paragraph_text(element)
        if kind == "heading":
            first_heading = first_heading or (one_line(text) if level == 1 else "")
            blocks.append(("heading", heading(text, level)))
        elif kind == "list":
            blocks.append(("item", list_item(text, _list_depth(element))))
        else:
            blocks.append(("text", text.strip()))
    title = one_line(document.core_properties.title or "")
    # python-docx invents this title for a file without properties: not the document's.
    title = first_heading if title in ("", _INVENTED_TITLE) else title
    return Extracted((join_kinds(blocks),), unit="section", title=title, tables=tables)


def _body_blocks(body) -> Iterator[etree._Element]:
    """Paragraphs and tables in document order, looking inside content controls."""
    stack = list(reversed(body))
    while stack:
        element = stack.pop()
        if element.tag in (_P, _TBL):
            yield element
        elif element.tag in (_SDT, _CUSTOM):
            content = element.find(f"{{{_W}}}sdtContent")
            children = list(content if content is not None else element)
            stack.extend(reversed(children))


def _paragraph_text(paragraph) -> str:
    parts = []
    for node in _RUN_TEXT(paragraph):
        name = etree.QName(node).localname
        if name == "t":
            parts.append(node.text or "")
        else:
            parts.append("\t" if name == "tab" else "\n")
    return "".join(parts)


def _table_rows(table) -> list[list[str]]:
    return [
        [" ".join(_paragraph_text(p) for p in _CELL_PARAGRAPHS(cell)) for cell in _CELLS(row)]
        for row in _ROWS(table)
    ]


def _list_depth(paragraph) -> int:
    levels = _LIST_LEVEL(paragraph)
    return int(levels[0]) if levels and str(levels[0]).isdigit() else 0


class _StyleKinds:
    """What a paragraph is by its style ("heading" and its level, "list", or "text"),
    looked up once per style."""

    def __init__(self, document) -> None:
        self._document = document
        self._known: dict[str, tuple[str, int]] = {}

    def of(self, paragraph) -> tuple[str, int]:
        """The paragraph's kind: its style's, or "list" when it is numbered."""
        style_id = _STYLE_ID(paragraph)
        if style_id not in self._known:
            style = Paragraph(paragraph, self._document).style
            self._known[style_id] = _style_kind(style)
        kind = self._known[style_id]
        if kind[0] == "text" and _NUMBERED(paragraph):
            return ("list", 0)
        return kind


def _style_kind(style) -> tuple[str, int]:
    for _ in range(_STYLE_DEPTH):
        if style is None:
            break
        name = (style.name or "").lower()
        match = _HEADING_STYLE.fullmatch(name)
        if name == "title" or match:
            return ("heading", int(match.group(1)) if match else 1)
        if name.startswith("list"):
            return ("list", 0)
        style = style.base_style
    return ("text", 0)
