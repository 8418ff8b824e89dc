"""Fakes of the project's own interfaces, for fast tests without models, servers or stores."""

from __future__ import annotations

import re
import zlib
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.answers import Message
from rag.config import Settings
from rag.distances import DISTANCES
from rag.documents import Chunk, DocumentRecord, DocumentStatus, chunk_id_for
from rag.errors import LLMError
from rag.providers.chat_model import TokenUsage
from rag.providers.embeddings import EmbedderIdentity
from rag.stores.library import Library
from rag.stores.protocols import Stores
from tests.memory_stores import MemoryCatalog, MemoryChunkIndex, MemoryWordIndex, words_of

_PIECE = re.compile(r"\S+\s*")


@dataclass(frozen=True)
class _Reply:
    text: str
    error: LLMError | None = None


class QueuedChatModel:
    """A chat model that answers from a queue of replies and records what it was sent.

    `reply` queues texts, streamed word by word; `fail` queues a failure, optionally after
    some text has arrived. Each call (`stream` or `complete`) takes the next reply and
    records its messages in `calls`; an empty queue is a test error.
    """

    def __init__(self, name: str = "queued-model", usage: TokenUsage | None = None) -> None:
        self.name = name
        self.last_usage = TokenUsage()
        self.last_tries = 0
        self.calls: list[list[Message]] = []
        self._usage = usage or TokenUsage()
        self._replies: deque[_Reply] = deque()

    def reply(self, *texts: str) -> QueuedChatModel:
        """Queue replies, one per future call, in order."""
        self._replies.extend(_Reply(text) for text in texts)
        return self

    def fail(self, error: LLMError, after: str = "") -> QueuedChatModel:
        """Queue a call that streams `after` (if any), then raises `error`."""
        self._replies.append(_Reply(after, error))
        return self

    def stream(self, messages: Sequence[Message]) -> Iterator[str]:
        """The next reply in pieces (each word with its trailing space)."""
        reply = self._take(messages)
        yield from _PIECE.findall(reply.text)
        if reply.error is not None:
            raise reply.error

    def complete(self, messages: Sequence[Message]) -> str:
        """The next reply whole; a queued failure raises without any text."""
        reply = self._take(messages)
        if reply.error is not None:
            raise reply.error
        return reply.text

    @property
    def pending(self) -> int:
        """Replies queued and not yet taken."""
        return len(self._replies)

    def _take(self, messages: Sequence[Message]) -> _Reply:
        self.calls.append(list(messages))
        self.last_tries, self.last_usage = 1, self._usage
        if not self._replies:
            raise AssertionError(f"{self.name} was called with no reply queued")
        return self._replies.popleft()


# The embedder --------------------------------------------------------------------------

# What the fake embedder counts as one token: a word, or one punctuation mark.
_TOKEN = re.compile(r"\w+|[^\w\s]")
# Like [CLS] and [SEP]: counted in every passage, never in a chunk's own tokens.
_SPECIAL_TOKENS = 2


class HashEmbedder:
    """A deterministic embedder: each lower-cased word hashed into one of `dimensions`
    buckets, a text's vector being its bucket counts scaled to unit length.

    Texts sharing words are close, so searches behave sensibly, with no model at all.
    Tokens are words and punctuation marks; a passage also counts two special tokens.
    `embedded` counts the texts embedded so far (passages and queries).
    """

    def __init__(self, dimensions: int = 64, max_tokens: int = 256) -> None:
        self.identity = EmbedderIdentity(
            provider="fake", model="hashed-words", dimensions=dimensions, max_tokens=max_tokens
        )
        self.embedded = 0

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """One unit row per text, in order."""
        rows = [self._vector(text) for text in texts]
        return np.vstack(rows) if rows else np.zeros((0, self.identity.dimensions), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """The unit vector of one query (no prefix: the same as a passage's)."""
        return self._vector(text)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Words and punctuation marks per text, plus the two special tokens."""
        return [len(_TOKEN.findall(text)) + _SPECIAL_TOKENS for text in texts]

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of each word and punctuation mark."""
        return [match.span() for match in _TOKEN.finditer(text)]

    @property
    def max_chunk_tokens(self) -> int:
        """The limit less the special tokens."""
        return self.identity.max_tokens - _SPECIAL_TOKENS

    def _vector(self, text: str) -> np.ndarray:
        self.embedded += 1
        vector = np.zeros(self.identity.dimensions, dtype=np.float32)
        for word in words_of(text):
            vector[zlib.crc32(word.encode()) % self.identity.dimensions] += 1.0
        if not vector.any():
            vector[0] = 1.0  # a text without words still gets a unit vector
        return vector / np.linalg.norm(vector)


# A library on them -----------------------------------------------------------------------


def memory_stores(distance: str = "cosine") -> Stores:
    """A chunk index, catalog and word index, all in memory."""
    return Stores(MemoryChunkIndex(DISTANCES[distance]), MemoryCatalog(), MemoryWordIndex())


def memory_library(
    data_dir: Path,
    *,
    embedder: HashEmbedder | None = None,
    stores: Stores | None = None,
    **overrides: object,
) -> Library:
    """A library on in-memory stores and the hash embedder; its originals are saved in
    `data_dir` (created). Keyword arguments override settings; no free space is kept."""
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=data_dir, min_free_mb=0).with_overrides(**overrides)
    stores = stores or memory_stores(settings.distance)
    return Library(settings, embedder or HashEmbedder(), stores)


def store_document(
    library: Library, doc_id: str, texts: Sequence[str], *, publish: bool = True
) -> list[Chunk]:
    """Write a document of one chunk per text through the library's own verbs, published
    unless `publish` is False (then it stays pending, as an interrupted ingest leaves it);
    its chunks."""
    record = make_record(doc_id, status=DocumentStatus.PENDING, chunks=len(texts))
    chunks = [make_chunk(doc_id, i, text) for i, text in enumerate(texts)]
    library.begin(record, "\n\n".join(texts).encode())
    library.write_chunks(chunks, library.embed_passages([c.indexed_text() for c in chunks]))
    if publish:
        library.publish(record)
    return chunks


# Chunks and records to store ----------------------------------------------------------


def make_chunk(doc_id: str, index: int, text: str, page: int = 1, header: str = "") -> Chunk:
    """A chunk of one page, with the id `chunk_id_for` gives it."""
    return Chunk(
        chunk_id=chunk_id_for(doc_id, index),
        doc_id=doc_id,
        index=index,
        text=text,
        source=f"{doc_id}.txt",
        page_start=page,
        page_end=page,
        char_start=0,
        char_end=len(text),
        tokens=len(text.split()),
        header=header,
    )


def make_record(
    doc_id: str,
    name: str | None = None,
    status: DocumentStatus = DocumentStatus.READY,
    chunks: int = 1,
) -> DocumentRecord:
    """A catalog record; the name defaults to `<doc_id>.txt`."""
    return DocumentRecord(
        doc_id=doc_id,
        name=name or f"{doc_id}.txt",
        sha256=doc_id * 2,
        size_bytes=100,
        pages=1,
        chunks=chunks,
        added_at=1_700_000_000.0,
        status=status,
        pages_without_text=(2,),
    )
