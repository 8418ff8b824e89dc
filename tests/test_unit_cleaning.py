"""Text cleaning: one normal form, nothing invisible, words joined again."""

from __future__ import annotations

import pytest

from ingest.cleaning import clean_text, has_text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\ufb01nancial", "financial"),  # fi ligature
        ("o\ufb00ice \ufb02ow", "office flow"),  # ff and fl ligatures
        ("\uff21\uff22\uff23 \uff11\uff12\uff13", "ABC 123"),  # full-width letters and digits
        ("\ufe8d\ufee0\ufecc\ufeae\ufe91\ufef4\ufe93", "العربية"),  # Arabic presentation forms
        ("x\u00b2", "x2"),  # superscript two
        ("caf\u0065\u0301", "café"),  # decomposed accent composed
    ],
)
def test_nfkc_folds_compatibility_forms(raw, clean):
    assert clean_text(raw) == clean


@pytest.mark.parametrize("control", ["\x00", "\x07", "\x0b", "\x0c", "\x1b", "\x7f", "\x85"])
def test_control_characters_are_removed(control):
    cleaned = clean_text(f"alpha{control}beta")
    assert control not in cleaned
    assert cleaned == "alpha beta"


@pytest.mark.parametrize(
    "invisible", ["\u00ad", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\ue000", "\uf8ff"]
)
def test_invisible_characters_are_dropped_without_splitting_words(invisible):
    assert clean_text(f"docu{invisible}ment") == "document"


def test_hyphenated_line_break_is_joined():
    assert clean_text("an exam-\nple of this") == "an example of this"
    assert clean_text("an exam-\r\nple") == "an example"


def test_hyphen_before_a_capital_or_in_a_compound_is_kept():
    # "Anglo-\nSaxon" is a real compound; only a lower-case continuation is joined.
    assert clean_text("Anglo-\nSaxon") == "Anglo-\nSaxon"
    assert clean_text("well-known") == "well-known"


def test_line_breaks_are_kept_and_normalised():
    assert clean_text("one\r\ntwo\rthree\nfour") == "one\ntwo\nthree\nfour"


def test_blank_lines_collapse_to_one():
    assert clean_text("para one\n\n\n\n  \n\t\npara two") == "para one\n\npara two"


def test_spaces_collapse_and_lines_are_stripped():
    raw = "  lots \t of\u00a0\u00a0space\u3000here  \n   indented line   "
    assert clean_text(raw) == "lots of space here\nindented line"


def test_outer_whitespace_is_removed():
    assert clean_text("\n\n  text  \n\n") == "text"
    assert clean_text("   \n\t\n ") == ""
    assert clean_text("") == ""


def test_clean_text_is_idempotent():
    raw = "\ufb01rst exam-\nple\u00ad\n\n\n\uff21 \x00 end "
    once = clean_text(raw)
    assert clean_text(once) == once


def test_non_latin_text_is_kept():
    text = "日本語のテキスト。\n\nمرحبا بالعالم\n\nПривет"
    assert clean_text(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", False),
        ("   \n\t ", False),
        ("... --- !!!", False),
        ("\u200b\u00ad", False),
        ("a", True),
        ("7", True),
        ("  — 3 —  ", True),
        ("日本", True),
        ("مرحبا", True),
    ],
)
def test_has_text(text, expected):
    assert has_text(text) is expected
