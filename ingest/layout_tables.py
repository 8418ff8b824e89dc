"""Tables found in a page laid out as text, written as Markdown rows into its plain text.

In pypdf's layout mode a table's cells line up in columns of characters. A table here is a
run of lines ending in values (numbers, dashes) that stand in the same columns, label lines
between them, and the header lines above that stand over those columns ("December 31,",
"2023"). `splice_tables` finds the cells in order in the page's plain text and writes the
table there as `ingest.tables` expects; text outside tables is left exactly as it was.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

# Numbers as statements print them: 1,234  (1,234)  $(38.5)  12.5%  -3  and "—" for none.
_VALUE = re.compile(
    r"^[(\-–—+]?[$€£]?\s?\(?[-–]?\d[\d,]*(?:\.\d+)?\)?\s?%?\)?\*?$|^[—–-]{1,3}$|^n/?[am]$",
    re.IGNORECASE,
)
_YEAR = re.compile(r"^(?:fy\s?)?(?:19|20)\d\d$", re.IGNORECASE)
_CURRENCY = frozenset("$€£")
_CELL = re.compile(r"\S+(?: \S+)*")  # a cell: text with no run of two spaces inside
_NUMBER = re.compile(r"(?<![\w.,])\(?\$?\d[\d,]*(?:\.\d+)?\)?%?(?!\w)")
_SPACES = str.maketrans({"\xa0": " ", "\u2007": " ", "\u2009": " ", "\u202f": " "})
MIN_ROWS, MIN_COLUMN_ROWS = 3, 2  # rows of values in a table, in a column (else: stray)
MAX_GAP_LINES, MAX_COLUMNS = 3, 12  # label lines in a row between two rows of values
MAX_HEADER_LINES, MAX_HEADER_CELL_CHARS, HEADER_SLACK = 3, 40, 2
MAX_LAYOUT_CHARS = 400_000  # a page laid out wider than this is not read for tables
MIN_NUMBERS = 16  # numbers in a page's plain text before its layout is worth reading
MIN_FOUND = 0.85  # share of a table's cells, and of the text it replaces, found in order
NEAR = 12  # characters between two cells that follow each other in the plain text
MAX_STARTS, MAX_START_CELLS = 8, 40  # where a table may begin in the plain text
_MARKS = re.compile(r"\((?:[a-z]|\d{1,2})\)")  # footnote marks: "(a)", "(3)"

Cell = tuple[int, int, str]  # first and last-plus-one character column, text
Span = tuple[int, int]


@dataclass(frozen=True)
class LayoutTable:
    """A table: its header row (() when none stands above it), its rows (label, then one
    value per column), and its cells' texts as laid out, to find them in the plain text."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    cells: tuple[str, ...]


def markdown(table: LayoutTable) -> str:
    """The table as Markdown rows: header row and separator (when it has a header), rows."""
    head = [table.header, tuple("---" for _ in table.header)] if table.header else []
    return "\n".join(
        "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
        for row in [*head, *table.rows]
    )


def looks_tabular(text: str) -> bool:
    """Whether a page's plain text holds enough numbers for a table to be worth looking for."""
    return len(_NUMBER.findall(text)) >= MIN_NUMBERS


def find_layout_tables(layout: str) -> list[LayoutTable]:
    """The tables of a page laid out as text, top to bottom."""
    text = layout.translate(_SPACES) if len(layout) <= MAX_LAYOUT_CHARS else ""
    lines = [_cells(line) for line in text.split("\n")]
    found = (_build(lines, *part) for span in _regions(lines) for part in _parts(lines, *span))
    return [table for table in found if table is not None]


def _cells(line: str) -> list[Cell]:
    return [(match.start(), match.end(), match.group()) for match in _CELL.finditer(line)]


def _is_value(text: str) -> bool:
    return _VALUE.match(text) is not None


def _is_row(cells: list[Cell]) -> bool:
    """A row of values: label cells, then only values and currency signs, one of them at
    least no year (a line of years is a header), and not a lone number (a page number)."""
    first = next((i for i, c in enumerate(cells) if _is_value(c[2]) or c[2] in _CURRENCY), None)
    if first is None:
        return False
    values = [c[2] for c in cells[first:] if c[2] not in _CURRENCY]
    alone = first == 0 and len(values) < 2
    numbers = any(not _YEAR.match(value) for value in values)
    return not alone and numbers and all(_is_value(value) for value in values)


