"""Reranking end to end: the real library, embedding model and stores, the real HTTP client
against a fake rerank server on 127.0.0.1, the chat model through the fake chat server,
and the command lines as users run them."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from rag.config import load_settings
from rag.engine import Engine, open_engine
from rag.eval.runs import evaluate_qa
from rag.eval.sets import Evidence, QAItem
from rag.results import SearchMode, SearchOptions, SearchResult
from tests.conftest import pdf
from tests.support.fake_rerank import FakeRerank
from tests.support.helpers import run_cli, run_json

NOTES = {
    "bees.txt": "Honey bees build hexagonal wax cells in the hive.",
    "tantivy.txt": "Tantivy is a full-text search engine library written in Rust.",
    "chroma.txt": "Chroma is a vector database that stores embeddings for similarity search.",
    "rivers.txt": "Boats carry grain down the river to the sea.",
}
QUERY = "search engine library"
SECRET = "sk-rerank-secret-123"


def scripted(query: str, text: str) -> float:
    """The fake server's verdict: bees first, rivers second, whatever the query says."""
    return 9.0 if "hexagonal" in text else 6.0 if "grain" in text else 1.0


@pytest.fixture
def fake_rerank():
    with FakeRerank(scorer=scripted) as server:
        yield server


@pytest.fixture
def open_reranking(tmp_path: Path, embedder):
    """Open an engine over the notes and one real PDF with these settings on top of the
    environment's; engines opened are closed after the test."""
    engines: list[Engine] = []

    def open_with(**environ: str) -> Engine:
        values = {**os.environ, "RAG_DATA_DIR": str(tmp_path / "data"), **environ}
        engine = open_engine(load_settings(values, env_file=None), embedder)
        engines.append(engine)
        ingestor = Ingestor(engine.library)
        for name, text in NOTES.items():
            assert ingestor.ingest_bytes(name, text.encode()).ok
        assert ingestor.ingest_path(pdf("sf_minimal-document.pdf")).ok
        return engine

    yield open_with
    for engine in engines:
        engine.close()


def over_http(open_reranking, fake: FakeRerank, **environ: str) -> Engine:
    return open_reranking(
        RAG_RERANK_PROVIDER="http",
        RAG_RERANK_URL=fake.url,
        RAG_RERANK_MODEL="fake-reranker",
        RAG_RERANK_API_KEY=SECRET,
        **environ,
    )


def search(engine: Engine, rerank: bool, k: int = 3, **options) -> SearchResult:
    return engine.retriever.search(QUERY, SearchOptions(k=k, rerank=rerank, **options))


def sources(result: SearchResult) -> list[str]:
    return [chunk.source for chunk in result.chunks]


@pytest.mark.parametrize("shape", ["cohere", "tei"])
def test_the_server_scores_reorder_the_fused_candidates(open_reranking, fake_rerank, shape):
    fake_rerank.set_mode(shape)
    engine = over_http(open_reranking, fake_rerank)
    fused = search(engine, rerank=False, k=10)
    assert sources(fused)[0] == "tantivy.txt" and fake_rerank.requests == []
    assert set(sources(fused)) >= {"bees.txt", "rivers.txt"}
    reranked = search(engine, rerank=True, k=2, rerank_candidates=10)
    assert sources(reranked) == ["bees.txt", "rivers.txt"] and reranked.notice is None
    fused_rank = {chunk.chunk_id: chunk.rank for chunk in fused.chunks}
    for rank, chunk in enumerate(reranked.chunks, start=1):
        assert chunk.rank == chunk.rerank.rank == rank
        assert chunk.fused.rank == fused_rank[chunk.chunk_id]
        assert chunk.rerank.kind.describe() == "relevance score, per the rerank server"
    assert [c.rerank.value for c in reranked.chunks] == [9.0, 6.0]
    assert reranked.reranker == f"http:fake-reranker at {fake_rerank.url}"
    assert reranked.timings.rerank_ms > 0


