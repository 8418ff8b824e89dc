"""What a PDF's plain text loses: headings, told by their font, and tables, as rows.

Works on pypdf page objects handed in by `ingest.pdf_worker`, the one module that imports
pypdf. `scan_page` reads a page once, its text exactly `page.extract_text()`, while a
visitor notes the size and weight of each piece; `headings_in` then picks, per document,
the short lines set larger than the body text or in bold. `page_text_with_tables` reads a
page with many numbers a second time in pypdf's layout mode and writes the tables found
there as Markdown rows in place of their cells in the plain text (`ingest.layout_tables`).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ingest.layout_tables import find_layout_tables, looks_tabular, splice_tables

# Also Semibold and ExtraBold; "Medi" is the bold of the Times clones TeX uses.
BOLD_FONT = re.compile(r"bold|black|heavy|medi", re.IGNORECASE)
LARGER = 1.15  # a heading's size over the body's, when it is not bold
BODY_LIKE, BODY_LIKE_MAX = 0.95, 1.05  # sizes within these shares of the body are alike
MAX_HEADING_LINES = 3
MAX_WORDS, MAX_HEADING_CHARS, MAX_LEVELS = 12, 200, 3
# Many lines in one style on one page are a figure's labels or a table's, not headings.
MAX_SAME_STYLE_PER_PAGE = 4
MAX_HEADINGS_PER_PAGE, MAX_HEADINGS = 6, 2000
MAX_LINES_PER_PAGE, MAX_CANDIDATES_PER_PAGE = 5000, 200  # what a hostile page may cost
RUNNING_SHARE = 0.3  # text on more pages than this share is a running header or footer
_PAGE_NUMBER = re.compile(r"^(page\s+)?([ivxlcdm]+|\d+)(\s+(of|/)\s+\d+)?$", re.IGNORECASE)
_LETTERS = re.compile(r"[^\W\d_]{2}")

Style = tuple[float, bool]  # size in points as drawn (one decimal), bold


class Heading(NamedTuple):
    """A heading: 1-based page, level (1 the largest), text exactly as in the page text."""

    page: int
    level: int
    text: str


@dataclass(frozen=True)
class Line:
    """A short line of a page's text in one style: [start, end) in the text, its number
    among the page's lines, and the main style of the line after it (None at the end)."""

    start: int
    end: int
    index: int
    style: Style
    after: Style | None = None


@dataclass(frozen=True)
class PageScan:
    """A page's plain text, its short single-style lines, and its characters per style."""

    text: str
    lines: tuple[Line, ...]
    weights: tuple[tuple[Style, int], ...]


class _Visitor:
    """Called by pypdf with each piece of text; the pieces add up to the page's text."""

    def __init__(self) -> None:
        self.offset = self.start = 0
        self.line: Counter[Style] = Counter()
        self.weights: Counter[Style] = Counter()
        self.lines: list[tuple[int, int, Style | None, Style]] = []
        self.bold: dict[int, bool] = {}
        self.x, self.backwards = -math.inf, False

    def __call__(self, text: str, cm, tm, font, size) -> None:
        style = (round(_drawn_size(cm, tm, size), 1), self._is_bold(font))
        for number, part in enumerate(text.split("\n")):
            if number:
                self.end_line()
                self.offset += 1
                self.start = self.offset
            weight = len("".join(part.split()))
            if weight:
                self._place(tm[4] * cm[0] + tm[5] * cm[2] + cm[4])
            self.line[style] += weight
            self.weights[style] += weight
            self.offset += len(part)

    def _place(self, x: float) -> None:
        """Text drawn right to left within a line is a figure's labels, not a heading."""
        self.backwards = self.backwards or x < self.x - 1
        self.x = x

    def end_line(self) -> None:
        styles = [style for style, weight in self.line.items() if weight]
        if styles and len(self.lines) < MAX_LINES_PER_PAGE:
            single = styles[0] if len(styles) == 1 and not self.backwards else None
            main = max(styles, key=lambda style: self.line[style])
            self.lines.append((self.start, self.offset, single, main))
        self.line = Counter()
        self.x, self.backwards = -math.inf, False

    def _is_bold(self, font) -> bool:
        if id(font) not in self.bold:
            name = str(font.get("/BaseFont", "")) if hasattr(font, "get") else ""
            self.bold[id(font)] = bool(BOLD_FONT.search(name))
        return self.bold[id(font)]


def _drawn_size(cm, tm, size) -> float:
    """The font size times the vertical scale of the text matrix times the page's."""
    c = tm[2] * cm[0] + tm[3] * cm[2]
    d = tm[2] * cm[1] + tm[3] * cm[3]
    return abs(float(size)) * math.hypot(c, d)


def scan_page(page) -> PageScan:
    """One extraction of the page: its plain text and what `headings_in` needs from it."""
    visitor = _Visitor()
    text = page.extract_text(visitor_text=visitor) or ""
    visitor.end_line()
    # The pieces make up the text in every pypdf release tried; should they not, no lines.
    found, lines = [], visitor.lines if visitor.offset == len(text) else []
    for index, (start, end, style, _) in enumerate(lines):
        short = len(text[start:end].split()) <= MAX_WORDS and end - start <= MAX_HEADING_CHARS
        if style is not None and short and len(found) < MAX_CANDIDATES_PER_PAGE:
            after = lines[index + 1][3] if index + 1 < len(lines) else None
            found.append(Line(start, end, index, style, after))
    return PageScan(text, tuple(found), tuple(visitor.weights.items()))


def find_headings(pages: Iterable) -> list[Heading]:
    """The headings of a document's pages, by font size and weight (see `headings_in`)."""
    return headings_in([scan_page(page) for page in pages])


