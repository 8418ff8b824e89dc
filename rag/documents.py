"""Documents and chunks as the engine stores them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum

# Hiragana, katakana, CJK ideographs, Hangul syllables: scripts written without spaces
# between words, which chunking and the word index both treat apart.
CJK_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"


class DocumentStatus(StrEnum):
    """Where a document is in its life; only READY documents are visible to retrieval."""

    PENDING = "pending"  # chunks are being written
    READY = "ready"  # complete in both indexes
    DELETING = "deleting"  # being removed, or replaced by a newer version


@dataclass(frozen=True)
class Chunk:
    """A piece of a document small enough for the embedder, with where it came from."""

    chunk_id: str
    doc_id: str
    index: int
    text: str
    source: str
    page_start: int
    page_end: int
    char_start: int
    char_end: int
    tokens: int
    # "Title › Section": embedded and indexed with the text, never part of it.
    header: str = ""
    # Where it is in its format's terms ("slide 4", "sheet Revenue, rows 2-40"); "" for
    # pages, which the page span says.
    location: str = ""
    # True when some of its text was read from a scanned page by text recognition, with
    # each recognised word's (page, x0, y0, x1, y1) as fractions of the page, top left.
    ocr: bool = False
    boxes: tuple[tuple[int, float, float, float, float], ...] = ()

    def indexed_text(self) -> str:
        """What is embedded and indexed for this chunk: its header, then its text."""
        return with_header(self.header, self.text)

    def metadata(self) -> dict[str, str | int | bool]:
        """The fields stored beside the vector (everything but the id and the text)."""
        data = asdict(self)
        del data["chunk_id"], data["text"]
        data["boxes"] = json.dumps(data["boxes"]) if self.boxes else ""
        return data

    @classmethod
    def from_stored(cls, chunk_id: str, text: str, metadata: dict) -> Chunk:
        """Rebuild a chunk from what a store returned."""
        fields = {name: metadata[name] for name in cls.__dataclass_fields__ if name in metadata}
        boxes = fields.pop("boxes", "")
        fields["boxes"] = tuple(map(tuple, json.loads(boxes))) if boxes else ()
        return cls(chunk_id=chunk_id, text=text, **fields)


@dataclass(frozen=True)
class DocumentRecord:
    """One document of the catalog: its identity, what ingestion found, and its status."""

    doc_id: str
    name: str
    sha256: str
    size_bytes: int
    pages: int
    chunks: int
    added_at: float
    status: DocumentStatus = DocumentStatus.PENDING
    pages_without_text: tuple[int, ...] = field(default=())
    # What its pages are ("page", "slide", "sheet", "chapter", "section"), which of them
    # were read by text recognition, and how many tables were kept as rows.
    unit: str = "page"
    pages_ocr: tuple[int, ...] = field(default=())
    tables: int = 0

    def metadata(self) -> dict[str, str | int | float]:
        """A flat mapping that Chroma can store as record metadata."""
        data = asdict(self)
        data["status"] = self.status.value
        for name in _PAGE_LISTS:
            data[name] = json.dumps(list(data[name]))
        return data

    @classmethod
    def from_metadata(cls, metadata: dict) -> DocumentRecord:
        """The inverse of `metadata()`; records written before a field existed get its
        default."""
        data = {k: v for k, v in metadata.items() if k in cls.__dataclass_fields__}
        data["status"] = DocumentStatus(data["status"])
        for name in _PAGE_LISTS:
            data[name] = tuple(json.loads(data.get(name, "[]")))
        return cls(**data)


_PAGE_LISTS = ("pages_without_text", "pages_ocr")


def with_header(header: str, text: str) -> str:
    """The header, a blank line, then the text; just the text when there is no header."""
    return f"{header}\n\n{text}" if header else text


def chunk_id_for(doc_id: str, index: int) -> str:
    """Chunk ids are derived from the document hash, so the same bytes give the same ids."""
    return f"{doc_id}-{index:05d}"


def doc_id_of(chunk_id: str) -> str:
    """The document a chunk id belongs to (the inverse of `chunk_id_for`)."""
    return chunk_id.rsplit("-", 1)[0]


def page_span(start: int, end: int) -> str:
    """ "3", or "3-4" for a chunk over several pages."""
    return str(start) if start == end else f"{start}-{end}"


def page_label(start: int, end: int) -> str:
    """ "p. 3", or "pp. 3-4" for a chunk over several pages."""
    return ("p. " if start == end else "pp. ") + page_span(start, end)


def page_list(pages: Sequence[int], limit: int) -> str:
    """ "1, 2, 5": the first `limit` page numbers, then how many more there are."""
    shown = ", ".join(map(str, pages[:limit]))
    return shown + (f" and {len(pages) - limit:,} more" if len(pages) > limit else "")


def stitch(chunks: Sequence[Chunk], start: int, end: int) -> str:
    """A document's text from offset `start` to `end` as its chunks (in text order) hold
    it; overlapping chunks give their shared text once, and a stretch that no chunk holds
    is shown as a paragraph break."""
    parts: list[str] = []
    cursor = start
    for chunk in chunks:
        low, high = max(chunk.char_start, cursor), min(chunk.char_end, end)
        if high <= low:
            continue
        if low > cursor and parts:
            parts.append("\n\n")
        parts.append(chunk.text[low - chunk.char_start : high - chunk.char_start])
        cursor = high
    return "".join(parts)
