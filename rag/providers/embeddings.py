"""Embedding models behind one small interface: fastembed locally, or an OpenAI-style API.

Each embedder also counts tokens with its own tokenizer, so chunking can guarantee that no
chunk is silently truncated by the model.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rag.config import Settings
from rag.errors import EmbeddingError, SettingsError
from rag.providers.identity import EmbedderIdentity
from rag.providers.int8 import Int8Model, int8_model
from rag.providers.prefixes import Prefixes, resolve_prefixes

# EmbedderIdentity is defined beside the identity checks but read from here by the stores.
if TYPE_CHECKING:
    from fastembed import TextEmbedding

__all__ = ["Embedder", "EmbedderIdentity", "FastEmbedEmbedder", "OpenAIEmbedder", "make_embedder"]

Offsets = list[tuple[int, int]]
# Appended to the model's name in the identity of int8 vectors.
INT8_SUFFIX = ":int8"


class Embedder(Protocol):
    """Turns texts into unit-length vectors and counts tokens the way the model does."""

    identity: EmbedderIdentity

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text as the model sees it as a passage: passage prefix and special
        tokens included."""
        ...

    def token_offsets(self, text: str) -> Offsets:
        """Character span of each token of `text`, special tokens excluded."""
        ...

    @property
    def max_chunk_tokens(self) -> int:
        """The most tokens a chunk may have so the model reads all of it, prefix included."""
        ...


class FastEmbedEmbedder:
    """A local ONNX model run by fastembed (all-MiniLM-L6-v2 by default); no key, no server."""

    def __init__(
        self,
        model: str,
        model_path: str | None,
        batch_size: int,
        prefixes: Prefixes | None = None,
        precision: str = "fp32",
        int8_cache: Path | None = None,
    ) -> None:
        """Load `model` (from `model_path`, or fastembed's download); with precision "int8",
        its int8 copy, made once in `int8_cache` (default: int8.default_cache_root())."""
        # The int8 model in use and whether this load made it; None at fp32.
        self._model, self.int8 = _load_model(model, model_path, precision, int8_cache)
        self._batch_size = batch_size
        self._prefixes = prefixes or Prefixes()
        tokenizer = self._model.model.tokenizer
        self._model_max = _model_max_tokens(model, int(tokenizer.truncation["max_length"]))
        # fastembed's tokenizer truncates and pads; counting needs one that does neither.
        self._tokenizer = type(tokenizer).from_str(tokenizer.to_str())
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.identity = EmbedderIdentity(
            provider="fastembed",
            # int8 vectors differ a little from fp32 ones: a collection holds one kind only.
            model=model if self.int8 is None else model + INT8_SUFFIX,
            dimensions=int(self._model.embedding_size),
            max_tokens=self._model_max,
            query_prefix=self._prefixes.query,
            passage_prefix=self._prefixes.passage,
        )

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for `texts` (each after the passage prefix), one row each, in order."""
        if not texts:
            return np.zeros((0, self.identity.dimensions), dtype=np.float32)
        texts = [self._prefixes.passage + text for text in texts]
        # Texts of like length share a batch, so less of each batch is padding: the same
        # vectors, 3-17% sooner (bench/results/embedding_speed.md). int8 models scale their
        # activations per batch, so there a text's vector moves a little with its batch
        # (cosine 0.99 or more), whatever the order.
        order = np.argsort(self._count(texts), kind="stable")
        batches = self._model.embed([texts[i] for i in order], batch_size=self._batch_size)
        vectors = np.vstack(list(batches))
        restored = np.empty_like(vectors)
        restored[order] = vectors
        return restored

    def embed_query(self, text: str) -> np.ndarray:
        """The vector of one query, after the query prefix."""
        return next(iter(self._model.query_embed(self._prefixes.query + text)))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text as a passage: prefix, [CLS] and [SEP] included."""
        return self._count([self._prefixes.passage + text for text in texts])

    def _count(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self._tokenizer.encode_batch(texts)]

    def token_offsets(self, text: str) -> Offsets:
        """Character span of each word piece of `text` itself (no prefix)."""
        return list(self._tokenizer.encode(text, add_special_tokens=False).offsets)

    @cached_property
    def max_chunk_tokens(self) -> int:
        """The model's limit less the special tokens and the passage prefix."""
        return self._model_max - self.count_tokens([""])[0]


def _load_model(
    model: str, model_path: str | None, precision: str, int8_cache: Path | None
) -> tuple[TextEmbedding, Int8Model | None]:
    """fastembed's model, and where precision is int8 the int8 copy it was loaded from."""
    from fastembed import TextEmbedding  # heavy import, only when this embedder is used

    made, folder = None, model_path
    try:
        if precision == "int8":
            # lazy_load finds (or downloads) the fp32 files without starting a session.
            fp32 = TextEmbedding(model, specific_model_path=model_path, lazy_load=True).model
            # fastembed 0.9.1 keeps the folder it found (its own download cache when no
            # path was given) only in this attribute, and the ONNX file's place in it here.
            source = Path(fp32._model_dir)
            made = int8_model(source, fp32.model_description.model_file, model, int8_cache)
            folder = str(made.folder)
        return _without_memory_pattern(TextEmbedding(model, specific_model_path=folder)), made
    except (ValueError, OSError, RuntimeError, AttributeError) as exc:
        raise SettingsError(
            f"RAG_EMBED_MODEL {model!r} could not be loaded"
            f"{' from RAG_EMBED_MODEL_PATH' if model_path else ''}: {type(exc).__name__}"
        ) from exc


