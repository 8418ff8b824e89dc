"""The command-line tools as a user runs them: exit codes, JSON shapes, list and delete."""

from __future__ import annotations

import pytest

from tests.conftest import pdf
from tests.support.helpers import run_cli, run_json


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


def test_add_list_search_delete(data_dir, tmp_path):
    note = tmp_path / "note.md"
    note.write_text("# Beekeeping\n\nHoney bees build hexagonal wax cells in the hive.\n")
    added = run_json(
        "ingest", "add", str(note), str(pdf("sf_minimal-document.pdf")), data_dir=data_dir
    )
    assert [f["status"] for f in added["files"]] == ["ingested", "ingested"]
    assert set(added["files"][0]) == {
        "path",
        "status",
        "reason",
        "doc_id",
        "pages",
        "pages_without_text",
        "pages_with_junk_text",
        "chunks",
        "unit",
        "pages_ocr",
        "tables",
    }
    listed = run_json("ingest", "list", data_dir=data_dir)
    assert {d["name"] for d in listed["documents"]} == {"note.md", "sf_minimal-document.pdf"}

    found = run_json("rag.search", "hexagonal wax cells", "--mode", "bm25", data_dir=data_dir)
    top = found["results"][0]
    assert top["source"] == "note.md" and top["scores"]["vector"] is None
    assert top["scores"]["bm25"]["rank"] == 1 and top["scores"]["bm25"]["kind"] == "BM25, unbounded"

    deleted = run_cli("ingest", "delete", "note.md", data_dir=data_dir)
    assert deleted.returncode == 0, deleted.stderr
    listed = run_json("ingest", "list", data_dir=data_dir)
    assert [d["name"] for d in listed["documents"]] == ["sf_minimal-document.pdf"]
    plain = run_cli("rag.search", "hexagonal wax cells", data_dir=data_dir)
    assert plain.returncode == 0 and "note.md" not in plain.stdout


def test_a_failed_file_gives_exit_code_1_and_the_rest_still_ingests(data_dir, tmp_path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"this is not a pdf")
    report = run_json(
        "ingest",
        "add",
        str(broken),
        str(pdf("sf_minimal-document.pdf")),
        data_dir=data_dir,
        expect_code=1,
    )
    statuses = {f["path"].rsplit("/", 1)[-1]: f for f in report["files"]}
    assert statuses["broken.pdf"]["status"] == "failed"
    assert "not a PDF" in statuses["broken.pdf"]["reason"]
    assert statuses["sf_minimal-document.pdf"]["status"] == "ingested"


@pytest.mark.parametrize(
    "args",
    [
        ("ingest",),
        ("ingest", "add"),
        ("ingest", "frobnicate"),
        ("ingest", "add", "/no/such/file.pdf"),
        ("rag.search", "q", "--mode", "fuzzy"),
        ("rag.search", "q", "-k", "0"),
    ],
)
def test_usage_errors_exit_with_2(data_dir, args):
    done = run_cli(*args, data_dir=data_dir)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.strip()


def test_a_bad_setting_is_named_and_exits_with_2(data_dir):
    done = run_cli("ingest", "list", data_dir=data_dir, env={"RAG_CHUNK_TOKENS": "many"})
    assert done.returncode == 2 and "RAG_CHUNK_TOKENS" in done.stderr


def test_deleting_an_unknown_document_is_a_clear_error(data_dir):
    done = run_cli("ingest", "delete", "nothing-like-this", data_dir=data_dir)
    assert done.returncode == 1 and "No document matches" in done.stderr
