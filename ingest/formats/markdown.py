"""The light Markdown every reader writes: headings, list items and tables as rows.

Pure helpers at the top; `SheetText` below turns the rows of a sheet or a CSV file into one
table, with the sheet row number of each line, and holds them to the row, cell and text
limits as it goes, so that a huge sheet is refused before it is all in memory.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ingest.formats.extracted import ReadLimits
from ingest.reasons import too_much_text
from rag.errors import IngestError

_SPACES = re.compile(r"\s+")
MAX_HEADING_LEVEL = 6
# Deeper lists are indented no further: a hostile file must not buy pages of spaces.
MAX_LIST_DEPTH = 8


def one_line(text: str) -> str:
    """Text with every run of whitespace, line breaks included, made one space."""
    return _SPACES.sub(" ", text).strip()


def escape_cell(text: str) -> str:
    """A table cell's text on one line, its `|` escaped so that it cannot split the row."""
    return one_line(text).replace("\\", "\\\\").replace("|", "\\|")


def heading(text: str, level: int) -> str:
    """`# text` with one `#` per level (1 to 6); "" when the text is empty."""
    words = one_line(text)
    if not words:
        return ""
    return "#" * min(max(level, 1), MAX_HEADING_LEVEL) + " " + words


def list_marker(depth: int = 0) -> str:
    """`- ` indented two spaces per level of nesting (0 is the outermost list)."""
    return "  " * min(max(depth, 0), MAX_LIST_DEPTH) + "- "


def list_item(text: str, depth: int = 0) -> str:
    """`- text`, indented two spaces per level of nesting; "" when the text is empty."""
    words = one_line(text)
    return list_marker(depth) + words if words else ""


def row_line(cells: Sequence[str]) -> str:
    """One table row: `| a | b |`, each cell escaped, an empty cell left blank."""
    return "|" + "|".join(f" {escape_cell(cell)} " if cell else " " for cell in cells) + "|"


def separator(columns: int) -> str:
    """The line under a table's header row: `| --- | --- |`."""
    return "|" + "|".join([" --- "] * max(columns, 1)) + "|"


def trim_row(cells: Sequence[str]) -> list[str]:
    """The row without its trailing empty cells (a row of empty cells becomes [])."""
    trimmed = [one_line(cell) for cell in cells]
    while trimmed and not trimmed[-1]:
        trimmed.pop()
    return trimmed


def table_lines(rows: Sequence[Sequence[str]]) -> list[str]:
    """A table's lines: the first non-empty row as the header, the separator, the rest.

    Rows with no text are left out; a table with no text gives no lines.
    """
    kept = [row for row in (trim_row(cells) for cells in rows) if row]
    if not kept:
        return []
    # Rows are not padded to the widest: one wide row must not widen thousands of others.
    return [row_line(kept[0]), separator(len(kept[0])), *(row_line(row) for row in kept[1:])]


def join_blocks(blocks: Sequence[str]) -> str:
    """Blocks of text separated by blank lines, empty blocks left out."""
    return "\n\n".join(block for block in blocks if block.strip())


def join_kinds(blocks: Sequence[tuple[str, str]]) -> str:
    """(kind, text) blocks separated by blank lines, but a list's items ("item") one per
    line; empty blocks left out."""
    out: list[str] = []
    previous = ""
    for kind, text in blocks:
        if not text.strip():
            continue
        if out:
            out.append("\n" if kind == previous == "item" else "\n\n")
        out.append(text)
        previous = kind
    return "".join(out)


class SheetText:
    """The rows of one sheet as a table: each non-empty row one line, the first the header.

    `row_numbers` gives the sheet row of each line (the separator takes the header's).
    Past `max_sheet_rows` rows with data, `max_sheet_cells` cells, or the characters still
    allowed (`chars_left`), adding a row raises IngestError with the reason. A row's cells
    are all it spans in the file, empty ones included: they cost reading time all the same.
    """

    def __init__(self, name: str, limits: ReadLimits, chars_left: int) -> None:
        self.name = name
        self.limits = limits
        self.chars_left = chars_left
        self.lines: list[str] = []
        self.row_numbers: list[int] = []
        self.rows = 0
        self.cells = 0

    def count_cells(self, cells: int) -> None:
        """Count a row's cells against the limit before its values are converted."""
        self.cells += cells
        if self.cells > self.limits.max_sheet_cells:
            limit = self.limits.max_sheet_cells
            raise IngestError(
                f"{self._where()} has more than {limit:,} cells"
                f" (the limit is {limit:,}, RAG_MAX_SHEET_CELLS)"
            )

    def add(self, number: int, cells: Sequence[str]) -> None:
        """Add the sheet's row `number` (1-based), whose cells were counted; a row with no
        text is skipped."""
        row = trim_row(cells)
        if not row:
            return
        self.rows += 1
        if self.rows > self.limits.max_sheet_rows:
            limit = self.limits.max_sheet_rows
            raise IngestError(
                f"{self._where()} has more than {limit:,} rows with data"
                f" (the limit is {limit:,}, RAG_MAX_SHEET_ROWS)"
            )
        line = row_line(row)
        self.lines.append(line)
        self.row_numbers.append(number)
        if len(self.lines) == 1:
            self.lines.append(separator(len(row)))
            self.row_numbers.append(number)
        self.chars_left -= len(line) + 1
        if self.chars_left < 0:
            raise IngestError(too_much_text(self.limits.max_chars))

    def text(self) -> str:
        """The sheet's lines, one per row with data."""
        return "\n".join(self.lines)

    def _where(self) -> str:
        return f'the sheet "{self.name}"' if self.name else "the file"