def _without_memory_pattern(embedding: TextEmbedding) -> TextEmbedding:
    """`embedding` with its ONNX session reopened as fastembed made it, memory pattern off.

    The pattern plans one block for all of a run's tensors per input shape, taken from an
    arena that never shrinks; length-sorted batches give nearly every batch a shape of its
    own, so each took a larger block: ingesting a 352-page book peaked 370 MB higher at int8
    (40-90 MB at fp32), no faster. Same vectors; fastembed exposes no option for it.
    """
    inner = embedding.model
    session, inner.model = inner.model, None  # one session at a time: the first is freed
    options = session.get_session_options()
    options.enable_mem_pattern = False
    providers, settings = session.get_providers(), session.get_provider_options()
    path = session._model_path  # fastembed's choice (it may link the file elsewhere)
    # The class of fastembed's session: onnxruntime itself is imported by int8.py alone.
    opened = type(session)
    del session
    inner.model = opened(
        path, options, providers=providers, provider_options=[settings[p] for p in providers]
    )
    return embedding


def _model_max_tokens(model: str, tokenizer_max: int) -> int:
    """The tokenizer's limit, or fastembed's stated one where that is lower.

    Some tokenizer configs give the position table's size (512) while the model was trained
    on less: paraphrase-multilingual-MiniLM-L12-v2 reads 128 word pieces well, not 512.
    """
    described = _described_max_tokens().get(model.lower())
    return min(tokenizer_max, described) if described else tokenizer_max


@lru_cache(maxsize=1)
def _described_max_tokens() -> dict[str, int]:
    """ "N input tokens" from each fastembed model description, by lower-case model name."""
    from fastembed import TextEmbedding

    found = {}
    for description in TextEmbedding.list_supported_models():
        match = re.search(r"(\d+) input tokens", description.get("description", ""))
        if match:
            found[description["model"].lower()] = int(match.group(1))
    return found


class OpenAIEmbedder:
    """OpenAI's embeddings API, or any server that speaks it (set OPENAI_BASE_URL)."""

    # text-embedding-3-* and ada-002 accept 8191 tokens; other servers are assumed alike.
    MAX_TOKENS = 8191
    # The API takes at most 2048 inputs per request.
    MAX_BATCH = 2048

    def __init__(self, settings: Settings, prefixes: Prefixes | None = None) -> None:
        import openai
        import tiktoken

        if settings.openai_api_key is None and settings.openai_base_url is None:
            raise SettingsError("RAG_EMBED_PROVIDER=openai needs OPENAI_API_KEY or OPENAI_BASE_URL")
        self._client = openai.OpenAI(
            api_key=settings.openai_api_key or "not-needed",
            base_url=settings.openai_base_url,
            timeout=60.0,
            max_retries=3,
        )
        self._model = settings.embed_model
        self._dimensions = settings.embed_dimensions
        self._batch_size = min(settings.embed_batch_size * 8, self.MAX_BATCH)
        self._encoding = tiktoken.get_encoding("cl100k_base")
        self._prefixes = prefixes or Prefixes()
        self.identity = EmbedderIdentity(
            provider="openai",
            model=self._model,
            dimensions=self._dimensions or len(self._request(["dimensions probe"])[0]),
            max_tokens=self.MAX_TOKENS,
            query_prefix=self._prefixes.query,
            passage_prefix=self._prefixes.passage,
        )

    def _request(self, texts: list[str]) -> np.ndarray:
        import openai

        extra = {"dimensions": self._dimensions} if self._dimensions else {}
        try:
            response = self._client.embeddings.create(model=self._model, input=texts, **extra)
        except openai.OpenAIError as exc:
            raise EmbeddingError(
                f"The embeddings API failed for model {self._model!r}: {exc}"
            ) from exc
        vectors = np.array([item.embedding for item in response.data], dtype=np.float32)
        # Shortened vectors are not unit length; normalise so cosine and dot agree.
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for `texts` (each after the passage prefix), requested in batches."""
        batches = _batched([self._prefixes.passage + text for text in texts], self._batch_size)
        rows = [self._request(batch) for batch in batches]
        return np.vstack(rows) if rows else np.zeros((0, self.identity.dimensions), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """The vector of one query, after the query prefix."""
        return self._request([self._prefixes.query + text])[0]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """cl100k tokens per text as a passage, prefix included."""
        passages = [self._prefixes.passage + text for text in texts]
        return [len(tokens) for tokens in self._encoding.encode_batch(passages)]

    def token_offsets(self, text: str) -> Offsets:
        """Character span of each cl100k token."""
        tokens = self._encoding.encode(text)
        _, starts = self._encoding.decode_with_offsets(tokens)
        ends = [*starts[1:], len(text)]
        return list(zip(starts, ends, strict=True))

    @cached_property
    def max_chunk_tokens(self) -> int:
        """The API's input limit less the passage prefix."""
        return self.MAX_TOKENS - self.count_tokens([""])[0]


def _batched(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def make_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for."""
    prefixes = resolve_prefixes(
        settings.embed_model, settings.embed_query_prefix, settings.embed_passage_prefix
    )
    if settings.embed_provider == "openai":
        return OpenAIEmbedder(settings, prefixes)
    path = str(settings.embed_model_path) if settings.embed_model_path else None
    return FastEmbedEmbedder(
        settings.embed_model,
        path,
        settings.embed_batch_size,
        prefixes,
        precision=settings.embed_precision,
    )
