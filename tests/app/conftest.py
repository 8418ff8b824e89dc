"""What the AppTest modules share: a fresh data folder per test, the app's fake model, and
helpers that start the app and upload files."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ingest.queue import JobStore
from pages.common import clear_engine
from rag.config import load_settings
from tests.support.fake_llm import FakeLLM

APP = str(Path(__file__).resolve().parents[2] / "app.py")
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
def fake_llm(app_env, fake_llm: FakeLLM) -> FakeLLM:
    """The shared fake server, configured as the app's chat model."""
    app_env.setenv("RAG_CHAT_MODEL", "fake-model")
    app_env.setenv("OPENAI_BASE_URL", fake_llm.base_url)
    return fake_llm


def start() -> AppTest:
    """The app, run once, without an exception."""
    app = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not app.exception
    return app


def upload(app: AppTest, *files: tuple[str, bytes, str]) -> AppTest:
    """Ingest (name, bytes, type) files through the Documents page: queue them, wait until
    the queue's worker has finished them, and show the page again."""
    app.switch_page("pages/documents.py").run()
    # The picker is in a form: its files are sent with the button, in the same run.
    app.file_uploader(key="uploads").set_value(list(files))
    app.button(key="ingest").click().run()
    assert not app.exception
    wait_for_queue()
    app.run()
    assert not app.exception
    return app


def wait_for_queue(timeout: float = 300) -> None:
    """Wait until the queue of the app's data folder has no unfinished job."""
    store = JobStore(load_settings(env_file=None))
    deadline = time.monotonic() + timeout
    try:
        while not all(job.state.finished for job in store.jobs(limit=0)):
            assert time.monotonic() < deadline, store.jobs(limit=0)
            time.sleep(0.1)
    finally:
        store.close()


def texts(elements) -> list[str]:
    """The values of a list of elements (errors, infos, captions)."""
    return [element.value for element in elements]
