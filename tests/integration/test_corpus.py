"""The whole shared PDF corpus through `python -m ingest add`, checked against its catalog,
then searched with `python -m rag.search` in every mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.config import load_settings
from rag.results import SearchOptions
from rag.search.retriever import Retriever
from rag.stores.library import Library
from tests.conftest import PDFS
from tests.support.helpers import run_json

pytestmark = pytest.mark.slow
MODES = ("vector", "bm25", "hybrid")


def _catalog() -> dict[str, dict]:
    entries = json.loads((PDFS / "catalog.json").read_text())
    return {Path(e["file"]).name: e for e in entries}


# The catalog's words for a text layer that is there but is not words: a failed OCR
# (issue-301) and glyph ids that a font without a character map leaves (jo.pdf).
JUNK_NOTES = ("GARBAGE OCR", "MOJIBAKE")


def _expected(entry: dict) -> tuple[str, str | None]:
    """(status, words the reason must contain) implied by a catalog entry."""
    facts = entry.get("pypdf_7_1_0") or {}
    verdict = entry["pypdf_verdict"]
    if entry["size_bytes"] == 0:
        return "failed", "empty"
    if "OPEN FAILS" in verdict or "PAGES FAIL" in verdict:
        return "failed", "unreadable"
    if entry["password"] and facts.get("decrypt_empty") == "0":
        return "failed", "password-protected"
    if facts.get("nonempty_pages") == 0 and "SCANNED" in entry["notes"]:
        return "ingested", None  # read by text recognition
    if facts.get("nonempty_pages") == 0:
        return "failed", "no text"
    if any(words in entry["notes"] for words in JUNK_NOTES):
        return "failed", "the text layer looks like junk"
    return "ingested", None


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict[str, dict]]:
    """Ingest every shared PDF once; returns the data folder and the outcome per file."""
    if not PDFS.is_dir():
        pytest.skip(f"shared PDFs not found at {PDFS}")
    data_dir = tmp_path_factory.mktemp("corpus")
    report = run_json("ingest", "add", str(PDFS), data_dir=data_dir, expect_code=1)
    return data_dir, {Path(f["path"]).name: f for f in report["files"]}


def test_every_file_is_reported_as_its_catalog_entry_implies(corpus):
    _, outcomes = corpus
    catalog = _catalog()
    assert set(outcomes) == set(catalog)
    for name, entry in catalog.items():
        status, reason = _expected(entry)
        outcome = outcomes[name]
        assert outcome["status"] == status, (name, outcome)
        if reason:
            assert reason in outcome["reason"], (name, outcome["reason"])
            continue
        facts = entry["pypdf_7_1_0"]
        assert outcome["pages"] == facts["pages"], name
        # A page without a text layer is read by recognition, or stays without text.
        empty = facts["pages"] - facts["nonempty_pages"]
        assert len(outcome["pages_without_text"]) + len(outcome["pages_ocr"]) == empty, name
        assert outcome["pages_with_junk_text"] == [], name  # no real page taken for junk
        assert outcome["chunks"] >= 1 and outcome["doc_id"], name


def test_ingesting_again_changes_nothing(corpus):
    data_dir, _ = corpus
    again = run_json(
        "ingest", "add", str(PDFS / "varied" / "sf_minimal-document.pdf"), data_dir=data_dir
    )
    assert [f["status"] for f in again["files"]] == ["unchanged"]


def test_protected_pdf_opens_with_its_password(corpus):
    data_dir, _ = corpus
    path = PDFS / "varied" / "sf_libreoffice-writer-password.pdf"
    wrong = run_json(
        "ingest", "add", str(path), "--password", "nope", data_dir=data_dir, expect_code=1
    )
    assert "wrong" in wrong["files"][0]["reason"]
    right = run_json("ingest", "add", str(path), "--password", "openpassword", data_dir=data_dir)
    assert right["files"][0]["status"] == "ingested"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("question", "book", "page"),
    [
        (
            "When did bots start copying the Internet for the Internet Archive?",
            "pdfjs_freeculture_lessig.pdf",
            120,
        ),
        (
            "How many Japanese creators gather to exchange doujinshi comics?",
            "pdfjs_freeculture_lessig.pdf",
            40,
        ),
    ],
)
def test_a_question_finds_the_right_page_of_a_long_book(corpus, mode, question, book, page):
    data_dir, _ = corpus
    found = run_json("rag.search", question, "--mode", mode, "-k", "5", data_dir=data_dir)
    assert found["mode"] == mode and found["query"] == question
    hits = [r for r in found["results"] if r["source"] == book]
    assert any(r["page_start"] <= page <= r["page_end"] for r in hits), found["results"]
    for result in found["results"]:
        scores = result["scores"]
        assert set(scores) == {"vector", "bm25", "fused", "rerank"}
        ran = {
            "vector": mode != "bm25",
            "bm25": mode != "vector",
            "fused": mode == "hybrid",
            "rerank": False,  # no reranker is configured
        }
        for name, score in scores.items():
            if not ran[name]:
                assert score is None
        present = [s for s in scores.values() if s is not None]
        assert present and all({"score", "rank", "kind"} <= set(s) for s in present)


@pytest.mark.parametrize(
    ("query", "source"),
    [
        ("ねじなし端子", "pdfjs_issue16063_ja.pdf"),
        ("絶縁電線", "pdfjs_issue16063_ja.pdf"),
        ("مرحبا", "pypdf_multilang.pdf"),
        ("حبيبي", "sf_habibi_arabic.pdf"),
        ("organizaciones sindicales personalidad jurídica", "cl_constitucion_es.pdf"),
    ],
)
def test_non_latin_scripts_are_found_by_bm25(corpus, query, source):
    data_dir, _ = corpus
    library = Library.open(load_settings(env_file=None).with_overrides(data_dir=data_dir))
    result = Retriever(library).search(query, SearchOptions(mode="bm25", k=3))
    assert result.chunks and result.chunks[0].source == source


def test_both_indexes_hold_the_same_chunks(corpus):
    data_dir, _ = corpus
    library = Library.open(load_settings(env_file=None).with_overrides(data_dir=data_dir))
    assert library.last_repair.clean
    expected = {r.doc_id: r.chunks for r in library.documents()}
    stores = library.inspect_stores()
    assert stores.chunks.chunk_counts() == expected
    assert stores.words.chunk_counts() == expected
