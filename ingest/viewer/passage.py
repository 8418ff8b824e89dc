"""A passage in the text of its unit, for formats without pages to draw: the chunks of
the unit (slide, sheet, chapter, section or page) stitched back together by their offsets
in the document's text, overlaps said once, and the passage set apart from its context."""

from __future__ import annotations

from collections.abc import Sequence

from rag.documents import Chunk, page_label, stitch

# Context shown on each side of the passage: a few screens, not a whole book.
CONTEXT_CHARS = 3000
CUT = "…"


def unit_chunks(chunk: Chunk, chunks: Sequence[Chunk]) -> list[Chunk]:
    """The chunks whose pages overlap the chunk's, in text order, the chunk among them."""
    overlapping = {
        other.chunk_id: other
        for other in chunks
        if other.page_start <= chunk.page_end and other.page_end >= chunk.page_start
    }
    overlapping[chunk.chunk_id] = chunk
    return sorted(overlapping.values(), key=lambda c: (c.char_start, c.char_end))


def passage_in_context(
    chunk: Chunk, chunks: Sequence[Chunk], context: int = CONTEXT_CHARS
) -> tuple[str, str, str]:
    """(text before, the passage, text after) within the chunk's unit, each side cut to
    about `context` characters at a space."""
    unit = unit_chunks(chunk, chunks)
    before = stitch(unit, unit[0].char_start, chunk.char_start)
    after = stitch(unit, chunk.char_end, unit[-1].char_end)
    return _tail(before, context), chunk.text, _head(after, context)


def unit_title(chunk: Chunk) -> str:
    """Where the passage is, as citations name it: "slide 4", "sheet Revenue, rows 2-40",
    "chapter 3", "section Risk factors", or the pages ("p. 3")."""
    return chunk.location or page_label(chunk.page_start, chunk.page_end)


def _tail(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    kept = text[-limit:]
    space = kept.find(" ")
    return CUT + (kept[space + 1 :] if 0 <= space < limit // 10 else kept)


def _head(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    kept = text[:limit]
    space = kept.rfind(" ")
    return (kept[:space] if space > limit - limit // 10 else kept) + CUT
