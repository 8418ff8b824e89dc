"""Web pages (.html, .htm): the main content only, as light Markdown.

Scripts, styles, navigation, the page's header and footer, asides, forms, frames and
pictures are dropped; when the page marks its content (`<main>`, `role="main"`, a single
`<article>`) only that is read. Nothing is ever fetched: no picture, frame, script or
style sheet. The same text function reads the chapters of EPUB books.

Parsers take time in proportion to depth for each tag, so a page of a million nested tags
would take minutes; tags nested deeper than any real page are dropped (their text kept)
before the page is parsed, as browsers stop nesting at a depth too.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from selectolax.lexbor import LexborDocumentOptions, LexborHTMLParser

from ingest.formats.extracted import Extracted, ReadLimits
from ingest.formats.markdown import join_kinds, list_marker, one_line, table_lines

MAX_DEPTH = 256
NOISE = [
    *("script", "style", "noscript", "template", "nav", "aside", "form", "iframe", "svg"),
    *("button", "object", "embed", "canvas", "select", "textarea", "dialog", "img"),
]
# Elements that never nest (void) or that the parser closes by itself: not counted.
_FLAT = frozenset(
    {
        *("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"),
        *("param", "source", "track", "wbr", "keygen", "p", "li", "dt", "dd", "tr", "td"),
        *("th", "option", "optgroup", "thead", "tbody", "tfoot", "rb", "rt", "rp"),
    }
)
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^>]*>")
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_DECLARED = re.compile(
    rb"""(?:<meta[^>]*?charset|<\?xml[^>]*?encoding)\s*=\s*["']?\s*([\w.:-]+)""", re.I
)
_DECLARED_WINDOW = 1024
# The HTML standard reads these labels as Windows-1252, as browsers do.
_AS_WINDOWS_1252 = frozenset({"iso8859-1", "latin-1", "ascii"})
_SECTIONING = frozenset({"article", "main", "section"})
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_LISTS = frozenset({"ul", "ol", "menu"})
# Elements that end the text before them and start a new block.
_BREAKING = frozenset(
    {
        *("p", "div", "section", "article", "main", "blockquote", "dl", "dt", "dd", "li"),
        *("figure", "figcaption", "address", "details", "summary", "hr", "center"),
        *("fieldset", "legend", "caption", "body", "header", "footer", "tr", "td", "th"),
        *_LISTS,
        *_HEADINGS,
    }
)
# Where a <br> was: HTML parsers turn NUL in text into U+FFFD, so it cannot be text.
_LINE_BREAK = "\0"


@dataclass(frozen=True)
class HtmlText:
    """A page's Markdown text, its `<title>`, its first heading's text, and how many
    tables it holds."""

    text: str
    title: str
    first_heading: str
    tables: int = 0


def read(data: bytes, limits: ReadLimits) -> Extracted:
    """The page's main content as one section; its title from `<title>` or the first h1."""
    page = html_text(decode(data))
    title = page.title or page.first_heading
    return Extracted((page.text,), unit="section", title=title, tables=page.tables)


def decode(data: bytes) -> str:
    """The page's text: by its byte order mark, else the charset it declares, else UTF-8,
    else Windows-1252."""
    for mark, encoding in _BOMS:
        if data.startswith(mark):
            return data[len(mark) :].decode(encoding, errors="replace")
    declared = _declared_encoding(data[:_DECLARED_WINDOW])
    if declared:
        try:
            return data.decode(declared, errors="replace")
        except LookupError:
            pass  # a codec Python knows that is no text encoding ("hex"): guess instead
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _declared_encoding(head: bytes) -> str | None:
    match = _DECLARED.search(head)
    if match is None:
        return None
    try:
        name = codecs.lookup(match.group(1).decode("ascii")).name
    except (LookupError, UnicodeDecodeError):
        return None  # an unknown name: guess as if none were declared
    if name in _AS_WINDOWS_1252:
        return "cp1252"
    # A page read as bytes cannot be UTF-16 without a byte order mark; the standard agrees.
    return "utf-8" if name.startswith("utf-16") else name


def html_text(markup: str) -> HtmlText:
    """Markup's main content as Markdown: headings `#`, list items `- `, tables as rows,
    paragraphs separated by blank lines."""
    # Without DOM events: a <select>'s options would each walk all the others (minutes for
    # a page of options), and their text would be copied into <selectedcontent>.
    tree = LexborHTMLParser(flatten(markup), options=LexborDocumentOptions.WO_EVENTS)
    title_node = tree.css_first("title")
    title = one_line(title_node.text()) if title_node is not None else ""
    tree.strip_tags(NOISE)
    root = _content_root(tree)
    if root is None:
        return HtmlText("", title, "")
    for node in root.css("header, footer, [hidden], [aria-hidden=true]"):
        if node.tag not in ("header", "footer") or _page_level(node):
            # Detached, not destroyed: a match inside one already removed stays valid.
            node.decompose(recursive=False)
    first = root.css_first("h1, h2, h3, h4, h5, h6")
    blocks = _markdown(root)
    tables = sum(1 for kind, _ in blocks.blocks if kind == "table")
    return HtmlText(blocks.markdown(), title, one_line(first.text()) if first else "", tables)