def _regions(lines: list[list[Cell]]) -> list[Span]:
    """[first, last] line of each run of rows of values, with a few other lines between."""
    found: list[Span] = []
    first, last, gap = -1, -1, 0
    for number, cells in enumerate([*lines, []]):
        if cells and _is_row(cells):
            first, last, gap = (number if first < 0 else first), number, 0
            continue
        gap += bool(cells)
        if first >= 0 and (gap > MAX_GAP_LINES or number == len(lines)):
            found.append((first, last))
            first, gap = -1, 0
    return found


def _parts(lines: list[list[Cell]], first: int, last: int) -> list[Span]:
    """The region cut at lines whose text runs into the columns: prose, not labels."""
    columns = _columns([c for c in lines[first : last + 1] if c and _is_row(c)])
    if not columns:
        return []
    parts, start = [], first
    for number in range(first, last + 1):
        cells = lines[number]
        if cells and not _is_row(cells) and not _left_of(cells, columns):
            parts.append((start, number - 1))
            start = number + 1
    return [*parts, (start, last)]


def _value_spans(cells: list[Cell]) -> list[Span]:
    """Where each value of a row lies, from its currency sign when it has one."""
    spans, sign = [], None
    for start, end, text in cells:
        if text in _CURRENCY:
            sign = start
        elif _is_value(text):
            spans.append((start if sign is None else sign, end))
            sign = None
    return spans


def _columns(rows: list[list[Cell]]) -> list[Span]:
    """The columns of values: overlapping value spans merged, those of one row dropped."""
    merged: list[list[int]] = []
    for start, end in sorted(span for cells in rows for span in _value_spans(cells)):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            merged[-1][2] += 1
        else:
            merged.append([start, end, 1])
    return [(start, end) for start, end, rows in merged if rows >= MIN_COLUMN_ROWS]


def _hits(cell: Cell, columns: Sequence[Span], slack: int = 0) -> list[int]:
    return [i for i, (a, b) in enumerate(columns) if cell[0] < b + slack and cell[1] > a - slack]


def _left_of(cells: list[Cell], columns: Sequence[Span]) -> bool:
    return all(cell[1] <= columns[0][0] for cell in cells)


def _is_header_line(cells: list[Cell], columns: Sequence[Span]) -> bool:
    """Short texts or years over the columns: "December 31,", "2023", "Consolidated"."""
    over = [cell for cell in cells if cell[1] > columns[0][0]]
    return bool(over) and all(
        _hits(cell, columns, HEADER_SLACK)
        and len(cell[2]) <= MAX_HEADER_CELL_CHARS
        and (not _is_value(cell[2]) or _YEAR.match(cell[2]))
        for cell in over
    )


def _header_above(lines: list[list[Cell]], first: int, columns: Sequence[Span]) -> Span:
    """[start, end) of the header lines above the table's first row of values; label lines
    between them ("Assets", "Current assets") belong to the table."""
    number, labels = first - 1, 0
    while number >= 0 and not _is_header_line(lines[number], columns):
        labels += bool(lines[number])
        if labels > MAX_GAP_LINES or not _left_of(lines[number], columns):
            return first, first
        number -= 1
    start = number
    while start > 0 and number - start < MAX_HEADER_LINES - 1:
        if not _is_header_line(lines[start - 1], columns):
            break
        start -= 1
    return (start, number + 1) if number >= 0 else (first, first)


def _build(lines: list[list[Cell]], first: int, last: int) -> LayoutTable | None:
    rows = [cells for cells in lines[first : last + 1] if cells and _is_row(cells)]
    columns = _columns(rows)
    if len(rows) < MIN_ROWS or not columns or len(columns) > MAX_COLUMNS:
        return None
    start, end = _header_above(lines, first, columns)
    head = [cells for cells in lines[start:end] if cells]
    body = [cells for cells in lines[end if head else first : last + 1] if cells]
    table = LayoutTable(
        header=_header_row(head, columns) if head else (),
        rows=tuple(_row(cells, columns) for cells in body),
        cells=tuple(cell[2] for cells in [*head, *body] for cell in cells),
    )
    # One column of numbers and no header is mostly prose ending in numbers.
    if (len(columns) < 2 and not head) or _numbers_lines(table):
        return None
    return table


def _numbers_lines(table: LayoutTable) -> bool:
    """Whether a column counts 1, 2, 3...: the line numbers in a proof's margin."""
    for values in zip(*(row[1:] for row in table.rows), strict=True):
        counted = [int(value) if value.isdigit() else -2 for value in values if value]
        if len(counted) >= MIN_ROWS and all(b == a + 1 for a, b in pairwise(counted)):
            return True
    return False


