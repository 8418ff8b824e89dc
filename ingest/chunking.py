"""Token-aware chunking that keeps page spans and character offsets.

Tokens are counted with the embedder's own tokenizer, so a chunk never exceeds what the
model reads (all-MiniLM-L6-v2 silently drops everything past 256 word pieces). Cuts fall
at the strongest nearby boundary: a paragraph, then a sentence, then a line, then a word.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from rag.documents import CJK_CHARS, Chunk, chunk_id_for
from rag.providers.embeddings import Embedder

PAGE_SEPARATOR = "\n\n"
_SENTENCE_END = ".!?;:。！？"
# Full stops of Chinese and Japanese end a sentence with no space after them.
_CJK_SENTENCE_END = "。！？"
_CJK_CHAR = re.compile(f"[{CJK_CHARS}]")
# Boundary strengths, strongest last.
_INSIDE_WORD, _WORD, _LINE, _SENTENCE, _PARAGRAPH = range(5)


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
) -> list[Chunk]:
    """Split a document's pages into chunks of at most `size` tokens, `overlap` shared."""
    paged = PagedText.join(pages)
    size = min(size, embedder.max_chunk_tokens)
    offsets = embedder.token_offsets(paged.text)
    if not offsets:
        return []
    strengths = _boundary_strengths(paged.text, offsets)
    windows = _windows(strengths, size, min(overlap, size // 2))
    windows = _fit_to_model(paged.text, offsets, windows, embedder)
    return [
        _make_chunk(paged, offsets, start, end, index, doc_id, source)
        for index, (start, end) in enumerate(windows)
    ]


def _fit_to_model(text, offsets, windows, embedder: Embedder) -> list[tuple[int, int]]:
    """Shorten any window whose text, tokenised on its own, exceeds the model's input.

    A cut inside a very long word (a URL, a hash) can re-tokenise into more pieces than
    were counted; this check makes the limit hold whatever the text.
    """
    fitted = list(windows)
    for _ in range(8):
        texts = [text[offsets[s][0] : offsets[e - 1][1]] for s, e in fitted]
        counts = embedder.count_tokens(texts)
        over = [i for i, n in enumerate(counts) if n > embedder.identity.max_tokens]
        if not over:
            return fitted
        for i in over:
            start, end = fitted[i]
            fitted[i] = (start, max(start + 1, end - (counts[i] - embedder.identity.max_tokens)))
    return fitted


def _make_chunk(paged, offsets, start, end, index, doc_id, source) -> Chunk:
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