def flatten(markup: str) -> str:
    """The markup without the start and end tags nested deeper than `MAX_DEPTH`."""
    depth = 0
    kept: list[str] = []
    start = 0
    for match in _TAG.finditer(markup):
        if match.group(2).lower() in _FLAT:
            continue
        closing = bool(match.group(1))
        depth += -1 if closing else 1
        if depth + closing > MAX_DEPTH:
            kept.append(markup[start : match.start()])
            start = match.end()
        depth = max(depth, 0)
    if not kept:
        return markup
    kept.append(markup[start:])
    return "".join(kept)


def _content_root(tree: LexborHTMLParser):
    main = tree.css_first("main") or tree.css_first('[role="main"]')
    if main is not None:
        return main
    articles = tree.css("article")
    return articles[0] if len(articles) == 1 else tree.body


def _page_level(node) -> bool:
    """Whether a header or footer belongs to the page, not to an article or section."""
    parent = node.parent
    while parent is not None and parent.tag not in ("body", "html"):
        if parent.tag in _SECTIONING:
            return False
        parent = parent.parent
    return True


def _markdown(root) -> _Blocks:
    """The subtree's text as Markdown blocks, walked without recursion: depth is the
    page's to choose, Python's stack is not."""
    blocks = _Blocks()
    stack = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            blocks.leave(node.tag)
        elif node.is_text_node:
            blocks.parts.append(node.text_content or "")
        elif not node.is_element_node:
            continue  # a comment
        elif node.tag == "br":
            blocks.parts.append(_LINE_BREAK)
        elif node.tag == "table" and not _layout_table(node):
            blocks.add("table", "\n".join(table_lines(_table_rows(node))))
        elif node.tag == "pre":
            blocks.add("text", (node.text() or "").strip("\n"))
        else:
            blocks.enter(node.tag)
            stack.append((node, True))
            children = list(node.iter(include_text=True))
            stack.extend((child, False) for child in reversed(children))
    blocks.flush()
    return blocks


def _layout_table(table) -> bool:
    """A table that lays out the page rather than holding data: read as blocks."""
    if table.attributes.get("role") == "presentation" or len(table.css("table")) > 1:
        return True
    return table.css_first("h1, h2, h3, h4, h5, h6, ul, ol") is not None


def _table_rows(table) -> list[list[str]]:
    rows = []
    for child in table.iter():
        group = [child] if child.tag == "tr" else list(child.iter())
        rows += [
            [one_line(cell.text(separator=" ")) for cell in row.iter() if cell.tag in ("td", "th")]
            for row in group
            if row.tag == "tr"
        ]
    return rows


class _Blocks:
    """Text gathered during the walk, cut into blocks: a heading, a list item, a paragraph,
    a table. Inline text collects in `parts` until an element ends the block."""

    def __init__(self) -> None:
        self.blocks: list[tuple[str, str]] = []
        self.parts: list[str] = []
        self.kind, self.prefix = "text", ""
        self.depth = 0

    def enter(self, tag: str) -> None:
        """An element starts: a block element ends the text before it."""
        if tag in _BREAKING:
            self.flush()
        if tag in _HEADINGS:
            self.kind, self.prefix = "heading", "#" * _HEADINGS[tag] + " "
        elif tag in _LISTS:
            self.depth += 1
        elif tag == "li":
            self.kind, self.prefix = "item", list_marker(self.depth - 1)

    def leave(self, tag: str) -> None:
        """An element ends: a block element ends its text."""
        if tag in _BREAKING:
            self.flush()
        if tag in _HEADINGS or tag == "li":
            self.kind, self.prefix = "text", ""
        elif tag in _LISTS:
            self.depth -= 1

    def add(self, kind: str, text: str) -> None:
        """A block made whole (a table, preformatted text), after the text before it."""
        self.flush()
        if text.strip():
            self.blocks.append((kind, text))

    def flush(self) -> None:
        """The gathered text becomes a block; a heading or item marks only its first."""
        lines = [one_line(line) for line in "".join(self.parts).split(_LINE_BREAK)]
        self.parts = []
        words = [line for line in lines if line]
        if not words:
            return
        text = " ".join(words) if self.kind != "text" else "\n".join(words)
        self.blocks.append((self.kind, self.prefix + text))
        self.kind, self.prefix = "text", ""

    def markdown(self) -> str:
        """The blocks, separated by blank lines, a list's items one per line."""
        return join_kinds(self.blocks)
