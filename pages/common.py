"""What every page shares: the engine, opened once per process and shared by all sessions."""

from __future__ import annotations

import streamlit as st

from ingest.pipeline import Ingestor
from rag.config import load_settings
from rag.library import Library
from rag.retrieval import Retriever


@st.cache_resource(show_spinner="Opening the document library…")
def engine() -> tuple[Library, Ingestor, Retriever]:
    """The library, its ingestor and retriever (thread-safe, shared across sessions)."""
    library = Library.open(load_settings())
    return library, Ingestor(library), Retriever(library)
