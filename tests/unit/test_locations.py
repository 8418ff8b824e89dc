"""Citations in each format's own terms, and the OCR mark and word boxes of chunks."""

from __future__ import annotations

from ingest.chunking import chunk_pages, document_sections
from ingest.files import FileStatus, IngestOutcome, Step, found_in, progress_text
from ingest.locations import PAGES_APART, locate
from ingest.parsing import ParsedFile


def located(pages, embedder, **parsed):
    parsed_file = ParsedFile(tuple(pages), **parsed)
    sections = document_sections("f", pages, (), parsed_file.unit)
    chunks = chunk_pages(
        pages,
        doc_id="d",
        source="f",
        embedder=embedder,
        size=60,
        overlap=10,
        sections=sections,
        pages_apart=parsed_file.unit in PAGES_APART,
    )
    return locate(chunks, parsed_file, pages, sections)


def test_slides_and_chapters_are_named_as_such(embedder):
    pages = [f"# Part {n}\n\n" + f"What happens in part {n}. " * 12 for n in range(1, 4)]
    slides = located(pages, embedder, unit="slide")
    assert len(slides) > 3, "each slide is longer than a chunk"
    for chunk in slides:
        assert chunk.page_start == chunk.page_end, "a chunk never spans two slides"
        assert chunk.location == f"slide {chunk.page_start}"
        assert f"part {chunk.page_start}" in chunk.text
    assert located(pages, embedder, unit="chapter")[-1].location == "chapter 3"
    short = located(["# A\n\nOne.", "# B\n\nTwo."], embedder, unit="slide")
    assert [c.location for c in short] == ["slide 1", "slide 2"]
    assert [c.header for c in short] == ["A", "B"]


def test_a_section_is_named_by_its_heading(embedder):
    text = "Opening words.\n\n# Risk factors\n\n" + "Markets may fall. " * 30
    chunks = located([text], embedder, unit="section")
    assert chunks[0].location == "opening section"
    assert chunks[-1].location == "section Risk factors"


def test_a_sheet_chunk_names_its_sheet_and_rows(embedder):
    lines = ["| Name | Amount |", "| --- | --- |"] + [f"| item {n} | {n} |" for n in range(3, 60)]
    rows = (2, 2, *range(3, 60))
    chunks = located(
        ["\n".join(lines)], embedder, unit="sheet", page_names=("Revenue",), row_numbers=(rows,)
    )
    assert chunks[0].location.startswith("sheet Revenue, rows 2-")
    last_row = int(chunks[-1].location.rsplit("-", 1)[1])
    assert last_row == 59
    first_of_last = int(chunks[-1].location.split("rows ")[1].split("-")[0])
    assert f"| item {first_of_last} |" in chunks[-1].text.split("\n")[0]


def test_pages_keep_their_page_label_and_ocr_pages_mark_their_chunks(embedder):
    pages = ["Typed text on the first page.", "Scanned words on the second page."]
    words = {2: (("Scanned", 0.1, 0.1, 0.3, 0.15), ("page.", 0.6, 0.1, 0.7, 0.15))}
    [chunk] = located(pages, embedder, ocr_pages=(2,), ocr_words=words)
    assert chunk.location == "" and chunk.ocr
    assert chunk.boxes == ((2, 0.1, 0.1, 0.3, 0.15), (2, 0.6, 0.1, 0.7, 0.15))


def test_what_was_found_is_said_in_the_format_terms():
    outcome = IngestOutcome(
        "deck.pptx", FileStatus.INGESTED, pages=12, chunks=30, unit="slide", tables=2
    )
    assert found_in(outcome) == "12 slides, 30 chunks, 2 tables"
    scan = IngestOutcome("scan.pdf", FileStatus.INGESTED, pages=3, chunks=4, pages_ocr=(1, 2))
    assert found_in(scan) == "3 pages, 4 chunks; pages 1, 2 read by OCR"
    assert progress_text(12, 40, Step.OCR) == "reading page 12 of 40 (OCR)"
    assert progress_text(3, 9, Step.READ) == "reading page 3 of 9"
