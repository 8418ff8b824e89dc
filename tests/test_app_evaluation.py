"""The Evaluation page through AppTest: save a question set, run it, compare runs."""

from __future__ import annotations

import json

import pytest
from test_app_pages import NOTES, app_env, start, texts, upload  # noqa: F401 (a fixture)

# A fresh data folder for each test, retrieval-only (the fixture of the other page tests).
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
