"""Text cleaning: one normal form, nothing invisible, words joined again; junk text layers
told from real text in any script."""

from __future__ import annotations

import json

import pytest

from ingest.cleaning import (
    PageCheck,
    check_pages,
    clean_text,
    has_text,
    looks_like_junk,
    no_text_reason,
    wordlike_share,
)
from tests.conftest import DATA


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


# --- junk text layers --------------------------------------------------------------------

# pypdf's issue-301.pdf: a scan whose OCR layer is symbol soup.
FAILED_OCR = (
    ":.,\ndP\n. .\ni, .\n. . ?\n. i '\n»\n14\ne.\n:\n..\nPr\n. srN\n• ki ., ,\nLIL\nk\n1\nsa\ns\n"
    "..\n% ,\n2\nY. .\ng . %Z.. ,\nI '\nI\n.4\ni\n\\\n...\n' 4 .n.,\n.\ni\n—.\n. 41.\n1111101"
)
# pdfminer's jo.pdf through pypdf: glyph ids of a font without a character map.
UNMAPPED_GLYPHS = "ɹɹং\nΘͨ͘͠ͱ͍;ݱ\u09c5\u0378၊ఆ͞Εͨ༗ަػྲྀి౯ͷͻͱͭͷ੨͍র໌Ͱ͢ớ͋ΒΏΔಁ໌ͳ༓ྶͷෳ߹ମỜ෩ܠ" * 3
REAL_TEXT = {
    "english": "Beekeepers in the northern valley harvest lavender honey every July, and the"
    " hives stand on the south side of the orchard.",
    "spanish": "Decreto 100 FIJA EL TEXTO REFUNDIDO, COORDINADO Y SISTEMATIZADO DE LA"
    " CONSTITUCIÓN POLÍTICA DE LA REPÚBLICA DE CHILE; y a las organizaciones sindicales.",
    "spanish form with leaders": "D./Dña.............................. con número de D.N.I.,"
    " N.I.E. o pasaporte ....................., nacido/a el .......... de .............",
    "japanese": "電線接続端子部が次のいずれにも該当しないとき。 ａ ねじ止め端子であること。"
    " ｂ ねじなし端子であって、工具を用いずに電線の接続を行うことができる速結端子",
    "chinese": "盐城高新区投资集团有限公司2023 年度第四期超短期融资券募集说明书 251"
    " 第七章 企业资信状况 一、发行人历史信用评级情况 表7-1:发行人历史评级情况",
    "arabic": "حَبيبي habibi حَبيبي مرحبا بالعالم هذه جملة عربية طويلة بما يكفي للحكم عليها",
    "numbers": "Alabama 18,870 23,022 22,650 859 1,178 0 14 15 0 2,179 2,307 11 0 0 0 13 14"
    " 0 3 2 0 71,137\nAlaska 209 3,062 3,209 191 184 0 9 3 0 100 100 0 18 9 1 0 0 0 0 0 0",
    "code": "for (int i = 0; i < n; i++) { a[i] = b[i] * c[i]; }\nstd::vector<int> v;"
    " v.push_back(42); if (a && b || !c) { return -1; }\ndef f(x): return {'n': len(x)}",
    "formula": "Let f(x) = a x^2 + b x + c, then f'(x) = 2 a x + b = 0 gives x = -b / (2 a),"
    " and ∑_{i=1}^{n} x_i = n μ with σ^2 = (1/n) ∑ (x_i - μ)^2 , p < 0.05",
    "table of contents": "INTRODUCTION . . . . . . . . . . . . . . . . . . . . . . . 394"
    " POLLINATION AND POLLEN TUBE GROWTH . . . . . . . . . . . . . . . . . . . 395",
    "markdown table": "| Name | Value | Unit |\n|------|-------|------|\n| alpha | 1 | m |\n"
    "| beta | 2.5 | kg |\n| gamma | 30 | s |\n| delta | 4 | A |\n| epsilon | 0.5 | K |",
    "multilingual": "English: Hello World\nArabic: مرحبا بالعالم\nRussian: Привет, мир\n"
    "Chinese: 你好世界\nThai: สวัสดีชาวโลก\nJapanese: こんにちは世界",
}


@pytest.mark.parametrize("text", [FAILED_OCR, UNMAPPED_GLYPHS], ids=["failed OCR", "glyph ids"])
def test_junk_text_is_recognised(text):
    assert looks_like_junk(clean_text(text))


@pytest.mark.parametrize("kind", list(REAL_TEXT))
def test_real_text_in_any_script_or_layout_is_not_junk(kind):
    text = clean_text(REAL_TEXT[kind])
    assert wordlike_share(text) is not None, "too short to be judged: the test proves nothing"
    assert not looks_like_junk(text)


@pytest.mark.parametrize("text", ["", "Page 3", ". , ; : ? !", "— 12 —", "3HQČåQt SURVW"])
def test_short_text_is_never_judged(text):
    assert wordlike_share(text) is None
    assert not looks_like_junk(text)


def test_check_pages_tells_empty_pages_from_junk_pages():
    pages = ["Real words on the first page of a document, enough of them.", "", FAILED_OCR]
    check = check_pages([clean_text(page) for page in pages])
    assert check == PageCheck(without_text=(2,), junk_text=(3,))
    assert check.unusable == (2, 3)


@pytest.mark.parametrize(
    ("check", "pages", "unreadable", "words"),
    [
        (PageCheck((), (1,)), 1, (), "looks like junk, not words, on every page"),
        (PageCheck((1,), (2,)), 2, (), "on 1 of 2 pages, and the others have no text"),
        (PageCheck((1, 2), ()), 2, (1, 2), "no page could be read: why"),
        (PageCheck((1, 2), ()), 2, (1,), "no text found"),
    ],
)
def test_no_text_reason_says_what_was_found(check, pages, unreadable, words):
    assert words in no_text_reason(check, pages, unreadable, "why")


def test_no_scifact_abstract_is_taken_for_junk():
    corpus = DATA / "scifact" / "corpus.jsonl"
    if not corpus.is_file():
        pytest.skip(f"SciFact not found at {corpus}")
    with corpus.open() as lines:
        texts = [json.loads(line)["text"] for line in lines]
    assert [t[:80] for t in texts if looks_like_junk(clean_text(t))] == []
