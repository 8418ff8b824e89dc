"""The Evaluation page through AppTest: save a question set, run it, compare runs and
embedders."""

from __future__ import annotations

import json

import pytest

from ingest.pipeline import Ingestor
from rag.config import load_settings
from rag.results import SearchMode
from rag.stores.library import Library
from tests.app.conftest import NOTES, start, texts, upload
from tests.support.fake_llm import FakeLLM

# A fresh data folder for each test, retrieval-only (app_env, in tests/app/conftest.py).
pytestmark = pytest.mark.usefixtures("app_env")

QUESTIONS = "\n".join(
    json.dumps(line)
    for line in [
        {
            "question": "What is tantivy written in?",
            "evidence": [{"source": "notes.txt", "page": 1}],
        },
        {"question": "Where are vectors kept?", "evidence": [{"source": "missing.pdf", "page": 2}]},
    ]
).encode()


def save_questions(app, content: bytes, name: str = "questions.jsonl"):
    app.switch_page("pages/evaluation.py").run()
    app.file_uploader(key="qa_upload").set_value((name, content, "application/json")).run()
    app.button(key="save_set").click().run()
    assert not app.exception
    return app


def test_a_saved_set_runs_in_every_mode_and_runs_are_kept_to_compare():
    app = save_questions(upload(start(), ("notes.txt", NOTES, "text/plain")), QUESTIONS)
    assert app.selectbox(key="qa_set").value == "questions.jsonl"
    assert "2 questions" in [m.value for m in app.markdown]
    assert any("missing\\.pdf" in text for text in texts(app.warning))
    app.button(key="run_eval").click().run()
    assert not app.exception
    table = app.dataframe[0].value
    assert list(table["mode"]) == ["vector", "bm25", "hybrid"]
    # The first question's page is found at rank 1 in each mode; the second cannot be.
    assert list(table["hit@1"]) == [0.5, 0.5, 0.5]
    assert list(table["mrr@10"]) == [0.5, 0.5, 0.5]

    app.number_input(key="eval_rrf_k").set_value(10).run()
    app.button(key="run_eval").click().run()
    history = app.dataframe[-1].value
    assert len(history) == 6  # two runs, three modes each
    assert sorted(set(history["rrf_k"])) == [10, 60]


def test_a_malformed_question_file_is_refused_with_its_line():
    app = save_questions(start(), b'{"question": "q", "evidence": []}\n', "bad.jsonl")
    [error] = texts(app.error)
    assert "bad.jsonl line 1" in error and "evidence" in error
    assert app.selectbox(key="qa_set").value is None


def test_two_embedders_compared_side_by_side_on_the_saved_set(monkeypatch):
    with FakeLLM() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        app = save_questions(upload(start(), ("notes.txt", NOTES, "text/plain")), QUESTIONS)
        # With one collection, the page says how to build a second one.
        assert any("ingest reindex documents" in text for text in texts(app.caption))
        api = load_settings(env_file=None).with_overrides(
            collection="api-notes", embed_provider="openai", embed_model="text-embedding-3-small"
        )
        with Library.open(api) as library:
            assert Ingestor(library).ingest_bytes("notes.txt", NOTES).ok
        app.run()
        [choice] = app.selectbox(key="cmp_collection").options
        assert choice.startswith("api-notes: openai:text-embedding-3-small (64-d")
        app.multiselect(key="eval_modes").set_value([SearchMode.VECTOR, SearchMode.BM25]).run()
        app.button(key="run_compare").click().run()
    assert not app.exception
    models = texts(app.markdown)
    assert r"**documents**: fastembed\:sentence" in models[1]
    assert r"**api\-notes**: openai\:text" in models[2]
    # The second question's file is in neither collection.
    assert sum("missing\\.pdf" in text for text in texts(app.warning)) == 3
    metrics, ranks = app.dataframe[0].value, app.dataframe[1].value
    assert list(metrics.columns) == ["mode", "metric", "documents", "api-notes", "difference"]
    assert list(metrics["mode"]) == ["vector"] * 4 + ["bm25"] * 4
    # One document: its page is found first whenever it is the evidence, by either model.
    assert list(metrics["documents"]) == list(metrics["api-notes"]) == [0.5] * 8
    assert list(ranks["question"].str[:4]) == ["What", "What", "Wher", "Wher"]
    assert list(ranks["rank change"].fillna(-99)) == [0, 0, -99, -99]

    # Without the server's address the other model cannot be loaded: a message, not a trace.
    monkeypatch.delenv("OPENAI_BASE_URL")
    app.run()
    app.button(key="run_compare").click().run()
    assert not app.exception
    [error] = texts(app.error)
    assert "text-embedding-3-small (64-d, cosine), cannot be loaded here" in error
    assert not app.dataframe  # the earlier comparison is not shown as if it were this one
