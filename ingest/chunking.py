"""Token-aware chunking that keeps page spans and character offsets.

Tokens are counted with the embedder's own tokenizer, so a chunk never exceeds what the
model reads (all-MiniLM-L6-v2 silently drops everything past 256 word pieces). Cuts fall
at the strongest nearby boundary: a paragraph, then a sentence, then a line, then a word.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import PurePath

from ingest.headers import (
    SectionPath,
    Sections,
    heading_sections,
    make_header,
    markdown_sections,
    page_sections,
    sections_at,
)
from ingest.tables import Table, find_tables, header_row_at
from rag.documents import CJK_CHARS, Chunk, chunk_id_for, with_header
from rag.providers.embeddings import Embedder

PAGE_SEPARATOR = "\n\n"
_SENTENCE_END = ".!?;:。！？"
# Full stops of Chinese and Japanese end a sentence with no space after them.
_CJK_SENTENCE_END = "。！？"
_CJK_CHAR = re.compile(f"[{CJK_CHARS}]")
# Boundary strengths, strongest last.
_INSIDE_WORD, _WORD, _LINE, _SENTENCE, _PARAGRAPH = range(5)
# At most this share of the embedder's input goes to a chunk's header.
_HEADER_SHARE = 4
_MARKDOWN_SUFFIXES = (".md", ".markdown")


@dataclass(frozen=True)
class PagedText:
    """The pages of a document joined into one text, with where each page begins."""

    text: str
    page_starts: tuple[int, ...]

    @classmethod
    def join(cls, pages: Sequence[str]) -> PagedText:
        """Join page texts with a blank line between pages."""
        starts, offset = [], 0
        for page in pages:
            starts.append(offset)
            offset += len(page) + len(PAGE_SEPARATOR)
        return cls(PAGE_SEPARATOR.join(pages), tuple(starts))

    def page_at(self, offset: int) -> int:
        """The 1-based page that holds the character at `offset`."""
        return max(1, bisect_right(self.page_starts, offset))


def chunk_pages(
    pages: Sequence[str],
    *,
    doc_id: str,
    source: str,
    embedder: Embedder,
    size: int,
    overlap: int,
    title: str = "",
    sections: Sections = (),
    pages_apart: bool = False,
) -> list[Chunk]:
    """Split a document's pages into chunks of at most `size` tokens, `overlap` shared.

    Each chunk's header is the title and the path of the section (offsets into the pages
    joined by `PagedText`) it starts in, and the header row of the table it starts in;
    header and text together fit the model's input. Chunks begin and end between table
    rows unless a single row is longer than a chunk. With `pages_apart`, no chunk spans two
    pages (slides, sheets and chapters are cited one at a time).
    """
    paged = PagedText.join(pages)
    offsets = embedder.token_offsets(paged.text)
    if not offsets:
        return []
    tables = find_tables(paged.text)
    headers = _Headers(title, sections, tables, embedder)
    size = min(size, embedder.max_chunk_tokens - headers.most_tokens())
    strengths = _keep_rows_whole(
        _boundary_strengths(paged.text, offsets), paged.text, offsets, tables
    )
    segments = _segments(offsets, paged.page_starts if pages_apart else ())
    windows = _segment_windows(strengths, segments, size, min(overlap, size // 2))
    window_headers = headers.at([offsets[start][0] for start, _ in windows])
    windows = _fit_to_model(paged.text, offsets, windows, window_headers, embedder)
    return [
        _make_chunk(paged, offsets, window, index, doc_id, source, header)
        for index, (window, header) in enumerate(zip(windows, window_headers, strict=True))
    ]


def document_sections(
    name: str,
    pages: Sequence[str],
    outline: Sequence[tuple[int, SectionPath]],
    unit: str = "page",
    headings: Sequence[tuple[int, int, str]] = (),
) -> Sections:
    """Where each section of a document begins in its joined pages: from the `#` headings
    of a Markdown file or of any format but PDF (their readers write headings so), else
    from the outline's (page, path) entries, else from the headings its type sets apart."""
    if PurePath(name).suffix.lower() in _MARKDOWN_SUFFIXES or unit != "page":
        return markdown_sections(PAGE_SEPARATOR.join(pages))
    starts = PagedText.join(pages).page_starts
    if outline or not headings:
        return page_sections(outline, starts)
    return heading_sections(headings, pages, starts)


class _Headers:
    """The headers of one document's chunks, each within its share of the model's input."""

    def __init__(
        self, title: str, sections: Sections, tables: Sequence[Table], embedder: Embedder
    ) -> None:
        self._sections = sections
        self._tables = tables
        self._embedder = embedder
        self._budget = embedder.max_chunk_tokens // _HEADER_SHARE
        paths = {(), *(path for _, path in sections)}
        self._by_path = {path: self._fit(make_header(title, path)) for path in paths}

    def most_tokens(self) -> int:
        """The tokens of the longest header (a table's header row may take its whole
        share)."""
        if any(table.header for table in self._tables):
            return self._budget
        return max(len(self._embedder.token_offsets(h)) for h in self._by_path.values())

    def at(self, char_offsets: Sequence[int]) -> list[str]:
        """The header of a chunk starting at each offset."""
        paths = sections_at(self._sections, char_offsets)
        return [
            self._with_row(self._by_path[path], header_row_at(self._tables, offset))
            for path, offset in zip(paths, char_offsets, strict=True)
        ]

    def _with_row(self, header: str, row: str) -> str:
        return self._fit(f"{header}\n{row}" if header else row) if row else header

    def _fit(self, header: str) -> str:
        # Characters are capped already; a script of one token a character needs this too.
        offsets = self._embedder.token_offsets(header)
        if len(offsets) <= self._budget:
            return header
        return header[: offsets[self._budget - 1][1]] if self._budget else ""