def test_the_cohere_shape_is_sent_with_the_model_and_the_key(open_reranking, fake_rerank):
    engine = over_http(open_reranking, fake_rerank)
    search(engine, rerank=True, rerank_candidates=4)
    [request] = fake_rerank.requests
    assert set(request) == {"model", "query", "documents", "top_n"}
    assert request["model"] == "fake-reranker" and request["query"] == QUERY
    assert len(request["documents"]) == request["top_n"] == 4
    assert fake_rerank.headers[0]["authorization"] == f"Bearer {SECRET}"


def test_a_tei_server_is_asked_in_its_shape_once_found(open_reranking, fake_rerank):
    fake_rerank.set_mode("tei")
    engine = over_http(open_reranking, fake_rerank)
    search(engine, rerank=True)
    search(engine, rerank=True)
    shapes = ["texts" if "texts" in r else "documents" for r in fake_rerank.requests]
    # The Cohere shape is refused (422) once; the shape that worked is remembered.
    assert shapes == ["documents", "texts", "texts"]


@pytest.mark.parametrize(
    ("mode", "reason"),
    [("error", "HTTP 500 from {url}"), ("bad_json", "an answer from {url} that is not a ranking")],
)
def test_a_failing_server_leaves_the_fused_order_and_says_so(
    open_reranking, fake_rerank, mode, reason
):
    engine = over_http(open_reranking, fake_rerank)
    fake_rerank.set_mode(mode)
    result = search(engine, rerank=True)
    assert sources(result) == sources(search(engine, rerank=False))
    assert all(chunk.rerank is None for chunk in result.chunks)
    expected = reason.format(url=fake_rerank.url)
    assert result.notice == f"The reranker failed ({expected}); results are in fused order."
    assert SECRET not in result.notice


def test_a_slow_server_times_out_into_the_fused_order(open_reranking, fake_rerank):
    engine = over_http(open_reranking, fake_rerank, RAG_RERANK_TIMEOUT_S="0.5")
    fake_rerank.set_mode("slow")
    started = time.perf_counter()
    result = search(engine, rerank=True)
    assert time.perf_counter() - started < 4
    assert result.notice == (
        f"The reranker failed (no answer within 0.5 s from {fake_rerank.url}); results are"
        " in fused order."
    )
    assert all(chunk.rerank is None for chunk in result.chunks)


def test_the_chat_model_grades_every_candidate_in_one_request(open_reranking, fake_llm):
    engine = open_reranking(
        RAG_RERANK_PROVIDER="llm",
        RAG_CHAT_MODEL="fake-model",
        OPENAI_BASE_URL=fake_llm.base_url,
        RAG_CHAT_MAX_RETRIES="0",
    )
    fused = search(engine, rerank=False)
    fake_llm.reply('Grades: {"1": 2, "2": 5, "3": 9}')
    result = search(engine, rerank=True, rerank_candidates=3)
    assert sources(result) == list(reversed(sources(fused)))
    assert [(c.rerank.value, c.rerank.kind.describe()) for c in result.chunks] == [
        (9.0, "LLM grade, 0..10"),
        (5.0, "LLM grade, 0..10"),
        (2.0, "LLM grade, 0..10"),
    ]
    [request] = fake_llm.requests
    assert request["model"] == "fake-model" and request["temperature"] == 0.0
    prompt = request["messages"][-1]["content"]
    assert prompt.count("<passage number=") == 3 and QUERY in prompt
    assert result.reranker == "llm:fake-model"


def test_a_chat_model_failure_leaves_the_fused_order(open_reranking, fake_llm):
    engine = open_reranking(
        RAG_RERANK_PROVIDER="llm",
        RAG_CHAT_MODEL="fake-model",
        OPENAI_BASE_URL=fake_llm.base_url,
        RAG_CHAT_MAX_RETRIES="0",
    )
    fake_llm.fail("error")
    result = search(engine, rerank=True)
    assert result.notice.startswith("The reranker failed (the chat model failed:")
    assert sources(result) == sources(search(engine, rerank=False))


