"""Shared fixtures: real embedder, real stores in temporary folders, the shared test data."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from rag.config import Settings, load_settings
from rag.engine import open_engine
from rag.providers.embeddings import Embedder, make_embedder
from rag.search.retriever import Retriever
from rag.stores.library import Library
from tests.support.fake_llm import FakeLLM

ROOT = Path(__file__).resolve().parent.parent
# ../shared/data beside the checkout (CI and development here), or RAG_TEST_DATA.
DATA = Path(os.environ.get("RAG_TEST_DATA", ROOT.parent / "shared" / "data"))
PDFS = DATA / "pdfs"
_LOCAL_MODEL = ROOT.parent / "shared" / "models" / "all-MiniLM-L6-v2-onnx"
_LOCAL_TIKTOKEN = ROOT.parent / "shared" / "tiktoken"


def _offline_defaults() -> None:
    # Where the shared model copies exist (no network), use them; elsewhere the embedder
    # and tiktoken download on first use, as they do for users.
    if _LOCAL_MODEL.is_dir():
        os.environ.setdefault("RAG_EMBED_MODEL_PATH", str(_LOCAL_MODEL))
    if _LOCAL_TIKTOKEN.is_dir():
        os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(_LOCAL_TIKTOKEN))


_offline_defaults()

# Each folder of tests is one kind; its marker selects it (`pytest -m unit`).
KINDS = ("unit", "contracts", "integration", "app", "browser", "faults")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with the kind its folder holds."""
    for item in items:
        kind = item.path.parent.name
        if kind in KINDS:
            item.add_marker(kind)


def pdf(name: str) -> Path:
    """A PDF from the shared test corpus by file name."""
    matches = list(PDFS.rglob(name))
    if not matches:
        pytest.skip(f"test PDF {name} not found under {PDFS}")
    return matches[0]


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    """The settings from the environment, without any .env file."""
    return load_settings(env_file=None)


@pytest.fixture(scope="session")
def embedder(base_settings: Settings) -> Embedder:
    """The real default embedding model, loaded once for the whole run."""
    return make_embedder(base_settings)


@pytest.fixture
def make_library(
    tmp_path: Path, base_settings: Settings, embedder: Embedder
) -> Callable[..., Library]:
    """Open a library on a temporary data folder; keyword arguments override settings."""

    def open_library(**overrides) -> Library:
        settings = base_settings.with_overrides(**{"data_dir": tmp_path / "data", **overrides})
        return open_engine(settings, embedder).library

    return open_library


@pytest.fixture
def library(make_library) -> Library:
    """An empty library on a temporary data folder."""
    return make_library()


@pytest.fixture
def ingestor(library: Library) -> Ingestor:
    """Ingests into `library`."""
    return Ingestor(library)


@pytest.fixture
def retriever(library: Library) -> Retriever:
    """Searches `library`."""
    return Retriever(library)


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """A fake OpenAI-compatible server on 127.0.0.1, fresh for each test, stopped after.

    A folder or module that needs it set up otherwise overrides this fixture with one that
    takes it (`def fake_llm(fake_llm)`) and changes its script.
    """
    with FakeLLM() as server:
        yield server
