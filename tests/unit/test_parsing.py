"""What parse_file accepts and refuses before any PDF parser runs, how text decodes, and
the limits a file and the parser process are held to."""

from __future__ import annotations

import json
import os
from signal import SIGKILL, SIGXCPU

import pytest

from ingest.parser_process import _reason_for_exit
from ingest.parsing import (
    ParsedFile,
    ParseLimits,
    parse_file,
    parse_limits,
    read_limited,
    too_large,
)
from rag.config import Settings
from rag.errors import IngestError
from tests.conftest import pdf


@pytest.mark.parametrize("name", ["a.pdf", "a.txt", "a.md", "a.docx", "noext"])
def test_empty_file_is_refused(name):
    with pytest.raises(IngestError, match="empty"):
        parse_file(name, b"")


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("scan.PNG", ".png"),
        ("slides.key", ".key"),
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


def test_parse_limits_defaults_match_the_settings():
    assert ParseLimits() == parse_limits(Settings())
    changed = parse_limits(Settings(parse_timeout_s=9, ocr=False, max_sheet_rows=7))
    assert (changed.timeout_s, changed.ocr, changed.max_sheet_rows) == (9, False, 7)


def test_the_cpu_limit_is_just_above_the_deadline():
    assert ParseLimits(timeout_s=10, ocr=False).cpu_s == 11
    assert ParseLimits(timeout_s=2.5, ocr=False).cpu_s == 4


def test_text_recognition_extends_the_deadline_and_the_cpu_limit_for_each_core():
    limits = ParseLimits(timeout_s=10, ocr_document_timeout_s=50)
    assert limits.deadline_s == 60
    assert limits.cpu_s == 60 * (os.cpu_count() or 1) + 1


def test_the_reply_cap_allows_the_largest_permitted_reply():
    limits = ParseLimits(max_pages=10, max_chars=1000)
    pages = ["\x01" * 100] * 10  # control characters: the longest JSON per character
    reply = json.dumps({"pages": pages, "unreadable_pages": list(range(1, 11))})
    assert len(reply.encode()) < limits.reply_bytes


def test_a_real_pdf_is_parsed():
    data = pdf("sf_minimal-document.pdf").read_bytes()
    parsed = parse_file("sf_minimal-document.pdf", data, limits=ParseLimits(timeout_s=60))
    assert len(parsed.pages) == 1
    assert "Lorem" in parsed.pages[0]
    assert parsed.unreadable_pages == ()


@pytest.mark.parametrize(
    "prefix",
    [b"<!DOCTYPE html><html>", b"<html><body>", b"  <script>alert(1)</script>", b"<SVG onload=x>"],
)
def test_a_web_page_with_a_pdf_after_it_is_refused(prefix):
    with pytest.raises(IngestError, match="starts as a web page"):
        parse_file("page.pdf", prefix + b"\n%PDF-1.4\n")


def test_junk_before_the_header_that_is_not_markup_goes_to_the_parser():
    # Mail and print systems put headers before a PDF; "<" in an address is no web page.
    with pytest.raises(IngestError, match="unreadable PDF"):
        parse_file("mail.pdf", b"From: <a@example.org>\r\n%PDF-1.4\nnothing else")


def test_a_text_file_over_the_character_limit_is_refused():
    limits = ParseLimits(max_chars=1000)
    assert parse_file("ok.txt", b"x" * 1000, limits=limits).pages == ("x" * 1000,)
    with pytest.raises(IngestError, match=r"too much text: more than 1,000 characters"):
        parse_file("long.txt", b"x" * 1001, limits=limits)


def test_utf16_text_with_its_byte_order_mark_decodes():
    text = "Grüße, 東京"
    assert parse_file("notepad.txt", text.encode("utf-16")).pages == (text,)


def test_a_binary_file_under_a_text_name_is_refused():
    with pytest.raises(IngestError, match="not a text file"):
        parse_file("photo.txt", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.pdf"
    path.write_bytes(b"x" * 2048)
    assert read_limited(path, 2048) == b"x" * 2048
    with pytest.raises(IngestError, match=r"file too large: 0\.0 MB \(the limit is 0 MB"):
        read_limited(path, 2047)


def test_too_large_names_the_size_and_the_setting():
    assert too_large(150 * 1024 * 1024, 100 * 1024 * 1024) == (
        "file too large: 150.0 MB (the limit is 100 MB, RAG_MAX_UPLOAD_MB)"
    )


def test_a_parser_stopped_by_a_signal_is_explained():
    limits = ParseLimits(timeout_s=7, memory_mb=300, ocr=False)
    assert "took longer than 7 s" in _reason_for_exit(-SIGXCPU, limits)
    assert "crashed" in _reason_for_exit(-SIGKILL, limits)
    assert "300 MB" in _reason_for_exit(1, limits)


def test_a_reply_over_the_cap_is_refused():
    class TinyReply(ParseLimits):
        @property
        def reply_bytes(self) -> int:
            return 10

    data = pdf("sf_minimal-document.pdf").read_bytes()
    with pytest.raises(IngestError, match="more text than the limits allow"):
        parse_file("minimal.pdf", data, limits=TinyReply(timeout_s=60))
