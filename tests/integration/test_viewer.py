"""The viewer on a real library: PDF pages drawn in the parser process with the cited
passage boxed where its words are printed (checked against pypdf's text positions and
the layout a scan was made from), its refusals, its cache, and passages of formats
without pages shown in the text of their unit."""

from __future__ import annotations

import re
from io import BytesIO

import pytest
from PIL import Image
from pypdf import PdfReader

import ingest.viewer.rendering
from ingest.viewer import PageViewer, PageViewError, RenderLimits
from ingest.viewer.views import MISSING_ORIGINAL
from tests.conftest import pdf
from tests.support import office_files
from tests.support.scans import (
    FONT_SIZE,
    MARGIN,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    encrypted,
    scanned_pdf,
    text_pdf,
    wrap,
)

MULTICOLUMN = "sf_multicolumn.pdf"
PASSAGE = "Nam dui ligula, fringilla a, euismod sodales"
SCANNED = (
    "The cooperative's beekeepers harvested 4,210 kg of lavender honey in July, 12% more "
    "than last year. Hives on the south slope of the orchard, sheltered from the mistral, "
    "gave the most; the northern valley lost 35 colonies to a late frost in April."
)
# How far (a fraction of the page) a box may sit from where the text was printed.
NEAR = 0.004


@pytest.fixture
def viewer(library) -> PageViewer:
    return PageViewer(library)


def ingested(ingestor, name: str, data: bytes, password: str | None = None) -> str:
    outcome = ingestor.ingest_bytes(name, data, password=password)
    assert outcome.doc_id and not outcome.reason, outcome.reason
    return outcome.doc_id


def chunk_with(library, doc_id: str, phrase: str):
    found = [c for c in library.chunks_of(doc_id) if phrase in " ".join(c.text.split())]
    assert found, f"no chunk holds {phrase!r}"
    return found[0]


def printed_lines(path, page: int) -> list[tuple[str, float, float]]:
    """(text, x, baseline) of each line pypdf reads on a page, as fractions, top left."""
    reader = PdfReader(path)
    box = reader.pages[page - 1].mediabox
    lines = []

    def visit(text, cm, tm, font, size):
        if text.strip():
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            lines.append((" ".join(text.split()), x / box.width, 1 - y / box.height))

    reader.pages[page - 1].extract_text(visitor_text=visit)
    return lines


def covers(box, x: float, y: float) -> bool:
    return box[0] - NEAR <= x <= box[2] + NEAR and box[1] - NEAR <= y <= box[3] + NEAR


@pytest.fixture
def multicolumn(library, ingestor) -> str:
    return ingested(ingestor, MULTICOLUMN, pdf(MULTICOLUMN).read_bytes())


def test_boxes_cover_the_lines_where_pypdf_reads_the_passage(library, viewer, multicolumn):
    chunk = chunk_with(library, multicolumn, PASSAGE)
    view = viewer.page(multicolumn, chunk.page_start, chunk)
    assert view.note is None and view.boxes
    flat = " ".join(chunk.text.split())
    lines = printed_lines(pdf(MULTICOLUMN), chunk.page_start)
    inside = [line for line in lines if len(line[0]) > 30 and line[0].rstrip("-") in flat]
    assert len(inside) >= 5
    for text, x, baseline in inside:
        # Each whole line of the passage starts a box, at its baseline.
        assert any(covers(b, x, baseline) and abs(b[0] - x) < 0.01 for b in view.boxes), text
    outside = [line for line in lines if line[0].startswith(("Two-Column", "wisi in dignissim"))]
    assert len(outside) == 2
    for text, x, baseline in outside:
        assert not any(covers(b, x, baseline) for b in view.boxes), text


def test_a_chunk_over_two_pages_is_boxed_on_both(library, viewer, multicolumn):
    spanning = [c for c in library.chunks_of(multicolumn) if c.page_end > c.page_start]
    assert spanning
    chunk = spanning[0]
    first = viewer.page(multicolumn, chunk.page_start, chunk)
    second = viewer.page(multicolumn, chunk.page_end, chunk)
    assert first.boxes and second.boxes and first.note is None and second.note is None
    # The passage ends a page (the foot of its right column) and starts the next (the top
    # of its left column).
    assert max(b[3] for b in first.boxes) > 0.6 and min(b[0] for b in first.boxes) > 0.45
    assert min(b[1] for b in second.boxes) < 0.3 and max(b[2] for b in second.boxes) < 0.55