def _fit_to_model(text, offsets, windows, headers, embedder: Embedder) -> list[tuple[int, int]]:
    """Shorten any window whose embedded text (header and chunk text), tokenised on its
    own, exceeds the model's input.

    A cut inside a very long word (a URL, a hash) can re-tokenise into more pieces than
    were counted; this check makes the limit hold whatever the text.
    """
    fitted = list(windows)
    limit = embedder.identity.max_tokens
    for _ in range(8):
        texts = [
            with_header(header, text[offsets[s][0] : offsets[e - 1][1]])
            for (s, e), header in zip(fitted, headers, strict=True)
        ]
        counts = embedder.count_tokens(texts)
        over = [i for i, n in enumerate(counts) if n > limit]
        if not over:
            return fitted
        for i in over:
            start, end = fitted[i]
            fitted[i] = (start, max(start + 1, end - (counts[i] - limit)))
    return fitted


def _make_chunk(paged, offsets, window, index, doc_id, source, header) -> Chunk:
    start, end = window
    char_start, char_end = offsets[start][0], offsets[end - 1][1]
    return Chunk(
        chunk_id=chunk_id_for(doc_id, index),
        doc_id=doc_id,
        index=index,
        text=paged.text[char_start:char_end],
        source=source,
        page_start=paged.page_at(char_start),
        page_end=paged.page_at(char_end - 1),
        char_start=char_start,
        char_end=char_end,
        tokens=end - start,
        header=header,
    )


def _boundary_strengths(text: str, offsets: Sequence[tuple[int, int]]) -> list[int]:
    """How good a place the start of each token is to begin a chunk."""
    strengths = [_PARAGRAPH]
    for (_, prev_end), (start, _) in pairwise(offsets):
        gap = text[prev_end:start]
        if "\n\n" in gap:
            strengths.append(_PARAGRAPH)
        elif text[prev_end - 1] in _CJK_SENTENCE_END or (
            text[prev_end - 1] in _SENTENCE_END and (gap or not text[start].isalnum())
        ):
            strengths.append(_SENTENCE)
        elif "\n" in gap:
            strengths.append(_LINE)
        elif gap or not (_joins(text[prev_end - 1]) and _joins(text[start])):
            # A gap, punctuation or a CJK character on either side: re-tokenising from here
            # gives the same tokens. Inside a word ("##" word pieces) it would not.
            strengths.append(_WORD)
        else:
            strengths.append(_INSIDE_WORD)
    return strengths


def _segments(offsets: Sequence[tuple[int, int]], starts: Sequence[int]) -> list[tuple[int, int]]:
    """Token ranges [first, last) that begin at each of `starts` (character offsets); the
    whole text when none are given."""
    token_starts = [start for start, _ in offsets]
    cuts = sorted({0, *(bisect_left(token_starts, start) for start in starts[1:])})
    return [(a, b) for a, b in pairwise([*cuts, len(offsets)]) if a < b]


def _segment_windows(strengths, segments, size: int, overlap: int) -> list[tuple[int, int]]:
    """The windows of each segment of tokens, as token ranges of the whole text."""
    return [
        (first + start, first + end)
        for first, last in segments
        for start, end in _windows(strengths[first:last], size, overlap)
    ]


def _keep_rows_whole(
    strengths: list[int], text: str, offsets: Sequence[tuple[int, int]], tables: Sequence[Table]
) -> list[int]:
    """Inside a table, only the start of a row is a good place to cut: it ranks as a
    sentence, and any place within a row as a cut inside a word."""
    remaining = iter(tables)
    table = next(remaining, None)
    for index, (start, _) in enumerate(offsets):
        while table is not None and start > table.end:
            table = next(remaining, None)
        if table is None:
            break
        if start < table.start:
            continue
        at_row_start = text[start - 1] == "\n" if start else True
        strengths[index] = max(strengths[index], _SENTENCE) if at_row_start else _INSIDE_WORD
    return strengths


def _joins(char: str) -> bool:
    """True for characters that glue into one word with their neighbours (not CJK)."""
    return char.isalnum() and not _CJK_CHAR.match(char)


def _windows(strengths: Sequence[int], size: int, overlap: int) -> list[tuple[int, int]]:
    """Token ranges [start, end) covering every token, each at most `size` long."""
    total, windows, start = len(strengths), [], 0
    while start < total:
        end = min(start + size, total)
        if end < total:
            end = _best_cut(strengths, start + size // 2, end)
        windows.append((start, end))
        if end == total:
            break
        start = max(_overlap_start(strengths, end - overlap, end), start + 1)
    return windows


def _best_cut(strengths: Sequence[int], low: int, high: int) -> int:
    """The latest position of the strongest boundary in (low, high]."""
    return max(range(low + 1, high + 1), key=lambda i: (strengths[i], i))


def _overlap_start(strengths: Sequence[int], low: int, end: int) -> int:
    """Where the next chunk begins: the earliest strongest boundary in [low, end)."""
    candidates = [i for i in range(max(low, 0), end) if strengths[i] >= _WORD]
    if not candidates:
        return end
    return max(candidates, key=lambda i: (strengths[i], -i))
