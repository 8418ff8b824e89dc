"""A knowledge base: a name people see, the collection behind it, and its settings.

Its settings come in two parts. `IndexSettings` shape the index (the model that made the
vectors, how closeness is measured, how text was cut, whether scans were read): they are
fixed when the knowledge base is created, since changing one means embedding every
document again. `KbSearchDefaults` only say how to search and answer, and may change at
any time.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

from rag.config import DISTANCE_NAMES, EMBED_PRECISIONS, EMBED_PROVIDERS, Settings
from rag.kb.errors import KnowledgeBaseSettingsError
from rag.providers.embeddings import INT8_SUFFIX, EmbedderIdentity
from rag.results import Fusion, SearchMode, SearchOptions

MIN_CHUNK_TOKENS = 16
MAX_K = 100
LANGUAGE_MAX_CHARS = 40


@dataclass(frozen=True)
class IndexSettings:
    """What shapes the index; fixed at creation.

    `embed_dimensions` (shortened OpenAI vectors) and the prefixes are None where the model's
    own apply; a knowledge base found in a data folder keeps the prefixes it was built with.
    """

    embed_provider: str
    embed_model: str
    embed_precision: str
    distance: str
    chunk_tokens: int
    chunk_overlap: int
    ocr: bool
    embed_dimensions: int | None = None
    query_prefix: str | None = None
    passage_prefix: str | None = None

    def __post_init__(self) -> None:
        _one_of("embedding provider", self.embed_provider, EMBED_PROVIDERS)
        _one_of("precision", self.embed_precision, EMBED_PRECISIONS)
        _one_of("distance", self.distance, DISTANCE_NAMES)
        if not self.embed_model.strip():
            raise KnowledgeBaseSettingsError("The embedding model needs a name")
        if self.embed_provider != "fastembed" and self.embed_precision != "fp32":
            raise KnowledgeBaseSettingsError(
                "int8 precision is only for the local model (fastembed); an API model is fp32"
            )
        if self.chunk_tokens < MIN_CHUNK_TOKENS:
            raise KnowledgeBaseSettingsError(
                f"The chunk size must be at least {MIN_CHUNK_TOKENS} tokens,"
                f" got {self.chunk_tokens}"
            )
        if not 0 <= self.chunk_overlap < self.chunk_tokens // 2:
            raise KnowledgeBaseSettingsError(
                "The chunk overlap must be at least 0 and less than half the chunk size"
                f" ({self.chunk_tokens} tokens), got {self.chunk_overlap}"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> IndexSettings:
        """The index settings a new collection would get from these settings."""
        return cls(
            embed_provider=settings.embed_provider,
            embed_model=settings.embed_model,
            embed_precision=settings.embed_precision,
            distance=settings.distance,
            chunk_tokens=settings.chunk_tokens,
            chunk_overlap=settings.chunk_overlap,
            ocr=settings.ocr,
            embed_dimensions=settings.embed_dimensions,
            query_prefix=settings.embed_query_prefix,
            passage_prefix=settings.embed_passage_prefix,
        )

    @classmethod
    def from_identity(cls, identity: EmbedderIdentity, settings: Settings) -> IndexSettings:
        """The index settings of a collection that exists: its model, precision, distance
        and prefixes as it recorded them, so its vectors stay as they are; chunking and OCR,
        which it does not record, from `settings`."""
        int8 = identity.provider == "fastembed" and identity.model.endswith(INT8_SUFFIX)
        shortened = identity.provider == "openai" and identity.dimensions == (
            settings.embed_dimensions
        )
        return cls(
            embed_provider=identity.provider,
            embed_model=identity.model.removesuffix(INT8_SUFFIX) if int8 else identity.model,
            embed_precision="int8" if int8 else "fp32",
            distance=identity.distance,
            chunk_tokens=settings.chunk_tokens,
            chunk_overlap=settings.chunk_overlap,
            ocr=settings.ocr,
            embed_dimensions=identity.dimensions if shortened else None,
            query_prefix=identity.query_prefix,
            passage_prefix=identity.passage_prefix,
        )

    def describe(self) -> str:
        """For lists: "fastembed:sentence-transformers/all-MiniLM-L6-v2 int8, cosine,
        chunks of 200 tokens (30 shared), OCR on"."""
        return (
            f"{self.embed_provider}:{self.embed_model} {self.embed_precision}, {self.distance},"
            f" chunks of {self.chunk_tokens} tokens ({self.chunk_overlap} shared),"
            f" OCR {'on' if self.ocr else 'off'}"
        )


