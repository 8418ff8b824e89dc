"""OCR of scanned pages with the real models: generated scans of known text are read back,
word boxes sit where the words are, and the time budgets stop what runs too long."""

from __future__ import annotations

import signal
import threading
import time
from io import BytesIO

import pytest
from pypdf import PdfReader

from ingest.ocr import OcrBudget, OcrResult, ocr_pdf_pages, render_scale
from tests.support.hostile_pdfs import page_objects, pdf_file
from tests.support.scans import MARGIN, PAGE_HEIGHT, PAGE_WIDTH, cer, encrypted, printable, scan
from tests.support.scans import scanned_pdf as scan_text

ABSTRACT = (
    "Scanned annual reports\n"
    "The cooperative's beekeepers harvested 4,210 kg of lavender honey in July, 12% more "
    "than last year. Hives on the south slope of the orchard, sheltered from the mistral, "
    "gave the most; the northern valley lost 35 colonies to a late frost in April. Prices "
    "at the Saturday market rose from 9.50 to 11 euros a jar, while wholesale buyers paid "
    "7.80. The board proposes to replace 60 hives in 2025 and to test a new varroa "
    "treatment (oxalic acid) on a third of them."
)
SHORT = "Invoice 1042 for the repair of the greenhouse roof, paid on 3 March."
PASSWORD = "open sesame"


def read(pdf: bytes, pages, budget=None, password=None, progress=None) -> OcrResult:
    """The scan read at the default budget unless one is given."""
    return ocr_pdf_pages(pdf, password, pages, budget or OcrBudget(), progress)


@pytest.fixture(scope="module")
def abstract_scan() -> bytes:
    return scan_text([ABSTRACT], seed=7, dpi=150, rotation=1.0, noise=8.0)


@pytest.fixture(scope="module")
def abstract_read(abstract_scan) -> OcrResult:
    return read(abstract_scan, [1])


def test_a_scan_has_no_text_layer_and_ocr_reads_it_back(abstract_scan, abstract_read):
    assert PdfReader(BytesIO(abstract_scan)).pages[0].extract_text().strip() == ""
    assert abstract_read.skipped == {}
    page = abstract_read.pages[1]
    assert cer(printable(ABSTRACT), page.text) <= 0.03
    assert page.text.splitlines()[0] == "Scanned annual reports"
    assert page.seconds > 0


def test_words_lie_on_the_page_in_reading_order(abstract_read):
    page = abstract_read.pages[1]
    assert " ".join(word.text for word in page.words) == " ".join(page.text.split())
    for word in page.words:
        x0, y0, x1, y1 = word.box
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1, word
    line_starts, at = [], 0
    for line in page.text.splitlines():
        count = len(line.split())
        line_words = page.words[at : at + count]
        assert [w.box[0] for w in line_words] == sorted(w.box[0] for w in line_words)
        line_starts.append(line_words[0])
        at += count
    centres = [(w.box[1] + w.box[3]) / 2 for w in line_starts]
    assert centres == sorted(centres)


def test_lines_side_by_side_are_read_left_then_right_band_by_band():
    # A two-column price list: each row's right cell is printed 3 inches right of its left.
    rows = [("Lavender honey", "Eleven euros"), ("Acacia honey", "Nine euros")]
    rows += [("Chestnut honey", "Twelve euros")]
    shown = b"".join(
        b"BT /F1 14 Tf %d %d Td (%s) Tj ET\n" % (x, 700 - 40 * row, cell.encode())
        for row, cells in enumerate(rows)
        for x, cell in zip((72, 300), cells, strict=True)
    )
    pdf = scan(pdf_file(page_objects([shown])), seed=8)
    text = read(pdf, [1]).pages[1].text
    assert text.splitlines() == [cell for cells in rows for cell in cells]


def test_the_first_word_is_boxed_where_it_was_printed(abstract_read):
    # Printed at the top-left margin, one inch in; the scan is tilted by a degree.
    first = abstract_read.pages[1].words[0]
    assert first.text == "Scanned"
    assert first.box[0] == pytest.approx(MARGIN / PAGE_WIDTH, abs=0.03)
    assert first.box[1] == pytest.approx(MARGIN / PAGE_HEIGHT, abs=0.03)


