"""What parsing one file may cost: the parser process's time and memory, and the size of
the document and of the reply it sends back."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from rag.config import DEFAULTS


@dataclass(frozen=True)
class ParseLimits:
    """Bounds for parsing one file: the parser process's time and memory, and how many
    pages and characters a document may have. The defaults are the settings' defaults.

    Text recognition, when on, adds its own time budget to the deadline and may use up to
    `ocr_memory_mb`; ZIP-based formats are checked against the archive limits.
    """

    timeout_s: float = DEFAULTS.parse_timeout_s
    memory_mb: int = DEFAULTS.parse_memory_mb
    max_pages: int = DEFAULTS.max_pages
    max_chars: int = DEFAULTS.max_chars
    ocr: bool = DEFAULTS.ocr
    ocr_page_timeout_s: float = DEFAULTS.ocr_page_timeout_s
    ocr_document_timeout_s: float = DEFAULTS.ocr_document_timeout_s
    ocr_memory_mb: int = DEFAULTS.ocr_memory_mb
    max_unzipped_mb: int = DEFAULTS.max_unzipped_mb
    max_zip_ratio: int = DEFAULTS.max_zip_ratio
    max_sheet_rows: int = DEFAULTS.max_sheet_rows
    max_sheet_cells: int = DEFAULTS.max_sheet_cells
    pdf_tables: bool = DEFAULTS.pdf_tables

    @property
    def deadline_s(self) -> float:
        """The longest a parse may take: the parse timeout, plus the recognition budget
        when there are scanned pages to read."""
        return self.timeout_s + (self.ocr_document_timeout_s if self.ocr else 0.0)

    @property
    def cpu_s(self) -> int:
        """The parser's CPU-time limit: just above the deadline, times the cores that text
        recognition may keep busy at once."""
        cores = (os.cpu_count() or 1) if self.ocr else 1
        return math.ceil(self.deadline_s * cores) + 1

    @property
    def reply_bytes(self) -> int:
        """The most the parser may send back: each character is at most 6 bytes of JSON
        (a control character escaped), as much again for the word boxes of recognised
        text, plus a little per page."""
        return 12 * self.max_chars + 64 * self.max_pages + 65_536

    @property
    def streamed_reply_bytes(self) -> int:
        """The most a parser that streams its pages may send: the pages once more, and a
        list of headings (at most 2,000 of at most 200 characters) per doubling of pages."""
        headings = 2000 * (6 * 200 + 32) * math.ceil(math.log2(max(self.max_pages, 2)))
        return self.reply_bytes + 6 * self.max_chars + 64 * self.max_pages + headings

    def request(self, suffix: str, password: str | None) -> dict:
        """The JSON request the parser process reads first."""
        return {
            "suffix": suffix,
            "password": password,
            "memory_mb": self.memory_mb,
            "cpu_s": self.cpu_s,
            "max_pages": self.max_pages,
            "max_chars": self.max_chars,
            "pdf_tables": self.pdf_tables,
            "ocr": {
                "enabled": self.ocr,
                "page_timeout_s": self.ocr_page_timeout_s,
                "document_timeout_s": self.ocr_document_timeout_s,
                "memory_mb": self.ocr_memory_mb if self.ocr else 0,
            },
            "read": {
                "max_pages": self.max_pages,
                "max_chars": self.max_chars,
                "max_unzipped_mb": self.max_unzipped_mb,
                "max_zip_ratio": self.max_zip_ratio,
                "max_sheet_rows": self.max_sheet_rows,
                "max_sheet_cells": self.max_sheet_cells,
            },
        }
