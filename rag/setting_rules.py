"""The rules between settings: what one setting allows of another, checked at start-up."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.errors import SettingsError

if TYPE_CHECKING:  # rag.config imports this module to check what it has read
    from rag.config import Settings


def check_together(settings: Settings) -> None:
    """The rules that involve more than one setting; SettingsError names the settings."""
    overlap, chunk_tokens = settings.chunk_overlap, settings.chunk_tokens
    if overlap >= chunk_tokens // 2:
        raise SettingsError(
            f"RAG_CHUNK_OVERLAP must be less than half of RAG_CHUNK_TOKENS ({chunk_tokens}),"
            f" got {overlap}"
        )
    if settings.embed_provider == "fastembed" and settings.embed_dimensions is not None:
        raise SettingsError("RAG_EMBED_DIMENSIONS is only supported with RAG_EMBED_PROVIDER=openai")
    if settings.embed_provider != "fastembed" and settings.embed_precision != "fp32":
        raise SettingsError(
            f"RAG_EMBED_PRECISION={settings.embed_precision} is only supported with"
            " RAG_EMBED_PROVIDER=fastembed (the local model); remove it for an API model"
        )
    if settings.chat_max_tokens > settings.max_answer_tokens:
        raise SettingsError(
            f"RAG_CHAT_MAX_TOKENS ({settings.chat_max_tokens}) must not exceed"
            f" RAG_MAX_ANSWER_TOKENS ({settings.max_answer_tokens})"
        )
    _check_rerank(settings)


def _check_rerank(settings: Settings) -> None:
    """Each provider's needs, and no setting that the chosen provider would ignore."""
    provider = settings.rerank_provider
    if provider == "http" and settings.rerank_url is None:
        raise SettingsError(
            "RAG_RERANK_PROVIDER=http needs RAG_RERANK_URL (e.g. http://localhost:8080/rerank)"
        )
    if provider != "http" and settings.rerank_url is not None:
        raise SettingsError("RAG_RERANK_URL is only used with RAG_RERANK_PROVIDER=http")
    if provider != "fastembed" and settings.rerank_model_path is not None:
        raise SettingsError("RAG_RERANK_MODEL_PATH is only used with RAG_RERANK_PROVIDER=fastembed")
    if provider == "llm" and not settings.llm_configured:
        raise SettingsError(
            "RAG_RERANK_PROVIDER=llm needs a chat model: set RAG_CHAT_MODEL (and"
            " OPENAI_BASE_URL for a local server), OPENAI_API_KEY, or AZURE_OPENAI_ENDPOINT"
        )
