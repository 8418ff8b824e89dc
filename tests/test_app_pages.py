"""Each page through Streamlit's AppTest, with the engine on a temporary data folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import pdf
from fake_llm import FakeLLM
from streamlit.testing.v1 import AppTest

from pages.common import clear_engine

APP = str(Path(__file__).resolve().parent.parent / "app.py")
NOTES = (
    b"Tantivy is a full-text search engine library written in Rust.\n\n"
    b"Chroma stores vectors. <script>alert(1)</script>"
)
# Loading the model and ingesting take longer than AppTest's 3 s default.
TIMEOUT = 90


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    """A fresh data folder, retrieval-only unless a test configures a model."""
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAG_CHAT_MODEL", "none")
    monkeypatch.setenv("RAG_CHAT_MAX_RETRIES", "0")
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    clear_engine()
    yield monkeypatch
    clear_engine()


@pytest.fixture
def fake_llm(app_env):
    with FakeLLM() as server:
        app_env.setenv("RAG_CHAT_MODEL", "fake-model")
        app_env.setenv("OPENAI_BASE_URL", server.base_url)
        yield server


def start() -> AppTest:
    app = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not app.exception
    return app


def upload(app: AppTest, *files: tuple[str, bytes, str]) -> AppTest:
    app.switch_page("pages/documents.py").run()
    app.file_uploader(key="uploads").set_value(list(files)).run()
    app.button(key="ingest").click().run()
    assert not app.exception
    return app


def ask(app: AppTest, question: str) -> AppTest:
    app.switch_page("pages/chat.py").run()
    app.chat_input[0].set_value(question).run()
    assert not app.exception
    return app


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def test_documents_page_ingests_lists_browses_and_deletes(app_env):
    app = upload(
        start(),
        ("notes.txt", NOTES, "text/plain"),
        ("minimal.pdf", pdf("sf_minimal-document.pdf").read_bytes(), "application/pdf"),
        ("broken.pdf", b"%PDF-1.4 not really", "application/pdf"),
    )
    assert texts(app.success) == [
        "notes\\.txt: ingested (1 pages, 1 chunks)",
        "minimal\\.pdf: ingested (1 pages, 2 chunks)",
    ]
    [failed] = texts(app.error)
    assert failed.startswith("broken\\.pdf: failed.")
    assert len(app.dataframe) == 2  # the table and the chunk browser
    table = app.dataframe[0].value
    assert sorted(table["name"]) == ["minimal.pdf", "notes.txt"]
    assert list(table.columns[:5]) == ["name", "pages", "chunks", "size (KB)", "added"]
    chunks = app.dataframe[1].value
    assert list(chunks.columns) == ["chunk", "pages", "tokens", "text"]
    app.button(key="delete").click().run()
    assert len(app.dataframe[0].value) == 1


def test_chat_without_a_model_quotes_sources_and_shows_every_score(app_env):
    app = ask(upload(start(), ("notes.txt", NOTES, "text/plain")), "What is tantivy written in?")
    assert any("No language model is configured" in text for text in texts(app.info))
    answer = next(text for text in texts(app.markdown) if text.startswith("> “"))
    assert "written in Rust\\.” [1]" in answer
    labels = [metric.label for metric in app.metric]
    assert {"Vector · rank 1", "BM25 · rank 1", "Fused · rank 1"} <= set(labels)
    captions = texts(app.caption)
    assert "cosine similarity, -1..1" in captions and "BM25, unbounded" in captions
    # Document text is escaped Markdown: the script tag shows as characters.
    assert any("\\<script\\>alert\\(1\\)" in text for text in texts(app.markdown))
    assert app.get("download_button")  # the original file, and the exports


def test_bm25_mode_says_which_scores_were_not_returned(app_env):
    app = upload(start(), ("notes.txt", NOTES, "text/plain"))
    app.switch_page("pages/chat.py").run()
    app.sidebar.radio(key="mode").set_value("bm25").run()
    app.chat_input[0].set_value("tantivy").run()
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Vector"] == "—" and metrics["Fused"] == "—"
    assert "not returned by this retriever" in texts(app.caption)


def test_chat_with_nothing_to_search_says_why(app_env):
    app = ask(start(), "anything at all")
    assert any("There are no documents yet" in text for text in texts(app.warning))
    assert "Searched for: anything at all" in texts(app.text)


def test_chat_streams_a_cited_answer_and_flags_an_unverified_number(fake_llm):
    fake_llm.reply("It is written in Rust [1]. See also [4].")
    app = ask(upload(start(), ("notes.txt", NOTES, "text/plain")), "What is tantivy?")
    assert "It is written in Rust [1]. See also [4]." in texts(app.markdown)
    assert [e.label for e in app.expander if "notes" in e.label] == ["\\[1\\] notes\\.txt, p\\. 1"]
    assert "\\[4\\] unverified\\: no source has this number" in texts(app.warning)
    assert any("cited" in text for text in texts(app.markdown))


def test_chat_shows_a_model_failure_as_a_message(fake_llm):
    fake_llm.mode = "error"
    app = ask(upload(start(), ("notes.txt", NOTES, "text/plain")), "What is tantivy?")
    [error] = texts(app.error)
    assert "The answer is incomplete" in error and "HTTP 500" in error
    assert app.metric  # the retrieved chunks are still shown


def test_search_page_shows_the_three_modes_side_by_side(app_env):
    app = upload(start(), ("notes.txt", NOTES, "text/plain"))
    app.switch_page("pages/search.py").run()
    app.text_input(key="query").set_value("tantivy rust").run()
    assert not app.exception
    assert texts(app.subheader) == ["Vector (meaning)", "BM25 (words)", "Hybrid (fused)"]
    labels = [metric.label for metric in app.metric]
    assert labels.count("Vector · rank 1") == 2  # the vector and hybrid columns
    assert "Fused · rank 1" in labels
