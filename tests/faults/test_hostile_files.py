"""Hostile and broken files: each gets its own clear reason, in bounded time and memory, and
a failed file leaves nothing behind. Generated cases come from tests/support/hostile_pdfs.py, real
ones from the shared corpus (see its catalog.json)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from signal import SIGXCPU

import pytest
from streamlit.testing.v1 import AppTest

import tests.support.hostile_pdfs as hostile
from ingest.files import FileStatus
from ingest.parsing import ParseLimits, parse_file
from ingest.pipeline import Ingestor
from ingest.queue import JobStore, QueueWorker
from pages.common import clear_engine
from rag.errors import IngestError
from rag.results import SearchOptions
from rag.safe_text import display_name
from rag.search.retriever import Retriever
from rag.stores.library import Library
from tests.app.conftest import upload
from tests.conftest import ROOT, pdf

# Small limits, so that every case ends quickly; MARGIN_S covers starting the parser and,
# for files that are ingested, embedding their chunks on a busy machine.
TIMEOUT_S = 10
MEMORY_MB = 512
MARGIN_S = 10
MAX_UPLOAD_MB = 5
MAX_CHARS = 200_000


@dataclass(frozen=True)
class Case:
    """A file, and the words its reason must contain (None: it is ingested)."""

    name: str
    data: Callable[[], bytes]
    reason: str | None
    password: str | None = None

    def __str__(self) -> str:
        return self.name


def _real(name: str) -> Callable[[], bytes]:
    return lambda: pdf(name).read_bytes()


GENERATED = [
    Case("zero.pdf", hostile.zero_bytes, "empty file (0 bytes)"),
    Case("word.pdf", hostile.not_a_pdf, "not a PDF: the file does not start with %PDF-"),
    Case("html-then-pdf.pdf", hostile.html_then_pdf, "not a PDF: the file starts as a web page"),
    Case("pdf-then-html.pdf", hostile.pdf_then_html, None),
    Case("truncated.pdf", hostile.truncated, "unreadable PDF: the file seems cut short"),
    Case("broken-xref.pdf", hostile.broken_xref, None),  # pypdf rebuilds the table
    Case("missing-xref.pdf", hostile.missing_xref, "the cross-reference table) is missing"),
    Case("circular-prev.pdf", hostile.circular_xref_chain, None),  # pypdf stops the loop
    Case("cyclic-pages.pdf", hostile.cyclic_page_tree, "cyclic page references"),
    Case("inline-image.pdf", hostile.inline_image_without_end, "no page could be read"),
    Case("terabyte-length.pdf", hostile.absurd_stream_length, "declares an impossible size"),
    Case("deep-nesting.pdf", hostile.deep_nesting, "nested too deeply to read"),
    Case("bomb.pdf", hostile.decompression_bomb, "expands to far more data than"),
    Case(
        "20000-pages.pdf",
        hostile.many_pages,
        "too many pages: 20,000 (the limit is 5,000, RAG_MAX_PAGES)",
    ),
    Case("locked.pdf", hostile.encrypted, "password-protected: give the password"),
    Case("locked-wrong.pdf", hostile.encrypted, "password given is wrong", password="nope"),
    Case("locked-right.pdf", hostile.encrypted, None, password=hostile.PASSWORD),
    Case("scanned.pdf", hostile.scanned_without_text, "no text found: the pages may be scanned"),
    Case("bad-ocr.pdf", hostile.garbage_text_layer, "text layer looks like junk"),
    Case("big.txt", lambda: b"word " * (MAX_UPLOAD_MB * 1024 * 1024 // 4), "file too large"),
    Case("long.md", lambda: b"word " * MAX_CHARS, "too much text: more than 200,000"),
    Case("binary.txt", hostile.binary_file, "not a text file"),
]
REAL = [
    Case("pdfplumber_empty_0bytes.pdf", _real("pdfplumber_empty_0bytes.pdf"), "empty file"),
    Case("pdfminer_simple3_no_xref.pdf", _real("pdfminer_simple3_no_xref.pdf"), "unreadable"),
    Case("pikepdf_fuzz_378014596.pdf", _real("pikepdf_fuzz_378014596.pdf"), "unreadable PDF"),
    Case("sf_unreadablemetadata.pdf", _real("sf_unreadablemetadata.pdf"), "Invalid object"),
    Case("pdfjs_xref_command_missing.pdf", _real("pdfjs_xref_command_missing.pdf"), None),
    Case(
        "sf_libreoffice-writer-password.pdf",
        _real("sf_libreoffice-writer-password.pdf"),
        "password-protected: give the password",
    ),
    Case("pypdf_r4-aes-user-password.pdf", _real("pypdf_r4-aes-user-password.pdf"), "wrong", "x"),
    Case("pikepdf_congress_scanned.pdf", _real("pikepdf_congress_scanned.pdf"), "no text found"),
    Case("pdfjs_empty_blank_page.pdf", _real("pdfjs_empty_blank_page.pdf"), "no text found"),
    Case("pypdf_issue-301_garbage_ocr.pdf", _real("pypdf_issue-301_garbage_ocr.pdf"), "junk"),
    Case("pdfminer_jo_ja_cid.pdf", _real("pdfminer_jo_ja_cid.pdf"), "junk"),
    Case("pikepdf_content-stream-errors.pdf", _real("pikepdf_content-stream-errors.pdf"), None),
]


@pytest.fixture(scope="module")
def hostile_library(tmp_path_factory, base_settings, embedder) -> Library:
    """One library for every case, with small limits. Text recognition is off: these cases
    test the reading of the PDF itself (`test_scanned_and_unreadable_pages_with_ocr` has
    it on)."""
    settings = base_settings.with_overrides(
        data_dir=tmp_path_factory.mktemp("hostile") / "data",
        ocr=False,
        parse_timeout_s=TIMEOUT_S,
        parse_memory_mb=MEMORY_MB,
        max_upload_mb=MAX_UPLOAD_MB,
        max_chars=MAX_CHARS,
    )
    return Library.open(settings, embedder)


@pytest.fixture(scope="module")
def hostile_ingestor(hostile_library: Library) -> Ingestor:
    return Ingestor(hostile_library)


OCR_CASES = [
    # An 8x8 grey square: nothing for recognition to read either.
    Case("scanned.pdf", hostile.scanned_without_text, "text recognition (OCR) found no words"),
    Case("congress.pdf", _real("pikepdf_congress_scanned.pdf"), None),
    # Pages the PDF reader could not read are not rendered: their damage stays reported.
    Case("bomb.pdf", hostile.decompression_bomb, "expands to far more data than"),
    Case("terabyte-length.pdf", hostile.absurd_stream_length, "declares an impossible size"),
]


@pytest.mark.parametrize("case", OCR_CASES, ids=str)
def test_scanned_and_unreadable_pages_with_ocr(case, make_library):
    library = make_library(parse_timeout_s=TIMEOUT_S, parse_memory_mb=MEMORY_MB, ocr=True)
    started = time.perf_counter()
    outcome = Ingestor(library).ingest_bytes(case.name, case.data())
    assert time.perf_counter() - started < TIMEOUT_S + 60 + MARGIN_S
    if case.reason is None:
        assert outcome.status is FileStatus.INGESTED, outcome.reason
        assert outcome.pages_ocr == (1,) and outcome.chunks >= 1
        return
    assert outcome.status is FileStatus.FAILED
    assert case.reason in outcome.reason, outcome.reason
    assert_left_nothing(library, outcome.doc_id)


@pytest.mark.parametrize("case", GENERATED + REAL, ids=str)
def test_each_file_gets_its_own_reason_in_bounded_time(case, hostile_ingestor, hostile_library):
    data = case.data()
    started = time.perf_counter()
    outcome = hostile_ingestor.ingest_bytes(case.name, data, case.password)
    elapsed = time.perf_counter() - started
    assert elapsed < TIMEOUT_S + MARGIN_S, (case.name, elapsed)
    if case.reason is None:
        assert outcome.status is FileStatus.INGESTED, outcome.reason
        assert outcome.chunks >= 1
        assert outcome.doc_id in {d.doc_id for d in hostile_library.documents()}
        return
    assert outcome.status is FileStatus.FAILED
    assert case.reason in outcome.reason, outcome.reason
    assert_left_nothing(hostile_library, outcome.doc_id)


def assert_left_nothing(library: Library, doc_id: str | None) -> None:
    """No record, no chunks in either index, no stored original."""
    assert doc_id not in {d.doc_id for d in library.documents()}
    stores = library.inspect_stores()
    assert doc_id not in stores.chunks.chunk_counts()
    assert doc_id not in stores.words.chunk_counts()
    if doc_id is not None:
        assert not library.original_path(doc_id).exists()


def test_a_pdf_with_a_web_page_inside_gives_only_its_pdf_text(hostile_ingestor, hostile_library):
    outcome = hostile_ingestor.ingest_bytes("inside.pdf", hostile.pdf_then_html())
    texts = " ".join(c.text for c in hostile_library.chunks_of(outcome.doc_id))
    assert "lavender honey" in texts
    assert "<script" not in texts


def test_junk_pages_are_reported_and_left_out(hostile_ingestor, hostile_library):
    outcome = hostile_ingestor.ingest_bytes("half-junk.pdf", hostile.partly_junk())
    assert outcome.status is FileStatus.INGESTED
    assert outcome.pages_with_junk_text == (2,)
    assert outcome.pages_without_text == (2, 3)
    assert outcome.as_dict()["pages_with_junk_text"] == [2]
    chunks = hostile_library.chunks_of(outcome.doc_id)
    assert {c.page_start for c in chunks} == {1}


def test_a_page_that_parses_slowly_is_stopped_at_the_deadline(make_library):
    ingestor = Ingestor(make_library(parse_timeout_s=3))
    started = time.perf_counter()
    outcome = ingestor.ingest_bytes("slow.pdf", hostile.slow_page())
    elapsed = time.perf_counter() - started
    assert "parsing took longer than 3 s and was stopped" in outcome.reason
    assert elapsed < 3 + MARGIN_S


def test_a_parser_that_needs_too_much_memory_is_stopped():
    # The bomb inflates to 75 MB before pypdf's own limit; with copies, past 160 MB.
    with pytest.raises(IngestError, match="needed more than 160 MB of memory"):
        parse_file("bomb.pdf", hostile.decompression_bomb(), limits=ParseLimits(10, 160))


def test_text_extraction_stops_at_the_character_limit():
    limits = ParseLimits(TIMEOUT_S, MEMORY_MB, max_pages=20_000, max_chars=10_000)
    with pytest.raises(IngestError, match=r"more than 10,000 characters by page 334 of 20,000"):
        parse_file("many.pdf", hostile.many_pages(), limits=limits)


def test_an_orphaned_parser_stops_on_its_own_cpu_limit():
    request = {"password": None, "memory_mb": 1024, "cpu_s": 1, "max_pages": 10, "max_chars": 10**7}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "ingest.worker"],
        input=json.dumps(request).encode() + b"\n" + hostile.slow_page(),
        capture_output=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == -SIGXCPU
    assert time.perf_counter() - started < 30


def test_the_parser_cannot_write_files(tmp_path):
    target = tmp_path / "written"
    code = (
        "from ingest.worker import limit_resources\n"
        "limit_resources(512, 5)\n"
        f"with open({str(target)!r}, 'wb') as file:\n"
        "    file.write(b'x' * 1000)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, cwd=ROOT, timeout=60, check=False
    )
    assert done.returncode != 0
    assert b"File too large" in done.stderr
    assert not target.exists() or target.stat().st_size == 0


def test_a_batch_carries_on_past_hostile_files(tmp_path, make_library):
    library = make_library(parse_timeout_s=TIMEOUT_S, parse_memory_mb=MEMORY_MB)
    folder = tmp_path / "batch"
    folder.mkdir()
    hostile_files = {
        "a-zero.pdf": (hostile.zero_bytes(), "empty file"),
        "b-word.pdf": (hostile.not_a_pdf(), "not a PDF"),
        "c-polyglot.pdf": (hostile.html_then_pdf(), "web page"),
        "d-truncated.pdf": (hostile.truncated(), "cut short"),
        "e-bomb.pdf": (hostile.decompression_bomb(), "expands to far more data"),
        "f-pages.pdf": (hostile.many_pages(), "too many pages"),
        "g-locked.pdf": (hostile.encrypted(), "password-protected"),
        "h-scanned.pdf": (hostile.scanned_without_text(), "no text found"),
        "i-bad-ocr.pdf": (hostile.garbage_text_layer(), "looks like junk"),
        "j-deep.pdf": (hostile.deep_nesting(), "nested too deeply"),
    }
    good_files = {
        "glass.pdf": hostile.good_pdf(["Glassblowers on Murano shape molten glass with tongs."]),
        "bread.md": b"# Baking\n\nSourdough bread rises slowly overnight in a cool kitchen.\n",
    }
    for name, (data, _) in hostile_files.items():
        (folder / name).write_bytes(data)
    for name, data in good_files.items():
        (folder / name).write_bytes(data)
    # Through the queue, as the app and `ingest add` run them.
    store = JobStore(library.settings)
    jobs = [store.enqueue(path.name, path.read_bytes()) for path in sorted(folder.iterdir())]
    QueueWorker(Ingestor(library), store).run_until_empty()
    outcomes = {o.path: o for o in (store.job(job).outcome for job in jobs) if o is not None}
    assert len(outcomes) == len(jobs)
    for name, (_, reason) in hostile_files.items():
        assert outcomes[name].status is FileStatus.FAILED, name
        assert reason in outcomes[name].reason, (name, outcomes[name].reason)
    assert {outcomes[name].status for name in good_files} == {FileStatus.INGESTED}
    assert sorted(d.name for d in library.documents()) == sorted(good_files)
    retriever = Retriever(library)
    for query, source in [("molten glass tongs", "glass.pdf"), ("sourdough overnight", "bread.md")]:
        found = retriever.search(query, SearchOptions(mode="hybrid", k=1))
        assert found.chunks[0].source == source


HOSTILE_NAME = "../../etc/passwd.pdf"
MARKUP_NAME = "<img src=x onerror=alert(1)> **bold** [x](javascript:alert(1)) " + "n" * 240 + ".pdf"


@pytest.mark.parametrize("name", [HOSTILE_NAME, MARKUP_NAME])
def test_a_file_name_is_never_used_as_a_path(name, hostile_library, hostile_ingestor, tmp_path):
    data = hostile.good_pdf([f"Stored under its id, not its name {len(name)}."])
    outcome = hostile_ingestor.ingest_bytes(name, data)
    assert outcome.status is FileStatus.INGESTED
    stored = hostile_library.original_path(outcome.doc_id)
    assert stored.name == outcome.doc_id and stored.read_bytes() == data
    data_dir = hostile_library.settings.data_dir.resolve()
    assert stored.resolve().is_relative_to(data_dir)
    assert not any(p.name.endswith(".pdf") for p in data_dir.rglob("*"))
    for base in (data_dir, stored.parent):
        # os.path, not Path.exists: a name over 255 bytes makes the latter raise.
        assert not os.path.exists(base / name)  # noqa: PTH110


def test_the_documents_page_shows_names_escaped_and_shortened_and_junk_pages(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAG_CHAT_MODEL", "none")
    monkeypatch.chdir(tmp_path)
    clear_engine()
    try:
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
        files = [
            (MARKUP_NAME, hostile.good_pdf(), "application/pdf"),
            ("zero.pdf", b"", "application/pdf"),
            ("half-junk.pdf", hostile.partly_junk(), "application/pdf"),
        ]
        upload(app, *files)
    finally:
        clear_engine()
    assert not app.exception
    success = [element.value for element in app.success]
    shown = display_name(MARKUP_NAME)
    assert success[0].startswith(f"{shown}: ingested (2 pages, ")
    assert len(shown.replace("\\", "")) == 80 and "\\<img" in shown and "\\*\\*bold" in shown
    [failed] = [element.value for element in app.error]
    assert failed.startswith("zero\\.pdf: failed. empty file")
    assert [element.value for element in app.warning] == [
        "half\\-junk\\.pdf: no text on page(s) 3: blank, or pictures without words that text"
        " recognition (OCR) could read.",
        "half\\-junk\\.pdf: the text on page(s) 2 looks like junk, not words (a bad OCR?),"
        " and was left out.",
    ]
