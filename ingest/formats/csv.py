"""CSV files: one sheet, each non-empty record one table row, the first the header.

The text is decoded from its byte order mark (UTF-8 or UTF-16), else as UTF-8, else as
Windows-1252, which older Western spreadsheets export and which never fails on a byte.
The delimiter is the one of `,` `;` tab `|` that splits the first lines most evenly into
more than one column (Excel in much of Europe writes `;`).
"""

from __future__ import annotations

import csv
from collections import Counter
from io import StringIO

from ingest.cleaning import decode_text
from ingest.formats.extracted import Extracted, ReadLimits
from ingest.formats.markdown import SheetText
from rag.errors import IngestError

DELIMITERS = (",", ";", "\t", "|")
_SAMPLE_LINES = 50
_SAMPLE_CHARS = 65_536
# A NUL byte in the first few kilobytes marks a binary file, as git and `file` judge.


def read(data: bytes, limits: ReadLimits) -> Extracted:
    """The records as one table; its row numbers are the record numbers, from 1."""
    text = decode(data)
    delimiter = sniff_delimiter(text)
    sheet = SheetText("", limits, limits.max_chars)
    reader = csv.reader(StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, record in enumerate(reader, start=1):
            sheet.count_cells(len(record))
            sheet.add(number, record)
    except csv.Error as exc:
        raise IngestError(
            f"unreadable CSV file: record {reader.line_num:,} is malformed ({exc});"
            " a quoted field may never end"
        ) from None
    return Extracted(
        (sheet.text(),),
        unit="sheet",
        page_names=("",),
        tables=int(bool(sheet.lines)),
        row_numbers=(tuple(sheet.row_numbers),),
    )


def decode(data: bytes) -> str:
    """The file's text: by its byte order mark, else UTF-8, else Windows-1252."""
    return decode_text(data, "CSV file")


def sniff_delimiter(text: str) -> str:
    """The delimiter that gives the first lines the same number of columns most often,
    and the most columns among equals; `,` when none splits a line."""
    window = text[:_SAMPLE_CHARS]
    sample = window.splitlines()[:_SAMPLE_LINES]
    if len(text) > len(window) and len(sample) > 1:
        sample.pop()  # cut off by the window: its column count would mislead
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        try:
            widths = [len(record) for record in csv.reader(sample, delimiter=delimiter) if record]
        except csv.Error:
            continue
        if not widths:
            continue
        width, count = Counter(widths).most_common(1)[0]
        score = (count / len(widths), width)
        if width > 1 and score > best_score:
            best, best_score = delimiter, score
    return best
