"""Where a chunk's passage lies on its page: pure functions from texts and boxes to boxes.

A born-digital page: the chunk's words are aligned with the page's words (both folded to
one form: case, ligatures and full-width forms by NFKC, quotes and dashes, words split by
a hyphen at a line end joined again, as cleaning joined them), and each run of matched
characters on one line becomes one rectangle. Only the chunk's words that are on this
page find a partner, so a chunk over two pages is boxed on each. A page read by text
recognition: the chunk's stored word boxes for that page, merged line by line. Boxes are
fractions of the page, origin top left.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from ingest.viewer.views import Box
from rag.documents import CJK_CHARS

NOT_FOUND = "The passage could not be located on this page."
# A run of fewer matched words than this is taken for chance ("of the", a page number)
# unless its letters are many or it is the whole passage.
MIN_RUN_WORDS = 3
MIN_RUN_LETTERS = 12
# A gap wider than this many line heights starts a new rectangle on the same line (the
# next column of a table).
MAX_GAP_LINES = 4.0
# Two boxes are on one line when their spans across the line overlap by half the smaller.
SAME_LINE_OVERLAP = 0.5

_FOLD = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032`\u00b4", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d\x02", "-"),
    }
)
# PDFium writes a hyphen that ends a line, where it joins the halves of a word, as U+0002.
_LINE_END_HYPHEN = "\x02"
_HYPHENS = "-\u00ad\u2010\u2011"
_CJK = re.compile(f"[{CJK_CHARS}]")


@dataclass(frozen=True)
class Highlight:
    """The rectangles that mark a passage on one page, and a note when there are none."""

    boxes: tuple[Box, ...]
    note: str | None = None


def words_of(chars: str) -> list[tuple[str, tuple[int, ...]]]:
    """The words of a text in one folded form, each with the indexes of the characters it
    came from. A word is a run of letters and digits; each CJK character is a word (those
    scripts put no spaces between words)."""
    words: list[tuple[str, tuple[int, ...]]] = []
    letters: list[str] = []
    indexes: list[int] = []
    for char, index in _folded(chars):
        if char.isalnum() and not _CJK.match(char):
            letters.append(char)
            indexes.append(index)
            continue
        if letters:
            words.append(("".join(letters), tuple(indexes)))
            letters, indexes = [], []
        if _CJK.match(char):
            words.append((char, (index,)))
    if letters:
        words.append(("".join(letters), tuple(indexes)))
    return words


def _folded(chars: str) -> Iterator[tuple[str, int]]:
    """(folded character, index it came from): NFKC, case folded, one kind of quote and
    dash, and the hyphen and line break of a word cut at a line end left out."""
    resume = 0
    for index, char in enumerate(chars):
        if index < resume:
            continue
        resume = _past_cut(chars, index)
        if resume:
            continue
        for folded in unicodedata.normalize("NFKC", char.translate(_FOLD)).casefold():
            yield folded, index


def _past_cut(chars: str, index: int) -> int:
    """Where the rest of a word cut by a hyphen at a line end starts, when `index` is that
    hyphen ("exam-\\nple", as cleaning joins it: before a lowercase letter); else 0."""
    char = chars[index]
    at_line_end = char == _LINE_END_HYPHEN or (
        char in _HYPHENS and chars[index + 1 : index + 2] in ("\n", "\r")
    )
    if not at_line_end or index == 0 or not chars[index - 1].isalnum():
        return 0
    end = index + 1
    while end < len(chars) and chars[end] in "\r\n":
        end += 1
    return end if end < len(chars) and chars[end].islower() else 0


def matched_chars(passage: str, page_text: str) -> list[int]:
    """Indexes of the page's characters in words that align with the passage's words, in
    order; runs too short to be more than chance are left out."""
    passage_words = [word for word, _ in words_of(passage)]
    page_words = words_of(page_text)
    matcher = SequenceMatcher(None, passage_words, [w for w, _ in page_words], autojunk=False)
    found: list[int] = []
    for block in matcher.get_matching_blocks():
        run = passage_words[block.a : block.a + block.size]
        if run and _significant(run, len(passage_words)):
            for _, indexes in page_words[block.b : block.b + block.size]:
                found.extend(indexes)
    return sorted(found)


def _significant(run: Sequence[str], passage_length: int) -> bool:
    letters = sum(map(len, run))
    return len(run) >= MIN_RUN_WORDS or letters >= MIN_RUN_LETTERS or len(run) == passage_length


def text_highlight(passage: str, page_text: str, page_boxes: Sequence[Box | None]) -> Highlight:
    """The boxes of a passage on a page with a text layer (`page_boxes[i]` is the box of
    `page_text[i]`, None for characters without one)."""
    boxes = [page_boxes[i] for i in matched_chars(passage, page_text) if i < len(page_boxes)]
    return _highlight(merge_line_boxes([box for box in boxes if box is not None]))


def ocr_highlight(word_boxes: Sequence[Sequence[float]], page: int) -> Highlight:
    """The boxes of a passage on a page read by text recognition, from its chunk's word
    boxes (page, x0, y0, x1, y1), in reading order."""
    boxes = [tuple(map(float, box[1:5])) for box in word_boxes if len(box) == 5 and box[0] == page]
    return _highlight(merge_line_boxes(boxes))


def _highlight(boxes: list[Box]) -> Highlight:
    return Highlight(tuple(boxes), None if boxes else NOT_FOUND)


def merge_line_boxes(boxes: Sequence[Box]) -> list[Box]:
    """Boxes in reading order merged into one rectangle per run on one line. A line runs
    across the page, or down it on a page turned a quarter; the first two boxes of a run
    tell which."""
    merged: list[Box] = []
    across: bool | None = None
    for box in boxes:
        if merged and (direction := _continues(merged[-1], box, across)) is not None:
            merged[-1], across = _union(merged[-1], box), direction
        else:
            merged.append(box)
            across = None
    return merged


def _continues(run: Box, box: Box, across: bool | None) -> bool | None:
    """The direction in which `box` extends `run` (True across the page), or None when it
    starts a new one."""
    for direction in (True, False) if across is None else (across,):
        if _in_line(run, box) if direction else _in_line(_turned(run), _turned(box)):
            return direction
    return None


def _in_line(run: Box, box: Box) -> bool:
    """True when `box` sits on the line of `run` (a run read left to right), just after
    it or within it."""
    height = min(run[3] - run[1], box[3] - box[1])
    overlap = min(run[3], box[3]) - max(run[1], box[1])
    if height <= 0 or overlap < SAME_LINE_OVERLAP * height:
        return False
    gap = box[0] - run[2]
    return -height <= gap <= MAX_GAP_LINES * height or run[0] <= box[0] <= run[2]


def _turned(box: Box) -> Box:
    return (box[1], box[0], box[3], box[2])


def _union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
