"""Finding a passage on its page: word folding, alignment with the page's words, and the
merging of character and word boxes into one rectangle per line."""

from __future__ import annotations

from io import BytesIO

import pytest
from PIL import Image

from ingest.viewer.drawing import draw_boxes
from ingest.viewer.highlight import (
    NOT_FOUND,
    matched_chars,
    merge_line_boxes,
    ocr_highlight,
    text_highlight,
    words_of,
)
from ingest.viewer.views import PageViewError

CHAR_W, LINE_H, LEFT, TOP = 0.01, 0.02, 0.1, 0.1


def page(*lines: str, leading: float = 1.5) -> tuple[str, list]:
    """A page as PDFium gives it: characters of each line in fixed-width boxes, and a
    made-up line break ("\\r\\n", no box) between lines."""
    text, boxes = [], []
    for number, line in enumerate(lines):
        if number:
            text.append("\r\n")
            boxes += [None, None]
        top = TOP + number * LINE_H * leading
        for column, char in enumerate(line):
            text.append(char)
            x = LEFT + column * CHAR_W
            boxes.append(None if char == " " else (x, top, x + CHAR_W, top + LINE_H))
    return "".join(text), boxes


def line_box(line: int, first: int, last: int, leading: float = 1.5) -> tuple:
    """The rectangle around characters first..last (inclusive) of a line of `page`."""
    top = TOP + line * LINE_H * leading
    return (LEFT + first * CHAR_W, top, LEFT + (last + 1) * CHAR_W, top + LINE_H)


def flat(boxes) -> list[float]:
    return [value for box in boxes for value in box]


def test_words_are_folded_to_one_form_with_their_characters():
    words = words_of("The \ufb01rst \u201cBig\u201d Fish\u2014caught")
    assert [w for w, _ in words] == ["the", "first", "big", "fish", "caught"]
    assert words[1][1] == (4, 4, 5, 6, 7)  # the ligature gives two letters of one character
    assert words_of("ＡＢＣ 12") == [("abc", (0, 1, 2)), ("12", (4, 5))]


def test_a_word_cut_at_a_line_end_is_joined_as_cleaning_joins_it():
    assert [w for w, _ in words_of("exam-\r\nple")] == ["example"]
    assert [w for w, _ in words_of("com\x02pile")] == ["compile"]  # PDFium's line-end hyphen
    # Before a capital, cleaning keeps both halves: so does the page side.
    assert [w for w, _ in words_of("Anglo-\nSaxon")] == ["anglo", "saxon"]
    assert [w for w, _ in words_of("well-known")] == ["well", "known"]


def test_each_cjk_character_is_a_word():
    assert [w for w, _ in words_of("東京都 in 2024")] == ["東", "京", "都", "in", "2024"]


def test_the_passage_s_words_are_found_whatever_the_line_breaks():
    text, _ = page("Honey prices rose sharply in the", "spring of 2024, said the co-", "operative.")
    passage = "Honey prices rose sharply in the spring of 2024, said the cooperative."
    found = matched_chars(passage, text)
    letters = [i for i, c in enumerate(text) if c.isalnum()]
    assert found == letters


def test_words_of_the_passage_not_on_the_page_find_nothing():
    text, _ = page("Bees forage within three kilometres of the hive.")
    assert matched_chars("Tractors were repaired in the barn last winter.", text) == []


def test_short_runs_that_match_by_chance_are_left_out():
    text, _ = page("Bees forage within three kilometres of the hive.")
    # "of the" is on the page, but two short words in a long passage are chance.
    passage = "The accounts of the year were approved by the annual general meeting."
    assert matched_chars(passage, text) == []
    # A passage of only two words is found.
    start = text.index("the hive")
    assert matched_chars("the hive", text) == [
        *range(start, start + 3),
        *range(start + 4, start + 8),
    ]


def test_a_passage_gets_one_rectangle_per_line():
    text, boxes = page("Orchard notes:", "prune the apple trees in", "March, never in May.")
    found = text_highlight("prune the apple trees in March, never in May.", text, boxes)
    assert found.note is None
    assert flat(found.boxes) == pytest.approx(flat([line_box(1, 0, 23), line_box(2, 0, 18)]))


def test_a_passage_over_two_pages_is_boxed_on_each_with_its_own_part():
    first, first_boxes = page("Intro line here.", "The swarm left the hive at noon and")
    second, second_boxes = page("settled in the old walnut tree by the well.", "Next topic.")
    passage = "The swarm left the hive at noon and\n\nsettled in the old walnut tree by the well."
    on_first = text_highlight(passage, first, first_boxes)
    on_second = text_highlight(passage, second, second_boxes)
    assert flat(on_first.boxes) == pytest.approx(flat([line_box(1, 0, 34)]))
    assert flat(on_second.boxes) == pytest.approx(flat([line_box(0, 0, 41)]))


def test_a_passage_not_on_the_page_gives_no_boxes_and_a_note():
    text, boxes = page("Bees forage within three kilometres of the hive.")
    found = text_highlight("Tractors were repaired in the barn.", text, boxes)
    assert found.boxes == () and found.note == NOT_FOUND


def test_boxes_on_one_line_merge_and_a_new_line_starts_a_new_rectangle():
    boxes = [(0.1, 0.1, 0.2, 0.12), (0.21, 0.101, 0.3, 0.121), (0.1, 0.13, 0.2, 0.15)]
    assert merge_line_boxes(boxes) == [(0.1, 0.1, 0.3, 0.121), (0.1, 0.13, 0.2, 0.15)]


def test_a_wide_gap_on_one_line_starts_a_new_rectangle():
    # Two table cells on one row, far apart: two rectangles, not one across the gap.
    boxes = [(0.1, 0.1, 0.2, 0.12), (0.7, 0.1, 0.8, 0.12)]
    assert merge_line_boxes(boxes) == boxes


def test_text_running_down_a_turned_page_merges_down():
    boxes = [(0.5, 0.1, 0.52, 0.11), (0.5, 0.11, 0.52, 0.12), (0.5, 0.12, 0.52, 0.13)]
    assert merge_line_boxes(boxes) == [(0.5, 0.1, 0.52, 0.13)]
    # The next column of turned text is not merged into the first.
    assert len(merge_line_boxes([*boxes, (0.55, 0.1, 0.57, 0.11)])) == 2


def test_ocr_word_boxes_of_the_page_merge_line_by_line():
    words = [
        (1, 0.1, 0.1, 0.2, 0.12),
        (1, 0.21, 0.102, 0.3, 0.122),  # a slightly tilted scan
        (1, 0.1, 0.14, 0.25, 0.16),
        (2, 0.1, 0.1, 0.2, 0.12),  # on the next page
    ]
    found = ocr_highlight(words, 1)
    assert found.note is None
    assert found.boxes == ((0.1, 0.1, 0.3, 0.122), (0.1, 0.14, 0.25, 0.16))
    assert ocr_highlight(words, 3).boxes == () and ocr_highlight(words, 3).note == NOT_FOUND


def test_a_picture_that_is_not_a_page_sized_png_is_refused():
    with pytest.raises(PageViewError, match="not a page"):
        draw_boxes(b"GIF89a not a png", [(0.1, 0.1, 0.2, 0.2)])
    huge = BytesIO()
    Image.new("L", (6000, 5000)).save(huge, format="PNG")  # 30 million pixels
    with pytest.raises(PageViewError, match="not a page"):
        draw_boxes(huge.getvalue(), [])