def _row(cells: list[Cell], columns: Sequence[Span]) -> tuple[str, ...]:
    """(label, value per column): each value in the column it stands in, with its sign."""
    label, values, sign = [], [""] * len(columns), ""
    for cell in cells:
        hits = _hits(cell, columns) if _is_value(cell[2]) else []
        if cell[2] in _CURRENCY:
            sign = cell[2]
        elif hits:
            values[hits[0]] = f"{values[hits[0]]} {sign}{cell[2]}".strip()
            sign = ""
        else:
            label.append(cell[2])
    return (" ".join(label), *values)


def _header_row(head: list[list[Cell]], columns: Sequence[Span]) -> tuple[str, ...]:
    """The header lines joined per column; a text spanning several columns ("Year ended
    December 31,") heads each column it is nearest to."""
    label, values = [], [[] for _ in columns]
    for cells in head:
        placed = [(cell, _hits(cell, columns, HEADER_SLACK)) for cell in cells]
        label += [cell[2] for cell, hits in placed if not hits]
        over = [cell for cell, hits in placed if hits]
        spanning = any(len(hits) > 1 for _, hits in placed)
        for index, column in enumerate(columns):
            if spanning:
                middle = (column[0] + column[1]) / 2
                values[index].append(min(over, key=lambda c: abs((c[0] + c[1]) / 2 - middle))[2])
            else:
                values[index] += [cell[2] for cell, hits in placed if index in hits]
    return (" ".join(label), *(" ".join(texts) for texts in values))


def splice_tables(text: str, tables: Sequence[LayoutTable]) -> tuple[str, int]:
    """The plain text with each table's cells, where they are found in order and make up
    the text between them, replaced by its Markdown rows; and how many were replaced."""
    where = [i for i, char in enumerate(text) if not char.isspace()]
    squeezed, pieces = "".join(text[i] for i in where), []
    done = cursor = count = 0
    for table in tables:
        span = _locate(table.cells, squeezed, cursor)
        if span is None:
            continue
        start, end = where[span[0]], where[span[1] - 1] + 1
        before = "" if start == 0 or text[start - 1] == "\n" else "\n"
        after = "" if text.startswith("\n", end) else "\n"
        pieces += [text[done:start], before, markdown(table), after]
        done, cursor, count = end, span[1], count + 1
    return "".join([*pieces, text[done:]]), count


def _locate(cells: Sequence[str], squeezed: str, cursor: int) -> Span | None:
    """Where the cells lie in the squeezed text, from the start that finds most of them;
    None unless most of the cells from there on are found and make up most of what they
    span (cells before the start, a header laid out in another order, stay as they are)."""
    keys = [key for key in ("".join(cell.split()) for cell in cells) if key]
    tries = [_follow(keys, index, at, squeezed) for index, at in _starts(keys, squeezed, cursor)]
    found, first, end, index = max(tries, default=(0, 0, 0, 0))
    if not found or found < MIN_FOUND * max(sum(map(len, keys[index:])), end - first):
        return None
    return first, end


def _starts(keys: list[str], squeezed: str, cursor: int) -> list[Span]:
    """(index, place) of cells with the next cell just after: where the table may begin."""
    starts: list[Span] = []
    for index, (key, after) in enumerate(pairwise(keys[:MAX_START_CELLS])):
        at = squeezed.find(key, cursor)
        for _ in range(3):
            end = at + len(key)
            if at >= 0 and squeezed.find(after, end, end + len(after) + NEAR) >= 0:
                starts.append((index, at))
            at = squeezed.find(key, at + 1) if at >= 0 else -1
        if len(starts) >= MAX_STARTS:
            break
    return starts


def _follow(keys: list[str], index: int, first: int, squeezed: str) -> tuple[int, ...]:
    """(characters found, start, end): from the start, each next cell found close after
    the one before, the closeness allowing for the cells not found."""
    position, found, slack = first, 0, 0
    for key in keys[index:]:
        for text in dict.fromkeys((key, _MARKS.sub("", key))):  # "Provisions(a)", bare
            at = squeezed.find(text, position, position + slack + len(text) + NEAR) if text else -1
            if at >= 0:
                position, found, slack = at + len(text), found + len(text), 0
                break
        else:
            slack += len(key)
    return found, first, position, index
