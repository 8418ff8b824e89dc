"""The OpenAI embedder through the real openai client against a fake server on 127.0.0.1."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.files import FileStatus
from ingest.pipeline import Ingestor
from rag.errors import EmbedderMismatchError, EmbeddingError
from rag.providers.embeddings import make_embedder
from rag.results import SearchOptions
from rag.search.retriever import Retriever
from rag.stores.library import Library
from tests.support.fake_llm import FakeLLM
from tests.support.helpers import free_port


@pytest.fixture
def server():
    with FakeLLM() as fake:
        yield fake


def _settings(base_settings, tmp_path, server, **extra):
    return base_settings.with_overrides(
        data_dir=tmp_path / "data",
        embed_provider="openai",
        embed_model="text-embedding-3-small",
        openai_base_url=server.base_url,
        **extra,
    )


def test_ingest_and_search_with_an_openai_compatible_embedder(base_settings, tmp_path, server):
    library = Library.open(_settings(base_settings, tmp_path, server, embed_dimensions=32))
    assert library.identity.provider == "openai"
    assert library.identity.dimensions == 32
    text = " ".join(f"Ravens and crows gather at dusk number {i}." for i in range(300))
    outcome = Ingestor(library).ingest_bytes("birds.txt", text.encode())
    assert outcome.status is FileStatus.INGESTED and outcome.chunks > 1
    requests = [r for r in server.requests if "input" in r]
    assert all(r["dimensions"] == 32 and isinstance(r["input"], list) for r in requests)
    vector = library.embed_query("ravens at dusk")
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    found = Retriever(library).search("ravens at dusk", SearchOptions(mode="vector"))
    assert found.chunks and found.chunks[0].source == "birds.txt"


def test_the_local_model_cannot_open_an_openai_collection(base_settings, tmp_path, server):
    Library.open(_settings(base_settings, tmp_path, server, embed_dimensions=32))
    local = base_settings.with_overrides(data_dir=tmp_path / "data")
    with pytest.raises(EmbedderMismatchError, match="text-embedding-3-small"):
        Library.open(local)


def test_an_unreachable_embeddings_api_is_an_embedding_error(base_settings):
    settings = base_settings.with_overrides(
        embed_provider="openai",
        embed_model="text-embedding-3-small",
        embed_dimensions=32,  # no request at start-up to learn the size
        openai_base_url=f"http://127.0.0.1:{free_port()}/v1",
    )
    embedder = make_embedder(settings)
    with pytest.raises(EmbeddingError, match="embeddings API failed"):
        embedder.embed_query("ravens at dusk")
