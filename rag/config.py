"""Settings, read once from the environment and an optional `.env` file.

This is the only module that reads the environment. Every value is checked here, so a bad
setting stops the program at start-up with a message that names it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from dotenv import dotenv_values

from rag.errors import SettingsError
from rag.setting_rules import check_together
from rag.setting_values import Values

T = TypeVar("T")

EMBED_PROVIDERS = ("fastembed", "openai")
DISTANCE_NAMES = ("cosine", "dot", "euclidean")
# Weights of the local model: int8 is 1.5x faster for -0.004 nDCG@10 (BENCHMARKS.md, sections
# 5 and 12). An API model has one precision, its own: "fp32" here.
EMBED_PRECISIONS = ("fp32", "int8")
DEFAULT_EMBED_MODELS = {
    "fastembed": "sentence-transformers/all-MiniLM-L6-v2",
    "openai": "text-embedding-3-small",
}
# With an OpenAI key but no RAG_CHAT_MODEL, this model answers.
DEFAULT_OPENAI_CHAT_MODEL = "gpt-4o-mini"
# RAG_CHAT_MODEL=none turns generation off even when a key is set.
NO_CHAT_MODEL = "none"
# Optional reranking after fusion: a local cross-encoder, a rerank server, or the chat model.
RERANK_PROVIDERS = ("fastembed", "http", "llm")
DEFAULT_RERANK_MODEL = "Xenova/ms-marco-MiniLM-L-6-v2"


@dataclass(frozen=True)
class Settings:
    """Everything the engine can be configured with; see the README for each variable."""

    data_dir: Path = Path("data")
    collection: str = "documents"
    embed_provider: str = "fastembed"
    embed_model: str = DEFAULT_EMBED_MODELS["fastembed"]
    embed_model_path: Path | None = None
    embed_dimensions: int | None = None
    embed_batch_size: int = 32
    embed_precision: str = "int8"
    # None: the model's known prefix (rag.prefixes.KNOWN_PREFIXES); "" means no prefix.
    embed_query_prefix: str | None = None
    embed_passage_prefix: str | None = None
    # How a new collection measures closeness (cosine, dot, euclidean); fixed at creation.
    distance: str = "cosine"
    # Secrets never appear in a repr (logs, error pages, cache keys).
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    chroma_host: str | None = None
    chroma_port: int = 8000
    chunk_tokens: int = 200
    chunk_overlap: int = 30
    parse_timeout_s: float = 300.0
    parse_memory_mb: int = 1024
    # Limits on what one upload may hold, enforced by the ingestion pipeline itself.
    max_upload_mb: int = 100
    max_pages: int = 5000
    max_chars: int = 10_000_000
    # Text recognition of pages without a usable text layer (scans), in the parser process.
    ocr: bool = True
    ocr_page_timeout_s: float = 60.0
    ocr_document_timeout_s: float = 1800.0
    ocr_memory_mb: int = 2048
    # Tables of born-digital PDFs written as rows, from a second, layout-keeping reading of
    # the pages that hold many numbers. Off: on FinanceBench it cost 74% more parsing time
    # and ranked evidence pages lower (BENCHMARKS.md, section 8).
    pdf_tables: bool = False
    # Office, EPUB and OpenDocument files are ZIP archives, checked before extraction.
    max_unzipped_mb: int = 500
    max_zip_ratio: int = 200
    max_sheet_rows: int = 100_000
    max_sheet_cells: int = 2_000_000
    # Writes stop while less than this is free: some stores hang rather than fail on a
    # full disk, so the app never lets the disk fill up under them.
    min_free_mb: int = 200
    # Generation: None means retrieval-only answers (no language model).
    chat_provider: str | None = None
    chat_model: str | None = None
    chat_base_url: str | None = None
    chat_temperature: float = 0.1
    chat_max_tokens: int = 800
    chat_timeout_s: float = 60.0
    chat_max_retries: int = 2
    context_tokens: int = 6000
    # Limits per question and per browser session.
    max_question_chars: int = 4000
    max_answer_tokens: int = 4000
    session_questions_per_minute: int = 10
    session_max_questions: int = 500
    # With sign-in: who owns the knowledge bases without an owner (emails), how many
    # questions one person may ask a minute across their sessions, and how much room
    # (MB; 0 for no limit) the files of the knowledge bases they own may take.
    admins: tuple[str, ...] = ()
    person_questions_per_minute: int = 20
    person_storage_mb: int = 2048
    # Who may sign in at all (emails, "@domain"; empty: whoever the provider signs in), and
    # whether the app refuses to run without sign-in (None: once people own knowledge bases).
    allowed_people: tuple[str, ...] = ()
    require_sign_in: bool | None = None
    azure_endpoint: str | None = None
    azure_api_key: str | None = field(default=None, repr=False)
    azure_api_version: str = "2024-10-21"
    # Reranking: None means no reranker (the fused order is final).
    rerank_provider: str | None = None
    rerank_model: str | None = None
    rerank_model_path: Path | None = None
    # A URL may hold a user and password, or a key in its query: kept out of reprs too.
    rerank_url: str | None = field(default=None, repr=False)
    rerank_api_key: str | None = field(default=None, repr=False)
    rerank_candidates: int = 30
    rerank_timeout_s: float = 15.0
    # The HTTP service (python -m rag.api): requests one person (API key) may make a minute,
    # answers written at once, and the largest JSON body it reads (KB).
    api_requests_per_minute: int = 120
    api_max_concurrent_answers: int = 4
    api_max_body_kb: int = 1024

    @property
    def llm_configured(self) -> bool:
        """True when a chat model is configured; otherwise answers are retrieval-only."""
        return self.chat_provider is not None

    @property
    def server_mode(self) -> bool:
        """True when a Chroma server is configured instead of the embedded store."""
        return self.chroma_host is not None

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields changed (command-line flags win over the environment).

        Values are checked as they are when read from the environment.
        """
        if "collection" in changes:
            Values({"RAG_COLLECTION": str(changes["collection"]) or " "}).collection_name(
                "RAG_COLLECTION", ""
            )
        return replace(self, **changes)