def test_an_evaluation_records_the_reranker_and_its_failures(open_reranking, fake_rerank):
    engine = over_http(open_reranking, fake_rerank)
    items = [QAItem("Which insects build wax cells?", (Evidence("bees.txt", 1),))]
    options = SearchOptions(rerank=True, rerank_candidates=5)
    report = evaluate_qa(engine.retriever, items, "bees", (SearchMode.HYBRID,), options)
    assert report.settings["rerank"] == f"http:fake-reranker at {fake_rerank.url}"
    assert report.settings["rerank_candidates"] == 5 and "not_reranked" not in report.settings
    assert report.modes[0].metrics["hit@1"] == 1.0
    fake_rerank.set_mode("error")
    failed = evaluate_qa(engine.retriever, items, "bees", (SearchMode.HYBRID,), options)
    assert failed.settings["not_reranked"] == 1
    assert "HTTP 500" in failed.settings["rerank_notice"]


def test_search_command_prints_rerank_scores(tmp_path, fake_rerank):
    data_dir = tmp_path / "data"
    files = []
    for name, text in NOTES.items():
        files.append(tmp_path / name)
        files[-1].write_text(text)
    added = run_cli("ingest", "add", *map(str, files), data_dir=data_dir)
    assert added.returncode == 0, added.stderr
    env = {"RAG_RERANK_PROVIDER": "http", "RAG_RERANK_URL": fake_rerank.url}
    found = run_json("rag.search", QUERY, "-k", "2", data_dir=data_dir, env=env)
    assert [r["source"] for r in found["results"]] == ["bees.txt", "rivers.txt"]
    top = found["results"][0]["scores"]["rerank"]
    assert top == {"score": 9.0, "rank": 1, "kind": "relevance score, per the rerank server"}
    assert found["reranker"].startswith("http:") and "rerank_ms" in found["timings_ms"]
    plain = run_json("rag.search", QUERY, "--no-rerank", data_dir=data_dir, env=env)
    assert all(r["scores"]["rerank"] is None for r in plain["results"])
    text = run_cli("rag.search", QUERY, "--rerank-candidates", "3", data_dir=data_dir, env=env)
    assert text.returncode == 0 and "rerank: 9.0000 (rank 1;" in text.stdout


def test_search_command_explains_a_missing_reranker(tmp_path):
    data_dir = tmp_path / "data"
    note = tmp_path / "bees.txt"
    note.write_text(NOTES["bees.txt"])
    assert run_cli("ingest", "add", str(note), data_dir=data_dir).returncode == 0
    found = run_json("rag.search", "wax", "--rerank", data_dir=data_dir)
    assert found["notice"].startswith("No reranker is configured: set RAG_RERANK_PROVIDER")
    plain = run_cli("rag.search", "wax", data_dir=data_dir)
    assert "rerank" not in plain.stdout
    bad = run_cli("rag.search", "wax", "--rerank-candidates", "0", data_dir=data_dir)
    assert bad.returncode == 2 and "--rerank-candidates" in bad.stderr


def test_a_local_cross_encoder_reranks_when_a_model_folder_is_given(open_reranking):
    folder = os.environ.get("RAG_RERANK_MODEL_PATH")
    if not folder or not Path(folder).is_dir():
        reason = "set RAG_RERANK_MODEL_PATH to a fastembed cross-encoder folder (none here)"
        print(f"skipped: {reason}")
        pytest.skip(reason)
    engine = open_reranking(RAG_RERANK_PROVIDER="fastembed")
    result = engine.retriever.search(
        "Which insects build wax cells?", SearchOptions(k=2, rerank=True, rerank_candidates=5)
    )
    assert result.notice is None and result.chunks[0].source == "bees.txt"
    assert result.chunks[0].rerank.kind.describe() == "cross-encoder, unbounded logit"


def test_a_cross_encoder_that_cannot_load_leaves_the_fused_order(open_reranking, tmp_path):
    empty = tmp_path / "no-model"
    empty.mkdir()
    engine = open_reranking(RAG_RERANK_PROVIDER="fastembed", RAG_RERANK_MODEL_PATH=str(empty))
    result = search(engine, rerank=True)
    assert result.notice == (
        "The reranker failed (the model Xenova/ms-marco-MiniLM-L-6-v2 could not be loaded from"
        " RAG_RERANK_MODEL_PATH (NoSuchFile)); results are in fused order."
    )
    assert sources(result) == sources(search(engine, rerank=False))
