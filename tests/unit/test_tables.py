"""Tables written as rows: chunks end between rows, and a chunk that starts inside a table
repeats its header row in its header (embedded and indexed, not in its stored text)."""

from __future__ import annotations

from ingest.chunking import chunk_pages
from ingest.tables import find_tables, header_row_at

HEADER = "| Segment | Year | Revenue (USD millions) |\n| --- | --- | --- |"
ROWS = [f"| Segment {n} | {2000 + n % 20} | {n * 37:,}.5 |" for n in range(1, 161)]
TABLE = HEADER + "\n" + "\n".join(ROWS)
PAGE = "# Results\n\nRevenue by segment, as reported.\n\n" + TABLE + "\n\nThe end of the report."


def test_a_table_is_found_with_its_header_and_body():
    [table] = find_tables(PAGE)
    assert PAGE[table.start : table.end] == TABLE
    assert table.header == HEADER
    assert PAGE[table.body_start :].startswith("| Segment 1 |")
    assert header_row_at([table], table.body_start + 5) == HEADER
    assert header_row_at([table], table.start) == ""  # the header row itself
    assert header_row_at([table], table.end + 3) == ""


def test_rows_without_a_separator_are_a_table_without_a_header():
    [table] = find_tables("text\n| a | b |\n| c | d |\nmore")
    assert table.header == ""


def test_a_long_table_is_split_between_rows_with_its_header_on_every_part(embedder):
    chunks = chunk_pages(
        [PAGE], doc_id="d", source="report.docx", embedder=embedder, size=120, overlap=20
    )
    inside = [c for c in chunks if c.text.startswith("| Segment ") and "| --- |" not in c.text]
    assert len(inside) >= 3, "the table is longer than several chunks"
    for chunk in chunks:
        assert chunk.text.startswith(("#", "|", "Revenue", "The")) or chunk.index == 0
        lines = chunk.text.split("\n")
        table_lines = [line for line in lines if line.startswith("|")]
        assert all(line.endswith("|") for line in table_lines), "a chunk cut inside a row"
    for chunk in inside:
        assert chunk.header.endswith(HEADER)
        assert HEADER not in chunk.text, "the stored text stays what the page says"
        assert chunk.indexed_text().startswith(chunk.header)
        assert len(embedder.token_offsets(chunk.indexed_text())) <= embedder.max_chunk_tokens


def test_a_chunk_starting_outside_a_table_has_no_header_row(embedder):
    [first, *_] = chunk_pages(
        [PAGE], doc_id="d", source="report.docx", embedder=embedder, size=120, overlap=20
    )
    assert "| --- |" not in first.header
