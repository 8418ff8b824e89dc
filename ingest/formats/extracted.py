"""What a format reader gives back: a document's text in pages, ready for the JSON reply.

Every reader writes the same light Markdown, so that chunking, headers and tables work
alike for every format: a heading is a line `# Title` (`##`, `###` … by level), a list item
`- item`, a table a block of rows `| a | b |` whose first row is its header, followed by
`| --- | --- |`. A "page" is the format's own unit: a slide, a sheet, a chapter, or the
whole document where the format has no pages.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from rag.config import DEFAULTS

# The unit a document is cut into, which citations name: "slide 4", "chapter 3", ...
UNITS = ("page", "slide", "sheet", "chapter", "section")


@dataclass(frozen=True)
class ReadLimits:
    """Bounds for reading one document besides the process's time and memory.

    ZIP-based formats are checked before anything is extracted: the total size the
    members declare, and how many times larger than the archive they are.
    """

    max_pages: int = DEFAULTS.max_pages
    max_chars: int = DEFAULTS.max_chars
    max_unzipped_mb: int = DEFAULTS.max_unzipped_mb
    max_zip_ratio: int = DEFAULTS.max_zip_ratio
    max_zip_members: int = 10_000
    max_sheet_rows: int = DEFAULTS.max_sheet_rows
    max_sheet_cells: int = DEFAULTS.max_sheet_cells


@dataclass(frozen=True)
class Extracted:
    """A read document. `pages[n - 1]` is page (slide, sheet, chapter) n.

    `page_names` names each page where the format does (a sheet's name, a chapter's title),
    else is empty. `row_numbers`, for sheets only, gives for each page the sheet row
    number of each of its text lines, in order. `tables` counts the tables written as rows.
    """

    pages: tuple[str, ...]
    unit: str = "page"
    title: str = ""
    page_names: tuple[str, ...] = ()
    tables: int = 0
    row_numbers: tuple[tuple[int, ...], ...] = field(default=())

    def as_reply(self) -> dict:
        """The JSON-ready form the parser process sends back."""
        return asdict(self)
