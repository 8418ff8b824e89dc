"""Text recognition (OCR) of PDF pages: PDFium draws a page, RapidOCR reads it.

It runs inside the parser process, under its limits, and is the only module importing
rapidocr; pages are drawn through `ingest.viewer.pdfium`. A page that cannot be drawn,
fails or runs past its time is put in `OcrResult.skipped` with the reason; the others
carry on. The models ship in the wheel.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

from ingest.viewer.pdfium import PdfDrawError, PdfOpenError, PdfPasswordError, draw_page, open_pdf
from rag.config import DEFAULTS
from rag.errors import IngestError

# RapidOCR shrinks a longer picture (`max_side_len`): pages are drawn within it.
MAX_SIDE_PX = 4096
# Lines are found on a copy of the page at most this long, then read from the full drawing
# (sharp letters). By bench/ocr.py, 960 reads 18% faster but makes four times the errors.
DETECTION_SIDE_PX = 1280
# Two threads read a page 1.7 times faster than one on two cores; few more pay off.
THREADS = max(1, min(4, os.cpu_count() or 1))

Box = tuple[float, float, float, float]
_PAGE_TIMEOUT = "OCR of this page took longer than {:g} s and was stopped (RAG_OCR_PAGE_TIMEOUT_S)"
_DOCUMENT_SPENT = "not read: OCR of this document used up its {:g} s (RAG_OCR_DOCUMENT_TIMEOUT_S)"


@dataclass(frozen=True)
class OcrWord:
    """A word and its box (x0, y0, x1, y1), fractions of the page, origin top left."""

    text: str
    box: Box


@dataclass(frozen=True)
class OcrPage:
    """A page read by OCR: lines in reading order joined by newlines, words by spaces (""
    when no text was found), the words, and the seconds drawing and reading took."""

    text: str
    words: tuple[OcrWord, ...]
    seconds: float


@dataclass(frozen=True)
class OcrBudget:
    """Time and memory for reading. A page past `page_timeout_s` is stopped and skipped;
    once the document has spent `document_timeout_s` the rest are skipped. Pages are drawn
    at `dpi`, but with at most `max_page_pixels` pixels (a poster is drawn smaller)."""

    page_timeout_s: float = DEFAULTS.ocr_page_timeout_s
    document_timeout_s: float = DEFAULTS.ocr_document_timeout_s
    dpi: int = 200
    max_page_pixels: int = 12_000_000


@dataclass(frozen=True)
class OcrResult:
    """The pages read (1-based number to page), and those skipped with the reason."""

    pages: dict[int, OcrPage]
    skipped: dict[int, str]


class _Expired(BaseException):
    """The alarm: not an Exception, so no library's `except Exception` swallows it."""


def ocr_pdf_pages(
    data: bytes,
    password: str | None,
    page_numbers: Sequence[int],
    budget: OcrBudget,
    progress: Callable[[int, int], None] | None = None,
) -> OcrResult:
    """Read the given 1-based pages of a PDF by OCR, within the budget; `progress(done,
    total)` is called before each page. The page limit uses SIGALRM, so it interrupts a page
    only in the main thread; the document's limit is checked between pages everywhere."""
    numbers = list(page_numbers)
    try:
        document = _open(data, password)
    except IngestError as exc:
        return OcrResult({}, dict.fromkeys(numbers, str(exc)))
    pages: dict[int, OcrPage] = {}
    skipped: dict[int, str] = {}
    deadline = time.monotonic() + budget.document_timeout_s
    try:
        for done, number in enumerate(numbers):
            if time.monotonic() >= deadline:
                spent = _DOCUMENT_SPENT.format(budget.document_timeout_s)
                skipped.update(dict.fromkeys(numbers[done:], spent))
                break
            if progress is not None:
                progress(done, len(numbers))
            outcome = _read_page(document, number, budget, deadline)
            (pages if isinstance(outcome, OcrPage) else skipped)[number] = outcome
    finally:
        document.close()
    return OcrResult(pages, skipped)


def _open(data: bytes, password: str | None):
    try:
        return open_pdf(data, password)
    except PdfPasswordError:
        given = "the password given is wrong" if password else "give the password"
        raise IngestError(f"password-protected: {given} to read it by OCR") from None
    except PdfOpenError as exc:
        raise IngestError(f"the PDF could not be opened to read it by OCR ({exc})") from None


def _read_page(document, number: int, budget: OcrBudget, deadline: float) -> OcrPage | str:
    """The page read, or the reason it was not."""
    started = time.monotonic()
    limit = min(budget.page_timeout_s, deadline - started)
    try:
        with _alarm(limit):
            image = _render(document, number, budget)
            lines = _lines(_engine()(image, return_word_box=True), image.shape)
    except _Expired:
        if limit < budget.page_timeout_s:
            return _DOCUMENT_SPENT.format(budget.document_timeout_s)
        return _PAGE_TIMEOUT.format(budget.page_timeout_s)
    except IngestError as exc:
        return str(exc)
    except Exception as exc:  # one page's failure must not cost the document
        return _failure(exc)
    lines = _reading_order(lines)
    words = tuple(word for line in lines for word in line.words)
    return OcrPage("\n".join(line.text for line in lines), words, time.monotonic() - started)


def _failure(exc: Exception) -> str:
    """Why a page failed, in words; running out of memory said plainly."""
    cause = exc.__cause__ or exc  # RapidOCR wraps the runtime's error in its own
    detail = (str(cause).strip().splitlines() or [""])[-1]
    if isinstance(cause, MemoryError) or "bad_alloc" in detail:
        return "OCR of this page needed more memory than it may use (RAG_OCR_MEMORY_MB)"
    return f"OCR failed on this page ({type(cause).__name__}: {detail[:160]})"


