"""Where each chunk is, in its format's own terms, and what text recognition adds to it.

A citation names a PDF's pages ("p. 3"), a presentation's slides ("slide 4"), a workbook's
sheet and rows ("sheet Revenue, rows 2-40"), a book's chapters ("chapter 3") or a
document's section ("section Risk factors"). Chunks of scanned pages carry the boxes of
their words, so that a cited passage can be shown on the page.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import replace

from ingest.chunking import PagedText
from ingest.headers import Sections, sections_at
from ingest.parsing import ParsedFile
from rag.documents import Chunk, page_span

PAGE_UNITS = {"slide": ("slide", "slides"), "chapter": ("chapter", "chapters")}
# Units cited one at a time: a chunk never spans two of them.
PAGES_APART = ("slide", "sheet", "chapter")


def locate(
    chunks: Sequence[Chunk], parsed: ParsedFile, pages: Sequence[str], sections: Sections
) -> list[Chunk]:
    """The chunks with their location, and for scanned pages their OCR mark and boxes."""
    paths = sections_at(sections, [chunk.char_start for chunk in chunks])
    starts = PagedText.join(pages).page_starts
    words = _word_offsets(parsed.ocr_words, pages, starts)
    return [
        replace(
            chunk,
            location=_location(chunk, parsed, pages, starts, path),
            ocr=any(p in parsed.ocr_pages for p in range(chunk.page_start, chunk.page_end + 1)),
            boxes=_boxes_within(words, chunk.char_start, chunk.char_end),
        )
        for chunk, path in zip(chunks, paths, strict=True)
    ]


def _location(chunk, parsed: ParsedFile, pages, starts, path: tuple[str, ...]) -> str:
    unit = parsed.unit
    if unit in PAGE_UNITS:
        one, many = PAGE_UNITS[unit]
        single = chunk.page_start == chunk.page_end
        return f"{one if single else many} {page_span(chunk.page_start, chunk.page_end)}"
    if unit == "sheet":
        return _sheet_location(chunk, parsed, pages, starts)
    if unit == "section":
        return f"section {path[-1]}" if path else "opening section"
    return ""


def _sheet_location(chunk, parsed: ParsedFile, pages, starts) -> str:
    names = parsed.page_names
    first, last = chunk.page_start, chunk.page_end
    if first != last:
        return f"sheets {_name(names, first)} to {_name(names, last)}"
    rows = _rows(parsed.row_numbers, pages, starts, first, chunk.char_start, chunk.char_end)
    sheet = _name(names, first)
    where = f"sheet {sheet}, " if sheet else ""
    return where + (f"rows {rows[0]}-{rows[1]}" if rows[0] != rows[1] else f"row {rows[0]}")


def _name(names: Sequence[str], page: int) -> str:
    return names[page - 1] if page <= len(names) else str(page)


def _rows(row_numbers, pages, starts, page: int, start: int, end: int) -> tuple[int, int]:
    """The sheet rows of the first and last text lines a chunk covers."""
    text, offset = pages[page - 1], starts[page - 1]
    numbers = row_numbers[page - 1] if page <= len(row_numbers) else ()
    lines = (text.count("\n", 0, start - offset), text.count("\n", 0, end - 1 - offset))
    if not numbers:
        return lines[0] + 1, lines[1] + 1
    return tuple(numbers[min(line, len(numbers) - 1)] for line in lines)


def _word_offsets(ocr_words, pages, starts) -> list[tuple[int, tuple]]:
    """(offset in the joined text, (page, x0, y0, x1, y1)) of each recognised word found in
    the cleaned pages, in order; a word that cleaning changed beyond finding is left out."""
    found = []
    for page, words in sorted(ocr_words.items()):
        if not 1 <= page <= len(pages):
            continue
        text, cursor = pages[page - 1], 0
        for word, *box in words:
            at = text.find(str(word), cursor)
            if at >= 0:
                found.append((starts[page - 1] + at, (page, *box)))
                cursor = at + len(str(word))
    return found


def _boxes_within(words: list[tuple[int, tuple]], start: int, end: int) -> tuple:
    offsets = [offset for offset, _ in words]
    low, high = bisect_right(offsets, start - 1), bisect_right(offsets, end - 1)
    return tuple(box for _, box in words[low:high])
