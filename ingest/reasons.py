"""Reasons given for refused files, shared by the parser process and the pipeline."""

from __future__ import annotations


def too_much_text(limit: int, page: int | None = None, pages: int | None = None) -> str:
    """The reason given for a document with more characters than the limit."""
    where = f" by page {page:,} of {pages:,}" if page is not None else ""
    return (
        f"too much text: more than {limit:,} characters{where}"
        f" (the limit is {limit:,}, RAG_MAX_CHARS)"
    )