# Every default is written once, on its field above; other modules read them here.
DEFAULTS = Settings()
# Numeric settings: field -> (variable, minimum, maximum). The default is the field's own.
_NUMBERS: dict[str, tuple[str, float | None, float | None]] = {
    "embed_batch_size": ("RAG_EMBED_BATCH_SIZE", 1, None),
    "chroma_port": ("CHROMA_PORT", 1, 65535),
    "chunk_tokens": ("RAG_CHUNK_TOKENS", 16, None),
    "chunk_overlap": ("RAG_CHUNK_OVERLAP", 0, None),
    "parse_timeout_s": ("RAG_PARSE_TIMEOUT_S", 1, None),
    "parse_memory_mb": ("RAG_PARSE_MEMORY_MB", 128, None),
    "max_upload_mb": ("RAG_MAX_UPLOAD_MB", 1, None),
    "max_pages": ("RAG_MAX_PAGES", 1, None),
    "max_chars": ("RAG_MAX_CHARS", 1000, None),
    "ocr_page_timeout_s": ("RAG_OCR_PAGE_TIMEOUT_S", 1, None),
    "ocr_document_timeout_s": ("RAG_OCR_DOCUMENT_TIMEOUT_S", 1, None),
    "ocr_memory_mb": ("RAG_OCR_MEMORY_MB", 512, None),
    "max_unzipped_mb": ("RAG_MAX_UNZIPPED_MB", 1, None),
    "max_zip_ratio": ("RAG_MAX_ZIP_RATIO", 2, None),
    "max_sheet_rows": ("RAG_MAX_SHEET_ROWS", 1, None),
    "max_sheet_cells": ("RAG_MAX_SHEET_CELLS", 1, None),
    "min_free_mb": ("RAG_MIN_FREE_MB", 0, None),
    "chat_temperature": ("RAG_CHAT_TEMPERATURE", 0, 2),
    "chat_max_tokens": ("RAG_CHAT_MAX_TOKENS", 16, None),
    "chat_timeout_s": ("RAG_CHAT_TIMEOUT_S", 0.1, None),
    "chat_max_retries": ("RAG_CHAT_MAX_RETRIES", 0, 10),
    "context_tokens": ("RAG_CONTEXT_TOKENS", 500, None),
    "max_question_chars": ("RAG_MAX_QUESTION_CHARS", 100, None),
    "max_answer_tokens": ("RAG_MAX_ANSWER_TOKENS", 16, None),
    "session_questions_per_minute": ("RAG_SESSION_QUESTIONS_PER_MINUTE", 1, None),
    "session_max_questions": ("RAG_SESSION_MAX_QUESTIONS", 1, None),
    "person_questions_per_minute": ("RAG_PERSON_QUESTIONS_PER_MINUTE", 1, None),
    "person_storage_mb": ("RAG_PERSON_STORAGE_MB", 0, None),
    "rerank_candidates": ("RAG_RERANK_CANDIDATES", 1, None),
    "rerank_timeout_s": ("RAG_RERANK_TIMEOUT_S", 0.1, None),
    "api_requests_per_minute": ("RAG_API_REQUESTS_PER_MINUTE", 1, None),
    "api_max_concurrent_answers": ("RAG_API_MAX_CONCURRENT_ANSWERS", 1, None),
    "api_max_body_kb": ("RAG_API_MAX_BODY_KB", 1, None),
}


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
) -> Settings:
    """Read the settings; the environment wins over `.env`. Raises SettingsError."""
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    return _parse(Values(values))


