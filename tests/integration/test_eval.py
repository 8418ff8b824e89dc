"""Evaluation end to end: the real pipeline, stores and model, on small real data sets."""

from __future__ import annotations

import json
import shutil

import pytest

from ingest.files import FileStatus, TextDocument
from ingest.pipeline import Ingestor
from rag.eval.runs import EvalReport, evaluate_beir, missing_sources
from rag.eval.sets import BeirSet, Evidence, QAItem
from rag.results import SearchMode
from rag.search.retriever import Retriever
from tests.conftest import DATA, ROOT, pdf
from tests.support.helpers import run_cli, run_json

SCIFACT = DATA / "scifact"
QA_FILE = ROOT / "tests" / "fixtures" / "qa_shared_pdfs.jsonl"
QA_PDFS = ("pdfjs_tracemonkey.pdf", "sf_multicolumn.pdf", "pdfplumber_nics-rotated-table.pdf")


@pytest.fixture(scope="module")
def small_scifact(tmp_path_factory):
    """Eight SciFact test queries, their relevant abstracts and 30 others, as a BEIR folder."""
    if not SCIFACT.is_dir():
        pytest.skip(f"SciFact not found under {SCIFACT}")
    qrels = [line.split("\t") for line in (SCIFACT / "qrels" / "test.tsv").read_text().splitlines()]
    judged = qrels[1:11]
    wanted = {row[1] for row in judged}
    folder = tmp_path_factory.mktemp("scifact") / "scifact-small"
    (folder / "qrels").mkdir(parents=True)
    corpus = []
    for number, line in enumerate((SCIFACT / "corpus.jsonl").open()):
        if number < 30 or json.loads(line)["_id"] in wanted:
            corpus.append(line)
    (folder / "corpus.jsonl").write_text("".join(corpus))
    query_ids = {row[0] for row in judged}
    queries = [q for q in (SCIFACT / "queries.jsonl").open() if json.loads(q)["_id"] in query_ids]
    (folder / "queries.jsonl").write_text("".join(queries))
    (folder / "qrels" / "test.tsv").write_text("\n".join("\t".join(r) for r in [qrels[0], *judged]))
    return folder, len(corpus), len(query_ids)


def test_beir_command_reports_each_metric_per_mode_and_reuses_its_collection(
    small_scifact, tmp_path
):
    folder, documents, queries = small_scifact
    first = run_json("rag.eval", "beir", str(folder), data_dir=tmp_path / "data")
    assert first["collection"] == "beir-scifact-small"
    assert first["ingest"] == {"documents": documents, "ingested": documents}
    assert [m["mode"] for m in first["modes"]] == ["vector", "bm25", "hybrid"]
    for mode in first["modes"]:
        assert set(mode["metrics"]) == {"ndcg@10", "recall@10", "recall@100", "mrr@10"}
        assert mode["queries"] == queries
        # Among 40 abstracts the relevant ones are easy to find; chance would score ~0.1.
        assert mode["metrics"]["ndcg@10"] > 0.6
    # Every abstract is within reach of the vector search (BM25 misses one with no shared word).
    assert [m["metrics"]["recall@100"] for m in first["modes"]] == [1.0, 0.8889, 1.0]
    again = run_json("rag.eval", "beir", str(folder), "--mode", "bm25", data_dir=tmp_path / "data")
    assert again["ingest"] == {"documents": documents, "unchanged": documents}
    assert [m["mode"] for m in again["modes"]] == ["bm25"]
    assert again["modes"][0]["metrics"] == first["modes"][1]["metrics"]


def test_beir_command_takes_any_qrels_file(small_scifact, tmp_path):
    folder, _, _ = small_scifact
    rows = (folder / "qrels" / "test.tsv").read_text().splitlines()
    one = tmp_path / "one.tsv"
    one.write_text(rows[1] + "\n")
    report = run_json(
        "rag.eval",
        "beir",
        str(folder),
        "--qrels",
        str(one),
        "--mode",
        "hybrid",
        data_dir=tmp_path / "data",
    )
    assert report["modes"][0]["queries"] == 1