def headings_in(scans: Sequence[PageScan]) -> list[Heading]:
    """Short lines standing alone, set clearly larger than the body text or bold at its
    size and followed by smaller text, leaving out running headers and footers, page
    numbers and the labels of figures; levels by size, largest first."""
    body = _body_style(scans)
    if body is None:
        return []
    crowded = _crowded(scans, body)
    merged = [c for number, scan in enumerate(scans, start=1) for c in _merged(number, scan)]
    running = _running(merged, len(scans))
    kept = _bounded(
        [
            c
            for c in merged
            if (c.page, c.style) not in crowded
            and _key(c.text) not in running
            and _is_heading(c, body)
        ]
    )
    ranks = sorted({_level_key(c.style) for c in kept}, key=lambda key: (-key[0], not key[1]))
    level = {key: min(rank + 1, MAX_LEVELS) for rank, key in enumerate(ranks)}
    return [Heading(c.page, level[_level_key(c.style)], c.text) for c in kept]


def _body_style(scans: Sequence[PageScan]) -> Style | None:
    """The size covering most characters, and whether most of them at that size are bold."""
    weights: Counter[Style] = Counter()
    for scan in scans:
        weights.update(dict(scan.weights))
    sizes: Counter[float] = Counter()
    for (size, _), weight in weights.items():
        sizes[size] += weight
    if not sizes or sizes.most_common(1)[0][1] == 0:
        return None
    size = sizes.most_common(1)[0][0]
    return size, weights[(size, True)] > weights[(size, False)]


@dataclass(frozen=True)
class _Candidate:
    page: int
    text: str
    style: Style
    lines: int
    after: Style | None


def _crowded(scans: Sequence[PageScan], body: Style) -> set[tuple[int, Style]]:
    """(page, style) where many lines stand out alike: a figure's or a table's labels."""
    count = Counter(
        (number, line.style)
        for number, scan in enumerate(scans, start=1)
        for line in scan.lines
        if _stands_out(line.style, body)
    )
    return {key for key, lines in count.items() if lines > MAX_SAME_STYLE_PER_PAGE}


def _merged(number: int, scan: PageScan) -> list[_Candidate]:
    """Lines in one style, a heading wrapped over consecutive lines joined into one."""
    runs: list[list[Line]] = []
    for line in scan.lines:
        last = runs[-1][-1] if runs else None
        if last and last.index + 1 == line.index and last.style == line.style:
            runs[-1].append(line)
        else:
            runs.append([line])
    return [
        _Candidate(
            number,
            scan.text[run[0].start : run[-1].end].strip(),
            run[0].style,
            len(run),
            run[-1].after,
        )
        for run in runs
    ]


def _is_heading(candidate: _Candidate, body: Style) -> bool:
    """Stands out, is short, and text in the body's size or a smaller heading follows."""
    size, after = candidate.style[0], candidate.after
    followed = after is None or _follows_heading(after, size, body)
    return (
        followed
        and candidate.lines <= MAX_HEADING_LINES
        and _stands_out(candidate.style, body)
        and _looks_like_heading(candidate.text)
    )


def _follows_heading(after: Style, size: float, body: Style) -> bool:
    """Body text follows a heading, or smaller plain text (notes), or a smaller heading;
    a figure's labels are followed by more labels."""
    if after[0] <= BODY_LIKE_MAX * body[0]:
        return after[0] >= BODY_LIKE * body[0] or not after[1]
    return LARGER * body[0] <= after[0] < BODY_LIKE * size


def _stands_out(style: Style, body: Style) -> bool:
    size, bold = style
    larger = size >= LARGER * body[0]
    return larger or (bold and not body[1] and size >= BODY_LIKE * body[0])


def _looks_like_heading(text: str) -> bool:
    return (
        0 < len(text) <= MAX_HEADING_CHARS
        and len(text.split()) <= MAX_WORDS
        and all(_LETTERS.search(line) for line in text.split("\n") if line.strip())
        and not text.endswith((".", ",", ";", "-"))
        and not _PAGE_NUMBER.match(text)
    )


def _key(text: str) -> str:
    """Alike for a running header on every page: digits, case and spacing set aside."""
    return " ".join(re.sub(r"\w*\d\w*", "#", text).casefold().split())


def _running(found: list[_Candidate], pages: int) -> set[str]:
    """Texts on many pages: running headers and footers."""
    on_pages: defaultdict[str, set[int]] = defaultdict(set)
    for candidate in found:
        on_pages[_key(candidate.text)].add(candidate.page)
    share = RUNNING_SHARE * pages
    return {key for key, seen in on_pages.items() if len(seen) >= 2 and len(seen) > share}


def _bounded(found: list[_Candidate]) -> list[_Candidate]:
    """At most a few headings per page, and a bounded number in all."""
    kept: list[_Candidate] = []
    per_page: Counter[int] = Counter()
    for candidate in found:
        if per_page[candidate.page] < MAX_HEADINGS_PER_PAGE and len(kept) < MAX_HEADINGS:
            kept.append(candidate)
            per_page[candidate.page] += 1
    return kept


def _level_key(style: Style) -> Style:
    return round(style[0] * 2) / 2, style[1]


def page_text_with_tables(page, text: str | None = None) -> tuple[str, int]:
    """The page's plain text (`text` when already read) with its tables written as
    Markdown rows, and how many; pages with few numbers are not read a second time."""
    text = page.extract_text() if text is None else text
    if not looks_tabular(text):
        return text, 0
    try:
        layout = page.extract_text(extraction_mode="layout")
    except MemoryError:
        raise
    except Exception:
        # pypdf calls layout mode experimental: a page it fails on keeps its plain text.
        return text, 0
    return splice_tables(text, find_layout_tables(layout))
