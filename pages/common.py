"""What every page shares: settings, and the engine opened once per process.

`st.cache_resource` shares one engine between all sessions (the library and retriever are
thread-safe). The embedding model is cached on its own, so a change of data folder (as in
tests) reopens the stores without reloading the model.
"""

from __future__ import annotations

import logging

import streamlit as st

from ingest.pipeline import Ingestor
from rag.chat.flow import ChatEngine
from rag.config import Settings, load_settings
from rag.engine import Engine, open_engine
from rag.errors import RagError
from rag.providers.embeddings import Embedder, make_embedder
from rag.search.retriever import Retriever
from rag.stores.library import Library

log = logging.getLogger(__name__)


def settings() -> Settings:
    """The settings; a bad value stops the page with a message that names it."""
    try:
        return load_settings()
    except RagError as exc:
        stop_with_error(exc)


def engine() -> tuple[Library, Ingestor, Retriever]:
    """The library, its ingestor and retriever (thread-safe, shared across sessions)."""
    shared, ingestor = _shared()
    return shared.library, ingestor, shared.retriever


def _shared() -> tuple[Engine, Ingestor]:
    current = settings()
    try:
        return _open_engine(repr(current), current)
    except RagError as exc:
        stop_with_error(exc)


def chat_engine() -> ChatEngine:
    """The chat flow over the shared library."""
    return _shared()[0].chat


def stop_with_error(exc: Exception) -> None:
    """Show a user-facing error (never a traceback) and stop this run of the page."""
    log.warning("stopping the page: %s", exc)
    st.error(str(exc))
    st.stop()


@st.cache_resource(show_spinner="Loading the embedding model…")
def _embedder(key: str, _settings: Settings) -> Embedder:
    return make_embedder(_settings)


@st.cache_resource(show_spinner="Opening the document library…")
def _open_engine(key: str, _settings: Settings) -> tuple[Engine, Ingestor]:
    engine = open_engine(_settings, _embedder(_embedder_key(_settings), _settings))
    # One ingestor per engine, shared too: it holds the per-document upload locks.
    return engine, Ingestor(engine.library)


def _embedder_key(settings: Settings) -> str:
    return repr(
        (
            settings.embed_provider,
            settings.embed_model,
            settings.embed_model_path,
            settings.embed_dimensions,
            settings.openai_base_url,
        )
    )


def clear_engine() -> None:
    """Close the shared engine (tests switch data folders); the model stays loaded."""
    _open_engine.clear()