def test_a_page_outside_the_chunk_is_drawn_without_boxes_and_says_where_it_is(
    library, viewer, multicolumn
):
    chunk = chunk_with(library, multicolumn, PASSAGE)
    view = viewer.page(multicolumn, 3, chunk)
    assert view.boxes == () and "p. 1" in view.note


def test_pages_that_do_not_exist_are_refused(viewer, multicolumn):
    for page in (0, 4, -1):
        with pytest.raises(PageViewError, match=f"has 3 pages; there is no page {page}"):
            viewer.page(multicolumn, page)


def test_a_missing_original_is_refused(library, viewer, multicolumn):
    assert viewer.can_render(multicolumn)
    library.original_path(multicolumn).unlink()
    assert not viewer.can_render(multicolumn)
    with pytest.raises(PageViewError, match="no longer kept"):
        viewer.page(multicolumn, 1)
    assert MISSING_ORIGINAL.startswith("The original file")


def test_zoom_scales_the_picture_and_odd_zooms_are_refused(viewer, multicolumn):
    sizes = {}
    for zoom in (0.5, 1.0, 2.0):
        view = viewer.page(multicolumn, 1, zoom=zoom)
        with Image.open(BytesIO(view.png)) as picture:
            assert picture.size == (view.width_px, view.height_px)
        sizes[zoom] = view.width_px
    assert sizes[1.0] == pytest.approx(2 * sizes[0.5], abs=2)
    assert sizes[2.0] == pytest.approx(2 * sizes[1.0], abs=2)
    assert 850 <= sizes[1.0] <= 1000  # an A4 page at 1.5 pixels a point
    for zoom in (0.4, 3.5, float("nan"), True, "2"):
        with pytest.raises(PageViewError, match=r"Zoom must be from 0\.5 to 3"):
            viewer.page(multicolumn, 1, zoom=zoom)


def test_a_page_drawn_again_comes_from_the_cache(library, viewer, multicolumn, monkeypatch):
    started = []
    real = ingest.viewer.rendering.run_worker

    def counting(*args, **kwargs):
        started.append(args[0]["page"])
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest.viewer.rendering, "run_worker", counting)
    chunk = chunk_with(library, multicolumn, PASSAGE)
    first = viewer.page(multicolumn, 1, chunk)
    again = viewer.page(multicolumn, 1, chunk)
    assert again.png == first.png and again.boxes == first.boxes
    assert started == [1] and viewer.renders == 1
    plain = viewer.page(multicolumn, 1)  # the same drawing, without the highlights
    assert plain.png != first.png and started == [1]
    viewer.page(multicolumn, 1, zoom=2.0)
    assert started == [1, 1] and viewer.renders == 2


def test_a_page_past_its_time_or_memory_is_refused_with_the_limit_named(library, multicolumn):
    slow = PageViewer(library, RenderLimits(timeout_s=0.05))
    with pytest.raises(PageViewError, match=r"longer than 0\.05 s .*RAG_PARSE_TIMEOUT_S"):
        slow.page(multicolumn, 1)
    small = PageViewer(library, RenderLimits(memory_mb=64))
    with pytest.raises(PageViewError, match=r"more than 64 MB of memory.*RAG_PARSE_MEMORY_MB"):
        small.page(multicolumn, 1, zoom=3.0)
    assert slow.renders == small.renders == 0


def test_a_page_that_failed_is_not_drawn_again_at_once(library, multicolumn, monkeypatch):
    started = []
    real = ingest.viewer.rendering.run_worker

    def counting(*args, **kwargs):
        started.append(args[0]["page"])
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest.viewer.rendering, "run_worker", counting)
    slow = PageViewer(library, RenderLimits(timeout_s=0.05))
    for _ in range(3):  # as each rerun of the dialog asks again
        with pytest.raises(PageViewError, match="longer than"):
            slow.page(multicolumn, 1)
    assert started == [1]


