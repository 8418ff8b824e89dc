"""Excel workbooks (.xlsx, .xlsm): one page per sheet, each sheet one table of its rows.

openpyxl reads sheets as a stream (`read_only=True`), so that a big sheet is refused at
the row that passes a limit instead of after all of it is in memory, and gives the value
each formula had when the file was last saved (`data_only=True`): formulas are never
computed here. The macros of an .xlsm file are never run: openpyxl does not run code,
and the VBA part is not even loaded (`keep_vba=False`).

Hidden sheets are read too: they often hold the lookup tables the visible sheets are
built from, and they are part of the file the person chose.
"""

from __future__ import annotations

import datetime
import warnings
from io import BytesIO

from openpyxl import load_workbook

from ingest.formats.archive import Archive, library_failure
from ingest.formats.extracted import Extracted, ReadLimits
from ingest.formats.markdown import SheetText
from rag.errors import IngestError

KIND = "Excel workbook"


def read(data: bytes, limits: ReadLimits) -> Extracted:
    """Every worksheet as a table; the sheet names name the pages."""
    Archive(data, KIND, limits).verify()
    try:
        with warnings.catch_warnings():
            # openpyxl warns about features it skips (data validation, styles): not ours.
            warnings.simplefilter("ignore")
            book = load_workbook(BytesIO(data), read_only=True, data_only=True, keep_links=False)
            try:
                title = (book.properties.title or "").strip()
                sheets = _sheets(book, limits)
            finally:
                book.close()
    except (MemoryError, IngestError):
        raise  # a limit passed, not damage: the reason is already given
    except Exception as exc:  # openpyxl raises many kinds; each means damage
        raise library_failure(KIND, exc) from exc
    return Extracted(
        tuple(sheet.text() for sheet in sheets),
        unit="sheet",
        title=title,
        page_names=tuple(sheet.name for sheet in sheets),
        tables=sum(1 for sheet in sheets if sheet.lines),
        row_numbers=tuple(tuple(sheet.row_numbers) for sheet in sheets),
    )


def _sheets(book, limits: ReadLimits) -> list[SheetText]:
    sheets: list[SheetText] = []
    chars_left = limits.max_chars
    for sheet in book.worksheets:
        text = SheetText(sheet.title, limits, chars_left)
        # Declared sizes may lie: read each row as the file holds it, not padded to them.
        sheet.reset_dimensions()
        for number, row in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
            text.count_cells(len(row))
            text.add(number, [cell_text(value) for value in row])
        chars_left = text.chars_left
        sheets.append(text)
    return sheets


def cell_text(value) -> str:
    """A cell's value as plain text: numbers without float noise, dates in ISO order."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(value, ".15g")
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds" if value.second else "minutes")
    if isinstance(value, datetime.time):
        return value.isoformat(timespec="seconds" if value.second else "minutes")
    return str(value)
