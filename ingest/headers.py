"""A chunk's context header: its document's title and the section it starts in.

The header ("Annual report 2023 › Risk factors › Liquidity") is embedded and indexed with
each chunk, so a chunk far from the title page still says what it is about; the chunk's
stored text stays the page's own.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from pathlib import PurePath

from ingest.cleaning import clean_text
from rag.safe_text import ELLIPSIS, shorten

SEPARATOR = " › "
# Long enough for a title and two levels of sections, short enough to leave a chunk
# nearly all of the embedder's input.
MAX_HEADER_CHARS = 200
# A section path: the nested outline or heading titles, outermost first.
SectionPath = tuple[str, ...]
# Where each section begins in a document's text: (character offset, path), in order.
Sections = Sequence[tuple[int, SectionPath]]

_BOILERPLATE = frozenset(
    {"untitled", "untitled document", "document", "no title", "title", "none", "unknown"}
)
# "Microsoft Word - report.docx", "Microsoft PowerPoint - deck.pptx": the tool's own label.
_TOOL_LABEL = re.compile(r"^microsoft\s+\w+(\s+\w+)?\s+-\s", re.IGNORECASE)
# A file extension at the end ("draft.docx"), or a path ("C:\\work\\draft", "/tmp/x").
_FILE_NAME = re.compile(r"\.[a-z][a-z0-9]{1,4}$|^(?:[a-z]:)?[\\/]|\\", re.IGNORECASE)
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
# pypdf breaks a word where a PDF positions its last letters apart: "LIQUIDI\n \nTY".
_SPLIT_WORD = re.compile(r"(?<=\w)\n \n(?=\w)")


def document_title(metadata_title: str | None, file_name: str) -> str:
    """The PDF's own title when it is a real one, else the file name as words."""
    title = one_line(metadata_title or "")
    if is_real_title(title, file_name):
        return title
    return title_from_file_name(file_name)


def is_real_title(title: str, file_name: str) -> bool:
    """False for what PDF tools write when nobody set a title: nothing, a file name,
    "Untitled", "Microsoft Word - report.docx"."""
    if not any(char.isalpha() for char in title):
        return False
    lowered = title.casefold()
    name = PurePath(file_name)
    if lowered in _BOILERPLATE or lowered in (name.name.casefold(), name.stem.casefold()):
        return False
    return not (_TOOL_LABEL.match(title) or _FILE_NAME.search(title))


def title_from_file_name(file_name: str) -> str:
    """ "annual_report-2023.pdf" becomes "annual report 2023"."""
    stem = PurePath(file_name).stem or file_name
    return one_line(stem.replace("_", " ").replace("-", " "))


def one_line(text: str) -> str:
    """Cleaned like page text, on one line with single spaces."""
    return " ".join(clean_text(text).split())


def make_header(title: str, path: SectionPath, limit: int = MAX_HEADER_CHARS) -> str:
    """ "Title › Section › Subsection", at most `limit` characters.

    A long title or section is cut at a word; when the whole is still too long, the outer
    sections give way to "…" before the innermost one does.
    """
    cleaned = (one_line(part) for part in (title, *path))
    parts = [shorten(part, limit // 2) for part in cleaned if part]
    while len(SEPARATOR.join(parts)) > limit and len(parts) > 2:
        parts = [parts[0], ELLIPSIS, *parts[2:]] if parts[1] != ELLIPSIS else _drop(parts)
    return shorten(SEPARATOR.join(parts), limit)


def _drop(parts: list[str]) -> list[str]:
    """Remove the outermost section after the "…" (or the "…" itself when none is left)."""
    return [parts[0], ELLIPSIS, *parts[3:]] if len(parts) > 3 else [parts[0], parts[2]]


def markdown_sections(text: str) -> list[tuple[int, SectionPath]]:
    """Where each Markdown `#` heading begins, with the path of headings it is under."""
    sections: list[tuple[int, SectionPath]] = []
    path: list[str] = []
    offset, fenced = 0, False
    for line in text.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and (heading := _HEADING.match(line)):
            level = len(heading.group(1))
            path = [*path[: level - 1], *[""] * (level - 1 - len(path)), heading.group(2)]
            sections.append((offset, tuple(p for p in path if p)))
        offset += len(line) + 1
    return sections


def page_sections(
    page_paths: Sequence[tuple[int, SectionPath]], page_starts: Sequence[int]
) -> Sections:
    """Outline entries (1-based page, path) as sections at the first character of their
    page; entries are taken in page order, a later one on the same page winning."""
    ordered = sorted(page_paths, key=lambda entry: entry[0])
    return [
        (page_starts[page - 1], path) for page, path in ordered if 1 <= page <= len(page_starts)
    ]


def sections_at(sections: Sections, offsets: Sequence[int]) -> list[SectionPath]:
    """For each offset, the path of the last section that begins at or before it (() if
    none)."""
    starts = [start for start, _ in sections]
    positions = (bisect_right(starts, offset) for offset in offsets)
    return [sections[position - 1][1] if position else () for position in positions]


def heading_sections(
    headings: Sequence[tuple[int, int, str]], pages: Sequence[str], page_starts: Sequence[int]
) -> Sections:
    """Headings found by their type (page, level, text as on the page) as sections where
    they stand in the cleaned pages, nested by level; one that cannot be found (it sat in
    a table written as rows, or cleaning changed it) is left out."""
    sections: list[tuple[int, SectionPath]] = []
    path: list[str] = []
    searched_to: dict[int, int] = {}
    for page, level, text in headings:
        title = clean_text(text)
        if not (1 <= page <= len(pages) and title):
            continue
        at = pages[page - 1].find(title, searched_to.get(page, 0))
        if at < 0:
            continue
        searched_to[page] = at + len(title)
        path = [*path[: level - 1], *[""] * (level - 1 - len(path)), _heading_name(text)]
        sections.append((page_starts[page - 1] + at, tuple(p for p in path if p)))
    return sections


def _heading_name(text: str) -> str:
    """A heading as one line, with the words the PDF reader split over a line break
    ("PRONOUNCEM\\n \\nENTS") joined again."""
    return one_line(clean_text(_SPLIT_WORD.sub("", text)))