def _parse(env: Values) -> Settings:
    provider = env.choice("RAG_EMBED_PROVIDER", EMBED_PROVIDERS, DEFAULTS.embed_provider)
    numbers = {
        name: env.number(variable, getattr(DEFAULTS, name), minimum, maximum)
        for name, (variable, minimum, maximum) in _NUMBERS.items()
    }
    settings = Settings(
        data_dir=Path(env.text("RAG_DATA_DIR", str(DEFAULTS.data_dir))),
        collection=env.collection_name("RAG_COLLECTION", DEFAULTS.collection),
        embed_provider=provider,
        embed_model=env.text("RAG_EMBED_MODEL", DEFAULT_EMBED_MODELS[provider]),
        embed_model_path=env.directory("RAG_EMBED_MODEL_PATH"),
        embed_dimensions=env.optional_number("RAG_EMBED_DIMENSIONS", minimum=1),
        embed_precision=env.choice(
            "RAG_EMBED_PRECISION",
            EMBED_PRECISIONS,
            DEFAULTS.embed_precision if provider == "fastembed" else "fp32",
        ),
        embed_query_prefix=env.prefix("RAG_EMBED_QUERY_PREFIX"),
        embed_passage_prefix=env.prefix("RAG_EMBED_PASSAGE_PREFIX"),
        distance=env.choice("RAG_DISTANCE", DISTANCE_NAMES, DEFAULTS.distance),
        openai_api_key=env.optional_text("OPENAI_API_KEY"),
        openai_base_url=env.url("OPENAI_BASE_URL"),
        chroma_host=env.optional_text("CHROMA_HOST"),
        ocr=env.flag("RAG_OCR", DEFAULTS.ocr),
        pdf_tables=env.flag("RAG_PDF_TABLES", DEFAULTS.pdf_tables),
        admins=env.names("RAG_ADMINS"),
        allowed_people=env.names("RAG_ALLOWED_PEOPLE"),
        require_sign_in=env.optional_flag("RAG_REQUIRE_SIGN_IN"),
        **numbers,
    )
    settings = replace(settings, **_chat_settings(env, settings), **_rerank_settings(env))
    check_together(settings)
    return settings


def _chat_settings(env: Values, settings: Settings) -> dict[str, object]:
    """Generation settings; which provider (if any) follows from what is set."""
    provider, model = _chat_provider(env, settings)
    return {
        "chat_provider": provider,
        "chat_model": model,
        "chat_base_url": env.url("RAG_CHAT_BASE_URL") or settings.openai_base_url,
        "azure_endpoint": env.url("AZURE_OPENAI_ENDPOINT"),
        "azure_api_key": env.optional_text("AZURE_OPENAI_API_KEY"),
        "azure_api_version": env.text("OPENAI_API_VERSION", DEFAULTS.azure_api_version),
    }


def _chat_provider(env: Values, settings: Settings) -> tuple[str | None, str | None]:
    """(provider, model): Azure by its endpoint, OpenAI or a compatible server, or none.

    An OpenAI key alone implies the default OpenAI model. A base URL alone does not: the
    model name of a local server (Ollama, vLLM, LM Studio) cannot be guessed, so
    RAG_CHAT_MODEL must name it.
    """
    model = env.optional_text("RAG_CHAT_MODEL")
    if model is not None and model.lower() == NO_CHAT_MODEL:
        return None, None
    if env.optional_text("AZURE_OPENAI_ENDPOINT") is not None:
        deployment = env.optional_text("AZURE_OPENAI_DEPLOYMENT") or model
        if deployment is None:
            raise SettingsError(
                "AZURE_OPENAI_ENDPOINT needs AZURE_OPENAI_DEPLOYMENT (the deployment name)"
            )
        return "azure", deployment
    if model is None and settings.openai_api_key is not None:
        model = DEFAULT_OPENAI_CHAT_MODEL
    return ("openai", model) if model is not None else (None, None)


def _rerank_settings(env: Values) -> dict[str, object]:
    """Reranking settings; the model defaults to a small cross-encoder for fastembed."""
    provider = env.optional_text("RAG_RERANK_PROVIDER")
    if provider is not None:
        provider = env.choice("RAG_RERANK_PROVIDER", RERANK_PROVIDERS, provider)
    model = env.optional_text("RAG_RERANK_MODEL")
    return {
        "rerank_provider": provider,
        "rerank_model": model or (DEFAULT_RERANK_MODEL if provider == "fastembed" else None),
        "rerank_model_path": env.directory("RAG_RERANK_MODEL_PATH"),
        "rerank_url": env.url("RAG_RERANK_URL"),
        "rerank_api_key": env.optional_text("RAG_RERANK_API_KEY"),
    }
