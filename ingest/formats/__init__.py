"""Readers of Word, PowerPoint, Excel, CSV, HTML, EPUB and OpenDocument files.

Each reader module has `read(data, limits) -> Extracted` and imports its library alone;
a module is imported only when a file of its kind is read.
"""

from __future__ import annotations

from importlib import import_module

from ingest.formats.extracted import Extracted, ReadLimits
from ingest.reasons import too_much_text
from rag.errors import IngestError

_READERS = {
    ".docx": "docx",
    ".pptx": "pptx",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".csv": "csv",
    ".html": "html",
    ".htm": "html",
    ".epub": "epub",
    ".odt": "odt",
}
SUFFIXES = tuple(_READERS)


def read_document(suffix: str, data: bytes, limits: ReadLimits) -> Extracted:
    """The document's text by its file suffix; IngestError with the reason if refused."""
    module = _READERS.get(suffix.lower())
    if module is None:
        raise IngestError(f"unsupported file type {suffix or '(none)'}")
    extracted = import_module(f"ingest.formats.{module}").read(data, limits)
    if len(extracted.pages) > limits.max_pages:
        raise IngestError(
            f"too many {extracted.unit}s: {len(extracted.pages):,}"
            f" (the limit is {limits.max_pages:,}, RAG_MAX_PAGES)"
        )
    if sum(len(page) for page in extracted.pages) > limits.max_chars:
        raise IngestError(too_much_text(limits.max_chars))
    return extracted
