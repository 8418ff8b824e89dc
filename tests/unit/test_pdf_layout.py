"""Headings told by their font, and tables written as rows, in born-digital PDFs.

On real files: a two-column paper (numbered sections in a larger font, subsections in bold
at the body size, figures with labels in bold), the first chapters of a book whose proof
pages repeat a running header, and two statements of a 10-K filing (FinanceBench).
"""

from __future__ import annotations

import logging
from functools import cache

import pytest
from pypdf import PdfReader

from ingest.layout_tables import LayoutTable, find_layout_tables, markdown, splice_tables
from ingest.pdf_layout import find_headings, page_text_with_tables, scan_page
from ingest.tables import find_tables
from tests.conftest import DATA, pdf

FILING = DATA / "financebench-dev" / "pdfs" / "3M_2018_10K.pdf"
logging.getLogger("pypdf").setLevel(logging.ERROR)


@cache
def paper_headings() -> list:
    return find_headings(PdfReader(pdf("pdfjs_tracemonkey.pdf")).pages)


@cache
def filing_page(number: int):
    if not FILING.is_file():
        pytest.skip(f"{FILING} not found")
    return PdfReader(FILING).pages[number - 1]


def test_one_reading_gives_the_plain_text_exactly():
    reader = PdfReader(pdf("pdfjs_tracemonkey.pdf"))
    for page in reader.pages[:3]:
        assert scan_page(page).text == page.extract_text()


def test_sections_larger_than_the_body_and_bold_subsections_are_headings_by_level():
    found = {(h.page, h.text): h.level for h in paper_headings()}
    title = "Trace-based Just-in-Time Type Specialization for Dynamic\nLanguages"
    assert found[(1, title)] == 1, "the title wraps over two lines and is largest"
    assert found[(1, "1. Introduction")] == 2
    assert found[(10, "7. Evaluation")] == 2
    assert found[(4, "3.1 Traces")] == 3, "bold at the body size: below the sections"
    assert found[(9, "6.4 Preemption")] == 3


def test_figure_labels_and_captions_are_not_headings():
    texts = [h.text for h in paper_headings()]
    assert not [t for t in texts if "Trace\u2029" in t or t in ("Interpret", "Monitor")]
    assert not [t for t in texts if t.startswith("Figure")]
    assert len(texts) == len(set(texts)) <= 40


def test_each_heading_is_found_in_its_page_text():
    reader = PdfReader(pdf("pdfjs_tracemonkey.pdf"))
    for heading in paper_headings():
        assert reader.pages[heading.page - 1].extract_text().find(heading.text) >= 0


def test_a_running_header_on_every_page_is_not_a_heading():
    pages = PdfReader(pdf("pdfjs_freeculture_lessig.pdf")).pages[:40]
    headings = find_headings(pages)
    on_pages = [n for n, page in enumerate(pages, 1) if "4TH PASS PAGES" in page.extract_text()]
    assert len(on_pages) > 30, "the proof stamp runs over the chapters"
    assert not [h for h in headings if "PASS PAGES" in h.text]
    found = {(h.page, h.text) for h in headings}
    assert {(17, "INTRODUCTION"), (30, "“PIRACY”")} <= found


def test_a_cash_flow_statement_becomes_rows_under_a_header_of_years():
    page = filing_page(60)
    plain = page.extract_text()
    text, count = page_text_with_tables(page, plain)
    assert count == 1
    [table] = find_tables(text)
    assert table.header.split("\n")[0] == "| (Millions) | 2018 | 2017 | 2016 |"
    rows = text[table.body_start : table.end].split("\n")
    assert (
        "| Purchases of property, plant and equipment (PP&E) | (1,577) | (1,373) | (1,420) |"
        in rows
    )
    assert "| Net income including noncontrolling interest | $5,363 | $4,869 | $5,058 |" in rows
    assert len(rows) > 35
    # Outside the table the text is the plain text, unchanged.
    assert plain.startswith(text[: table.start].rstrip("\n"))
    assert plain.rstrip().endswith(text[table.end :].strip())