def test_a_page_without_text_gives_an_empty_page():
    result = read(scan_text(["", SHORT], seed=2, noise=8.0), [1, 2])
    assert result.skipped == {}
    assert result.pages[1].text == "" and result.pages[1].words == ()
    assert cer(SHORT, result.pages[2].text) <= 0.03


def test_a_spent_document_budget_skips_the_pages_left(warm_engine):
    pdf = scan_text(["", SHORT, SHORT], seed=3)
    budget = OcrBudget(document_timeout_s=2.0)
    calls = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        if done == 1:  # a slow caller: the budget runs out while page 2 is announced
            time.sleep(budget.document_timeout_s)

    result = read(pdf, [1, 2, 3], budget, progress=progress)
    assert list(result.pages) == [1]
    assert set(result.skipped) == {2, 3}
    assert all("RAG_OCR_DOCUMENT_TIMEOUT_S" in why for why in result.skipped.values())
    assert calls == [(0, 3), (1, 3)]


def test_a_page_past_its_time_is_stopped_and_skipped(abstract_scan, abstract_read):
    handler = signal.getsignal(signal.SIGALRM)
    started = time.monotonic()
    result = read(abstract_scan, [1], OcrBudget(page_timeout_s=0.05))
    elapsed = time.monotonic() - started
    assert result.pages == {}
    assert "RAG_OCR_PAGE_TIMEOUT_S" in result.skipped[1]
    assert "0.05 s" in result.skipped[1]
    # Stopped part-way, not after reading the page to its end.
    assert elapsed < abstract_read.pages[1].seconds
    assert signal.getsignal(signal.SIGALRM) is handler
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_outside_the_main_thread_a_page_is_not_interrupted(warm_engine):
    pdf = scan_text([SHORT], seed=4)
    results: list[OcrResult] = []
    worker = threading.Thread(
        target=lambda: results.append(read(pdf, [1], OcrBudget(page_timeout_s=0.01)))
    )
    worker.start()
    worker.join()
    assert results[0].skipped == {}
    assert cer(SHORT, results[0].pages[1].text) <= 0.03


def test_a_password_protected_scan_opens_with_its_password():
    pdf = encrypted(scan_text([SHORT], seed=5), PASSWORD)
    assert cer(SHORT, read(pdf, [1], password=PASSWORD).pages[1].text) <= 0.03
    missing = read(pdf, [1])
    assert missing.pages == {} and "password-protected" in missing.skipped[1]
    assert "wrong" in read(pdf, [1], password="sesame").skipped[1]


def test_pages_that_cannot_be_read_are_skipped_with_a_reason():
    result = read(scan_text([SHORT], seed=6), [1, 5])
    assert list(result.pages) == [1]
    assert result.skipped == {5: "the PDF has no page 5"}
    damaged = read(b"%PDF-1.4\nthis is not a PDF body", [1, 2])
    assert damaged.pages == {}
    assert set(damaged.skipped) == {1, 2}
    assert all("could not be opened" in why for why in damaged.skipped.values())


def test_large_pages_are_drawn_within_the_pixel_cap():
    budget = OcrBudget(dpi=200, max_page_pixels=4_000_000)
    assert render_scale(612, 792, budget) == pytest.approx(200 / 72)
    poster = render_scale(2384, 3370, budget)  # A0, in points
    assert 2384 * 3370 * poster**2 == pytest.approx(4_000_000)
    strip = render_scale(20, 14_400, budget)  # a 200-inch ribbon: its long side is capped
    assert 14_400 * strip <= 4096


def test_scans_are_made_alike_from_the_seed_and_scored_by_edits():
    assert scan_text([SHORT], seed=1) == scan_text([SHORT], seed=1)
    assert scan_text([SHORT], seed=1) != scan_text([SHORT], seed=2)
    assert cer("honey  jar\n", "honey jar") == 0.0
    assert cer("honey jar", "money jars") == pytest.approx(2 / 9)


@pytest.fixture(scope="module")
def warm_engine(abstract_read) -> None:
    """Tests that time things start with the recogniser already loaded."""