def test_a_scanned_page_is_boxed_from_its_recognised_words(library, ingestor, viewer):
    doc_id = ingested(ingestor, "harvest-scan.pdf", scanned_pdf([SCANNED], seed=7, dpi=200))
    assert library.find(doc_id).pages_ocr == (1,)
    chunk = chunk_with(library, doc_id, "northern valley lost 35 colonies")
    assert chunk.ocr and chunk.boxes
    view = viewer.page(doc_id, 1, chunk)
    lines = [line for line in wrap(SCANNED) if line]
    assert len(view.boxes) == len(lines)
    leading = round(FONT_SIZE * 1.3)
    for number, box in enumerate(view.boxes):
        # Where text_pdf printed the line (its letters sit above the baseline), give or
        # take the degree the scan was turned.
        baseline = MARGIN + FONT_SIZE + number * leading
        middle = (baseline - FONT_SIZE * 0.35) / PAGE_HEIGHT
        assert (box[1] + box[3]) / 2 == pytest.approx(middle, abs=leading / 2 / PAGE_HEIGHT)
        assert box[0] == pytest.approx(MARGIN / PAGE_WIDTH, abs=0.02)
    plain = viewer.page(doc_id, 1)
    assert _pixel(view, *_centre(view.boxes[0])) != _pixel(plain, *_centre(view.boxes[0]))
    assert _pixel(view, 0.5, 0.95) == _pixel(plain, 0.5, 0.95)


def _centre(box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _pixel(view, x: float, y: float) -> tuple[int, ...]:
    with Image.open(BytesIO(view.png)) as picture:
        return picture.convert("RGB").getpixel((int(x * view.width_px), int(y * view.height_px)))


def test_a_password_protected_pdf_is_refused_with_the_reason(ingestor, viewer):
    locked = encrypted(text_pdf(["Bees dance to show the way to flowers."]), "open sesame")
    doc_id = ingested(ingestor, "locked.pdf", locked, password="open sesame")
    with pytest.raises(PageViewError, match="password-protected"):
        viewer.page(doc_id, 1)


@pytest.mark.parametrize(
    ("name", "make", "phrase", "title"),
    [
        (
            "handbook.docx",
            office_files.docx_file,
            "Plant apple saplings",
            "section Orchard Handbook",
        ),
        ("prices.csv", office_files.csv_file, "Reine des reinettes", "rows 1-"),
        ("apiary.epub", office_files.epub_file, "Swarms leave the hive", "chapter 2"),
    ],
)
def test_formats_without_pages_show_the_passage_in_its_unit(
    library, ingestor, viewer, name, make, phrase, title
):
    doc_id = ingested(ingestor, name, make())
    chunk = chunk_with(library, doc_id, phrase)
    assert not viewer.can_render(doc_id)
    with pytest.raises(PageViewError, match="no pages to draw"):
        viewer.page(doc_id, 1, chunk)
    view = viewer.passage(chunk)
    assert view.passage == chunk.text and phrase in " ".join(view.passage.split())
    assert view.title.startswith(title) and view.name == name
    if name == "apiary.epub":  # the first chapter is another unit
        assert "willows" not in view.before + view.after


def test_overlapping_chunks_are_stitched_without_repeating_text(library, ingestor, viewer):
    sentences = [f"Sentence {n:03d} tells how hive {n} fared this year." for n in range(300)]
    doc_id = ingested(ingestor, "hives.txt", " ".join(sentences).encode())
    chunks = library.chunks_of(doc_id)
    assert len(chunks) > 4 and chunks[1].char_start < chunks[0].char_end  # they overlap
    middle = chunks[len(chunks) // 2]
    view = viewer.passage(middle)
    shown = view.before + view.passage + view.after
    assert view.before.startswith("…") and view.after.endswith("…")
    assert 5000 < len(shown) < 9500
    numbers = [int(n) for n in re.findall(r"Sentence (\d{3})", shown)]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert " ".join(shown.strip("…").split()) in " ".join(sentences)