@dataclass(frozen=True)
class KbSearchDefaults:
    """How a knowledge base is searched and answered unless someone asks otherwise.

    `chat_model` None: the configured chat model. `answer_language` None: the language of
    the question.
    """

    mode: SearchMode = SearchMode.HYBRID
    fusion: Fusion = Fusion.RELATIVE
    vector_weight: float = 1.0
    bm25_weight: float = 1.0
    k: int = 5
    rerank: bool = False
    chat_model: str | None = None
    answer_language: str | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "mode", SearchMode(self.mode))
            object.__setattr__(self, "fusion", Fusion(self.fusion))
        except ValueError as exc:
            raise KnowledgeBaseSettingsError(str(exc)) from None
        if not 1 <= self.k <= MAX_K:
            raise KnowledgeBaseSettingsError(f"k must be between 1 and {MAX_K}, got {self.k}")
        for label, weight in (("vector", self.vector_weight), ("BM25", self.bm25_weight)):
            if not (math.isfinite(weight) and weight >= 0):
                raise KnowledgeBaseSettingsError(f"The {label} weight must be 0 or more")
        if self.vector_weight == self.bm25_weight == 0:
            raise KnowledgeBaseSettingsError("The vector and BM25 weights cannot both be 0")
        object.__setattr__(self, "chat_model", _optional_text(self.chat_model))
        language = _optional_text(self.answer_language)
        if language is not None and len(language) > LANGUAGE_MAX_CHARS:
            raise KnowledgeBaseSettingsError(
                f"The answer language has at most {LANGUAGE_MAX_CHARS} characters"
            )
        object.__setattr__(self, "answer_language", language)

    @classmethod
    def from_settings(cls, settings: Settings) -> KbSearchDefaults:
        """The defaults of a new knowledge base: the app's, reranking on when a reranker is
        configured (as the command lines and the app do)."""
        return cls(rerank=settings.rerank_provider is not None)

    def options(self) -> SearchOptions:
        """These defaults as search options."""
        return SearchOptions(
            mode=self.mode,
            k=self.k,
            fusion=self.fusion,
            vector_weight=self.vector_weight,
            bm25_weight=self.bm25_weight,
            rerank=self.rerank,
        )


@dataclass(frozen=True)
class KnowledgeBase:
    """A set of documents with its own settings, kept in one collection.

    `owner` None means the local single user (sign-in comes later).
    """

    name: str
    collection: str
    owner: str | None
    created_at: float
    index: IndexSettings
    search: KbSearchDefaults = field(default_factory=KbSearchDefaults)

    def settings_json(self) -> dict[str, dict]:
        """Both kinds of settings, as the registry stores them."""
        return {"index": asdict(self.index), "search": asdict(self.search)}

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form (the command line's --json)."""
        return {
            "name": self.name,
            "collection": self.collection,
            "owner": self.owner,
            "created_at": self.created_at,
            **self.settings_json(),
        }


def index_fields() -> frozenset[str]:
    """Names of the settings fixed at creation."""
    return frozenset(f.name for f in fields(IndexSettings))


def search_fields() -> frozenset[str]:
    """Names of the settings that may change."""
    return frozenset(f.name for f in fields(KbSearchDefaults))


def settings_from_json(stored: dict) -> tuple[IndexSettings, KbSearchDefaults]:
    """Settings read back from the registry; fields it does not know are left out, so a
    registry written by a later version still opens."""
    index = {k: v for k, v in stored["index"].items() if k in index_fields()}
    search = {k: v for k, v in stored.get("search", {}).items() if k in search_fields()}
    return IndexSettings(**index), KbSearchDefaults(**search)


def _one_of(label: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise KnowledgeBaseSettingsError(
            f"The {label} must be one of {', '.join(allowed)}; got {value!r}"
        )


def _optional_text(value: str | None) -> str | None:
    return (value or "").strip() or None