def test_qa_command_finds_the_evidence_pages_of_the_shared_pdfs(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in QA_PDFS:
        shutil.copy(pdf(name), docs / name)
    report = run_json(
        "rag.eval", "qa", str(QA_FILE), "--docs", str(docs), data_dir=tmp_path / "data"
    )
    assert report["ingest"] == {"documents": 3, "ingested": 3}
    metrics = {m["mode"]: m["metrics"] for m in report["modes"]}
    assert set(metrics["hybrid"]) == {"hit@1", "hit@5", "hit@10", "mrr@10"}
    # Measured: hybrid hit@10 1.0, BM25 hit@1 0.83, vector hit@5 1.0 on these 12 questions.
    assert metrics["hybrid"]["hit@10"] >= 0.9
    assert metrics["bm25"]["hit@1"] >= 0.7
    assert metrics["vector"]["hit@5"] >= 0.8
    assert len(report["questions"]) == 12
    finland = report["questions"][0]
    assert finland["first_hit"] == {"vector": 1, "bm25": 1, "hybrid": 1}


def test_qa_command_names_the_bad_line_of_a_question_file(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "evidence": [{"source": "a.pdf", "page": 1}]}\n{oops\n')
    done = run_cli("rag.eval", "qa", str(bad), "--docs", str(tmp_path), data_dir=tmp_path / "d")
    assert done.returncode == 1
    assert "bad.jsonl line 2: not JSON" in done.stderr


def test_wrong_judgements_score_lower_than_right_ones(library):
    texts = {
        "bees": "Honey bees build hexagonal wax cells and store nectar as honey.",
        "rust": "Tantivy is a full-text search engine library written in Rust.",
        "tides": "Ocean tides are caused by the gravity of the moon and the sun.",
    }
    Ingestor(library).ingest_texts([TextDocument(n, t) for n, t in texts.items()])
    queries = {"q1": "what makes ocean tides", "q2": "wax cells of honey bees"}
    right = BeirSet("t", queries, {"q1": {"tides": 1.0}, "q2": {"bees": 1.0}})
    wrong = BeirSet("t", queries, {"q1": {"rust": 1.0}, "q2": {"tides": 1.0}})
    retriever = Retriever(library)
    good = evaluate_beir(retriever, right, [SearchMode.HYBRID])
    bad = evaluate_beir(retriever, wrong, [SearchMode.HYBRID])
    assert good.modes[0].metrics["ndcg@10"] == 1.0
    assert good.modes[0].metrics["mrr@10"] == 1.0
    assert bad.modes[0].metrics["ndcg@10"] < 0.7
    assert EvalReport.from_dict(json.loads(json.dumps(good.as_dict()))) == good


def test_text_ingestion_skips_unchanged_texts_and_replaces_changed_ones(library):
    ingestor = Ingestor(library)
    first = ingestor.ingest_texts([TextDocument("a", "Alpha text."), TextDocument("b", "Beta.")])
    assert [o.status for o in first] == [FileStatus.INGESTED, FileStatus.INGESTED]
    again = ingestor.ingest_texts(
        [
            TextDocument("a", "Alpha text."),
            TextDocument("b", "Beta, changed."),
            TextDocument("c", " "),
        ]
    )
    assert [o.status for o in again] == [
        FileStatus.UNCHANGED,
        FileStatus.REPLACED,
        FileStatus.FAILED,
    ]
    assert "no text found" in again[2].reason
    assert sorted(d.name for d in library.documents()) == ["a", "b"]
    stores = library.inspect_stores()
    assert stores.words.count() == stores.chunks.count() == 2
    hits = Retriever(library).search("changed").chunks
    assert hits[0].source == "b" and hits[0].text == "Beta, changed."


def test_missing_sources_lists_evidence_files_not_in_the_collection():
    items = [QAItem("q", (Evidence("a.pdf", 1), Evidence("typo.pdf", 2)))]
    assert missing_sources(items, {"a.pdf"}) == ["typo.pdf"]
