"""A knowledge base's settings applied to the engine's, so that every code path that takes
settings (Library.open, ingestion, the queue) works on a knowledge base unchanged."""

from __future__ import annotations

from pathlib import Path

from rag.config import DEFAULT_EMBED_MODELS, Settings
from rag.kb.model import IndexSettings, KnowledgeBase
from rag.providers.embeddings import INT8_SUFFIX, Embedder
from rag.providers.prefixes import resolve_prefixes
from rag.results import SearchOptions


def settings_for(base: Settings, kb: KnowledgeBase) -> Settings:
    """`base` with the knowledge base's collection and index settings: its model,
    precision, prefixes, distance, chunking and OCR. Everything else (keys, limits, the
    chat model, the reranker) stays as `base` has it."""
    index = kb.index
    return base.with_overrides(
        collection=kb.collection,
        embed_provider=index.embed_provider,
        embed_model=index.embed_model,
        embed_model_path=_model_path(base, index),
        embed_precision=index.embed_precision,
        embed_dimensions=index.embed_dimensions,
        embed_query_prefix=index.query_prefix,
        embed_passage_prefix=index.passage_prefix,
        distance=index.distance,
        chunk_tokens=index.chunk_tokens,
        chunk_overlap=index.chunk_overlap,
        ocr=index.ocr,
    )


def search_options_for(kb: KnowledgeBase) -> SearchOptions:
    """The knowledge base's search defaults as search options."""
    return kb.search.options()


def embedder_fits(embedder: Embedder, settings: Settings) -> bool:
    """Whether a loaded model is the one `settings` would load (same model, precision and
    prefixes), so that a knowledge base may reuse it instead of loading its own."""
    identity = embedder.identity
    model = settings.embed_model
    if settings.embed_provider == "fastembed" and settings.embed_precision == "int8":
        model += INT8_SUFFIX
    prefixes = resolve_prefixes(
        settings.embed_model, settings.embed_query_prefix, settings.embed_passage_prefix
    )
    dimensions_fit = settings.embed_dimensions in (None, identity.dimensions)
    return (identity.provider, identity.model, identity.query_prefix, identity.passage_prefix) == (
        settings.embed_provider,
        model,
        prefixes.query,
        prefixes.passage,
    ) and dimensions_fit


def _model_path(base: Settings, index: IndexSettings) -> Path | None:
    # RAG_EMBED_MODEL_PATH holds one local model: the configured one, or the default local
    # model when the configured provider is an API. Any other model is fetched by name.
    if index.embed_provider != "fastembed" or base.embed_model_path is None:
        return None
    local = base.embed_model if base.embed_provider == "fastembed" else None
    usable = index.embed_model == (local or DEFAULT_EMBED_MODELS["fastembed"])
    return base.embed_model_path if usable else None