def _render(document, number: int, budget: OcrBudget):
    """The page drawn in grey, a (height, width) uint8 array."""
    if not 1 <= number <= len(document):
        raise IngestError(f"the PDF has no page {number}")
    try:
        return draw_page(document, number, lambda w, h: render_scale(w, h, budget), grey=True)
    except PdfDrawError as exc:
        raise IngestError(f"this page could not be drawn to read it by OCR ({exc})") from None


def render_scale(width_pt: float, height_pt: float, budget: OcrBudget) -> float:
    """Pixels per point for a page: the budget's dpi, less where the page would pass
    `max_page_pixels` or `MAX_SIDE_PX`."""
    if width_pt <= 0 or height_pt <= 0:
        raise IngestError("this page has no size, so it cannot be drawn to read it by OCR")
    scale = min(budget.dpi / 72, math.sqrt(budget.max_page_pixels / (width_pt * height_pt)))
    return min(scale, MAX_SIDE_PX / max(width_pt, height_pt))


@dataclass(frozen=True)
class _Line:
    """A recognised line: its text, its words, and its centre and height on the page."""

    text: str
    words: tuple[OcrWord, ...]
    centre: float
    height: float


def _lines(output, shape: tuple[int, ...]) -> list[_Line]:
    """RapidOCR's output as lines. Word results are matched by text (RapidOCR drops those of
    a line without word boxes, whose words then share its box by their length)."""
    texts = getattr(output, "txts", None) or ()
    quads = getattr(output, "boxes", None)
    groups = list(getattr(output, "word_results", None) or ())
    lines, group, size = [], 0, (shape[1], shape[0])
    for raw, quad in zip(texts, () if quads is None else quads, strict=False):
        text = " ".join(str(raw).split())
        words = _words(groups[group], size) if group < len(groups) else None
        if words and "".join(w.text for w in words).replace(" ", "") == text.replace(" ", ""):
            group += 1
        else:
            words = _spread(text, _bounds(quad, size))
        if text:  # the height is the mean of the left and right edges: true on a tilt
            tall = abs(quad[3][1] - quad[0][1] + quad[2][1] - quad[1][1]) / 2 / size[1]
            centre = sum(point[1] for point in quad) / 4 / size[1]
            lines.append(_Line(text, tuple(words), centre, max(tall, 1e-4)))
    return lines


def _words(group, size: tuple[int, int]) -> list[OcrWord] | None:
    """The words from RapidOCR's (word, score, 4 points); None if not in that form."""
    try:
        words = [OcrWord(str(text).strip(), _bounds(points, size)) for text, _, points in group]
    except (TypeError, ValueError, IndexError):
        return None
    return [word for word in words if word.text] or None


def _spread(text: str, box: Box) -> list[OcrWord]:
    """A line's words, each given the share of the line's box its characters take."""
    (x0, y0, x1, y1), start, words = box, 0, []
    step = (x1 - x0) / max(len(text), 1)
    for word in text.split(" "):
        words.append(OcrWord(word, (x0 + start * step, y0, x0 + (start + len(word)) * step, y1)))
        start += len(word) + 1
    return words


def _bounds(points, size: tuple[int, int]) -> Box:
    """The box around pixel corners, as fractions of the picture's (width, height)."""
    xs = [min(1.0, max(0.0, float(p[0]) / size[0])) for p in points]
    ys = [min(1.0, max(0.0, float(p[1]) / size[1])) for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


def _reading_order(lines: list[_Line]) -> list[_Line]:
    """Top to bottom; a line whose centre is within half a line's height of a band's first
    line joins that band, read left to right (on a tilted scan too)."""
    bands: list[list[_Line]] = []
    for line in sorted(lines, key=lambda line: line.centre):
        first = bands[-1][0] if bands else None
        if first and abs(line.centre - first.centre) <= min(line.height, first.height) / 2:
            bands[-1].append(line)
        else:
            bands.append([line])
    return [line for band in bands for line in sorted(band, key=lambda ln: ln.words[0].box[0])]


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Raise _Expired in the body after `seconds` (main thread, no other alarm set), once
    Python gets control: RapidOCR gives it back after finding lines and each six read."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getitimer(signal.ITIMER_REAL)[0] > 0
    ):
        yield
        return
    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3))
    try:
        yield
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            signal.signal(signal.SIGALRM, previous)


def _expire(signum, frame) -> None:
    raise _Expired


@cache
def _engine():
    """The recogniser, built once per process (loading the models takes about a second)."""
    # Numerical libraries reserve address space for each of their threads when loaded,
    # and the parser process has an address-space limit; RapidOCR sets its own threads.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    from rapidocr import RapidOCR

    engine = RapidOCR(
        params={
            "Global.log_level": "error",
            # The line-direction classifier turns upright lines of scans upside down (at
            # up to 0.99 confidence): not used.
            "Global.use_cls": False,
            "Global.max_side_len": MAX_SIDE_PX,
            "Det.limit_type": "max",
            "Det.limit_side_len": DETECTION_SIDE_PX,
            # Two lines a batch: 100 MB less than six, as fast, and the alarm acts sooner.
            "Rec.rec_batch_num": 2,
            "EngineConfig.onnxruntime.intra_op_num_threads": THREADS,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
    )
    logging.getLogger("RapidOCR").setLevel(logging.ERROR)
    return engine