def test_a_header_over_two_lines_joins_per_column():
    text, count = page_text_with_tables(filing_page(58))
    assert count == 1
    [table] = find_tables(text)
    assert table.header.startswith(
        "| (Dollars in millions, except per share amount) | December 31, 2018 | December 31, 2017 |"
    )
    assert "| Total assets | $36,500 | $37,987 |" in text.split("\n")


def test_a_page_of_prose_keeps_its_plain_text():
    page = PdfReader(pdf("pdfjs_tracemonkey.pdf")).pages[0]
    assert page_text_with_tables(page) == (page.extract_text(), 0)


LAYOUT = """\
                         ACME CORP
                                              Year ended December 31,
(In millions)                               2023          2022          2021
Revenue
   Products                          $     1,200   $     1,100   $       950
   Services                                  300           250            —
Total revenue                        $     1,500   $     1,350   $       950
Net income (loss)                            (45)           12            8

Operating results were in line with the plan; see Note 7 on page 12.
                                      7
"""
PLAIN = (
    "ACME CORP\nYear ended December 31,\n(In millions)\n2023\n2022\n2021\nRevenue\n"
    "Products\n$\n1,200\n$\n1,100\n$\n950\nServices\n300\n250\n—\nTotal revenue\n$\n1,500\n"
    "$\n1,350\n$\n950\nNet income (loss)\n(45)\n12\n8\n"
    "Operating results were in line with the plan; see Note 7 on page 12.\n7\n"
)


def test_columns_of_values_under_a_spanning_header_become_rows():
    [table] = find_layout_tables(LAYOUT)
    assert table.header == (
        "(In millions)",
        "Year ended December 31, 2023",
        "Year ended December 31, 2022",
        "Year ended December 31, 2021",
    )
    assert table.rows == (
        ("Revenue", "", "", ""),
        ("Products", "$1,200", "$1,100", "$950"),
        ("Services", "300", "250", "—"),
        ("Total revenue", "$1,500", "$1,350", "$950"),
        ("Net income (loss)", "(45)", "12", "8"),
    )


def test_the_table_replaces_its_cells_in_the_plain_text_and_nothing_else():
    [table] = find_layout_tables(LAYOUT)
    text, count = splice_tables(PLAIN, [table])
    assert count == 1
    assert text == "ACME CORP\n" + markdown(table) + "\n" + PLAIN[PLAIN.index("Operating") :]
    assert find_tables(text)[0].header.startswith("| (In millions) |")


def test_a_table_whose_cells_are_not_in_the_plain_text_is_left_out():
    [table] = find_layout_tables(LAYOUT)
    other = PLAIN.replace("1,200", "").replace("Services", "").replace("Net income", "")
    other = other.replace("300", "").replace("1,500", "").replace("(45)", "")
    assert splice_tables(other, [table]) == (other, 0)


def test_prose_margin_line_numbers_and_page_numbers_make_no_table():
    prose = "\n".join(
        f"{'This line of a proof page has its number in the margin':<70}  {n}"
        for n in range(20, 30)
    )
    assert find_layout_tables(prose) == []
    headed = f"{'':<70} Line\n" + prose
    assert find_layout_tables(headed) == [], "a header over numbers that count 20, 21, 22..."
    one_column = "\n".join(f"Item {n} of the list                  {n * 7}.50" for n in range(5))
    assert find_layout_tables(one_column) == [], "one column of numbers and no header"
    assert find_layout_tables("Some text\n\n                 12\n") == []


def test_markdown_escapes_bars_inside_cells():
    table = LayoutTable(("A|B", "2023"), (("x | y", "1"),), ("A|B", "2023", "x | y", "1"))
    assert markdown(table) == "| A\\|B | 2023 |\n| --- | --- |\n| x \\| y | 1 |"
