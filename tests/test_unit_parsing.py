"""What parse_file accepts and refuses before any PDF parser runs, and how text decodes."""

from __future__ import annotations

import pytest

from ingest.parsing import ParsedFile, ParseLimits, parse_file
from rag.errors import IngestError
from tests.conftest import pdf


@pytest.mark.parametrize("name", ["a.pdf", "a.txt", "a.md", "a.docx", "noext"])
def test_empty_file_is_refused(name):
    with pytest.raises(IngestError, match="empty"):
        parse_file(name, b"")


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("report.docx", ".docx"),
        ("scan.PNG", ".png"),
        ("archive.tar.gz", ".gz"),
        ("README", "(none)"),
    ],
)
def test_unsupported_type_is_refused_and_named(name, shown):
    with pytest.raises(IngestError, match="unsupported") as raised:
        parse_file(name, b"PK\x03\x04 some bytes")
    message = str(raised.value)
    assert shown in message
    assert ".pdf" in message  # and says what would work


@pytest.mark.parametrize("data", [b"hello", b"%pdf-1.7 lower case", b" " * 1024 + b"%PDF-1.7"])
def test_pdf_without_its_header_in_the_first_kilobyte_is_refused(data):
    with pytest.raises(IngestError, match="not a PDF"):
        parse_file("paper.pdf", data)


def test_header_after_some_junk_is_accepted_as_a_pdf():
    # The check lets it through to the parser, which then reports what is wrong with it.
    with pytest.raises(IngestError) as raised:
        parse_file("paper.pdf", b"junk before\n%PDF-1.4\nbut nothing else")
    assert "not a PDF" not in str(raised.value)
    assert "unreadable PDF" in str(raised.value)


def test_utf8_text_decodes():
    parsed = parse_file("notes.txt", "Grüße, 東京, مرحبا\nline two".encode())
    assert parsed == ParsedFile(("Grüße, 東京, مرحبا\nline two",))
    assert parsed.unreadable_pages == ()


def test_utf8_byte_order_mark_is_dropped():
    parsed = parse_file("notes.txt", b"\xef\xbb\xbfhello world")
    assert parsed.pages == ("hello world",)


def test_cp1252_text_decodes():
    data = "Café – “quoted” €5".encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert parse_file("old.txt", data).pages == ("Café – “quoted” €5",)


def test_undefined_cp1252_bytes_do_not_fail():
    # 0x81 is not mapped in cp1252; it becomes a replacement character, not an error.
    (page,) = parse_file("odd.txt", b"abc\x81def\xff").pages
    assert page.startswith("abc")
    assert page.endswith("def\u00ff")


@pytest.mark.parametrize("name", ["README.md", "notes.markdown", "NOTES.TXT", "Doc.MD"])
def test_markdown_and_text_suffixes_in_any_case(name):
    text = "# Title\n\nSome *text* here."
    assert parse_file(name, text.encode()).pages == (text,)


def test_text_file_is_one_page_even_with_form_feeds():
    text = "page one\fpage two"
    assert parse_file("a.txt", text.encode()).pages == (text,)


def test_pdf_header_check_is_case_insensitive_on_the_suffix():
    with pytest.raises(IngestError, match="not a PDF"):
        parse_file("PAPER.PDF", b"hello")


def test_parse_limits_defaults():
    assert ParseLimits() == ParseLimits(timeout_s=120.0, memory_mb=1024)


def test_a_real_pdf_is_parsed():
    data = pdf("sf_minimal-document.pdf").read_bytes()
    parsed = parse_file("sf_minimal-document.pdf", data, limits=ParseLimits(timeout_s=60))
    assert len(parsed.pages) == 1
    assert "Lorem" in parsed.pages[0]
    assert parsed.unreadable_pages == ()
