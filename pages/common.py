"""What every page shares: settings, and the engine opened once per process.

`st.cache_resource` shares one engine between all sessions (the library and retriever are
thread-safe), with its ingestion queue, whose worker thread ingests uploads in the
background while every session searches and chats. The embedding model is cached on its
own, so a change of data folder (as in tests) reopens the stores without reloading the
model.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from ingest.pipeline import Ingestor
from ingest.queue import IngestQueue, JobStore
from ingest.viewer import PageViewer
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
    with guarded():
        return load_settings()


def engine() -> tuple[Library, Ingestor, Retriever]:
    """The library, its ingestor and retriever (thread-safe, shared across sessions)."""
    shared, ingestor = _shared()
    return shared.library, ingestor, shared.retriever


def ingest_queue() -> IngestQueue | None:
    """The shared library's ingestion queue; None when the data folder is read-only."""
    return _opened()[2]


def _shared() -> tuple[Engine, Ingestor]:
    engine, ingestor, _ = _opened()
    return engine, ingestor


def _opened() -> tuple[Engine, Ingestor, IngestQueue | None]:
    current = settings()
    with guarded():
        return _open_engine(repr(current), current)


def page_viewer() -> PageViewer:
    """The viewer of the shared library's documents (it keeps drawn pages in memory)."""
    current = settings()
    with guarded():
        return _viewer(repr(current), current)


@st.cache_resource(show_spinner=False, max_entries=1)
def _viewer(key: str, _settings: Settings) -> PageViewer:
    # Keyed like the engine, so a change of data folder gets a viewer of the new library.
    return PageViewer(_open_engine(key, _settings)[0].library)


def chat_engine() -> ChatEngine:
    """The chat flow over the shared library."""
    return _shared()[0].chat


@contextmanager
def guarded(stop: bool = True) -> Iterator[None]:
    """Run the block; our own error is shown as its message (never a traceback) and logged.

    Then this run of the page stops, or with `stop=False` goes on after the block (the rest
    of the block is skipped).
    """
    try:
        yield
    except RagError as exc:
        log.warning("%s: %s", "stopping the page" if stop else "shown to the user", exc)
        st.error(str(exc))
        if stop:
            st.stop()


@st.cache_resource(show_spinner="Loading the embedding model…")
def _embedder(key: str, _settings: Settings) -> Embedder:
    return make_embedder(_settings)


def _close_queue(opened: tuple[Engine, Ingestor, IngestQueue | None]) -> None:
    if opened[2] is not None:
        opened[2].close()


# One engine per process: settings that change (an edited .env) replace it, and its
# queue's worker stops, so two workers never write one data folder.
@st.cache_resource(
    show_spinner="Opening the document library…", max_entries=1, on_release=_close_queue
)
def _open_engine(key: str, _settings: Settings) -> tuple[Engine, Ingestor, IngestQueue | None]:
    engine = open_engine(_settings, _embedder(_embedder_key(_settings), _settings))
    # One ingestor per engine, shared too: it holds the per-document upload locks.
    ingestor = Ingestor(engine.library)
    if engine.library.read_only:
        return engine, ingestor, None
    # The process holds the data folder: its worker runs the queue, resuming at once
    # what a stopped process left unfinished.
    return engine, ingestor, IngestQueue(ingestor, JobStore(_settings))


def _embedder_key(settings: Settings) -> str:
    return repr(
        (
            settings.embed_provider,
            settings.embed_model,
            settings.embed_model_path,
            settings.embed_dimensions,
            settings.embed_precision,
            settings.openai_base_url,
        )
    )


def clear_engine() -> None:
    """Close the shared engine (tests switch data folders); the model stays loaded."""
    _open_engine.clear()
    _viewer.clear()
