"""Tables written as Markdown rows (`| a | b |`): where they are in a document's text, so
that chunks end between rows and a chunk that starts inside a table repeats its header.

Every reader writes a table the same way: its header row, the separator `| --- | --- |`,
then one line per row.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

_ROW = re.compile(r"^\|.*\|$")
_SEPARATOR = re.compile(r"^\|(?:\s*:?-{3,}:?\s*\|)+$")
# A header row longer than this is cut: it is repeated on every chunk of its table.
MAX_HEADER_ROW_CHARS = 300


@dataclass(frozen=True)
class Table:
    """A block of rows: where it begins and ends, where its body (after the separator)
    begins, and its header row with the separator ("" when it has none)."""

    start: int
    end: int
    body_start: int
    header: str


def find_tables(text: str) -> list[Table]:
    """Every block of two or more consecutive table rows, in order."""
    tables: list[Table] = []
    lines, offset = [], 0
    for line in [*text.split("\n"), ""]:
        if _ROW.match(line):
            lines.append((offset, line))
        else:
            if len(lines) >= 2:
                tables.append(_table(lines))
            lines = []
        offset += len(line) + 1
    return tables


def _table(lines: list[tuple[int, str]]) -> Table:
    (start, first), (_, second) = lines[0], lines[1]
    end = lines[-1][0] + len(lines[-1][1])
    if not _SEPARATOR.match(second):
        return Table(start, end, start, "")
    body = lines[2][0] if len(lines) > 2 else end
    header = f"{first[:MAX_HEADER_ROW_CHARS]}\n{second[:MAX_HEADER_ROW_CHARS]}"
    return Table(start, end, body, header)


def header_row_at(tables: Sequence[Table], offset: int) -> str:
    """The header rows to repeat for a chunk starting at `offset`: those of the table
    whose body it starts in ("" outside a table body, or at its first row's header)."""
    position = bisect_right([t.start for t in tables], offset) - 1
    if position < 0:
        return ""
    table = tables[position]
    return table.header if table.body_start <= offset < table.end and table.header else ""
