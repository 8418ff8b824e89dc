"""Fakes of the project's own interfaces, for fast tests without models, servers or stores."""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.answers import Message
from rag.config import Settings
from rag.distances import DISTANCES, Distance
from rag.documents import Chunk, DocumentRecord, DocumentStatus, chunk_id_for
from rag.errors import LLMError
from rag.providers.chat_model import TokenUsage
from rag.providers.embeddings import EmbedderIdentity
from rag.stores.library import Library
from rag.stores.protocols import Stores, VectorHit, WordHit

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

_WORD = re.compile(r"\w+")
# What the fake embedder counts as one token: a word, or one punctuation mark.
_TOKEN = re.compile(r"\w+|[^\w\s]")
# Like [CLS] and [SEP]: counted in every passage, never in a chunk's own tokens.
_SPECIAL_TOKENS = 2


def words_of(text: str) -> list[str]:
    """The lower-cased words of a text, as the fake embedder and word index see them."""
    return _WORD.findall(text.lower())


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


# The stores ----------------------------------------------------------------------------


class MemoryChunkIndex:
    """A `ChunkIndex` in a dict, searched exactly; `vector_pages` pages `page_size` rows."""

    def __init__(self, distance: Distance = DISTANCES["cosine"], page_size: int = 3) -> None:
        self.distance = distance
        self._page_size = page_size
        self._chunks: dict[str, Chunk] = {}
        self._vectors: dict[str, np.ndarray] = {}

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Store chunks with their vectors; a stored chunk id is replaced."""
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        for chunk, vector in zip(chunks, vectors, strict=True):
            self._chunks[chunk.chunk_id] = chunk
            self._vectors[chunk.chunk_id] = np.array(vector, dtype=np.float32)

    def query(
        self, vector: np.ndarray, n: int, doc_ids: Sequence[str] | None = None
    ) -> list[VectorHit]:
        """The `n` nearest chunks by exact search, best first."""
        allowed = set(doc_ids) if doc_ids else None
        hits = [
            VectorHit(chunk_id, self._similarity(vector, stored))
            for chunk_id, stored in self._vectors.items()
            if allowed is None or self._chunks[chunk_id].doc_id in allowed
        ]
        hits.sort(key=lambda hit: (-hit.similarity, hit.chunk_id))
        return hits[: max(n, 0)]

    def get(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        """Stored chunks by id (unknown ids left out)."""
        return {i: self._chunks[i] for i in chunk_ids if i in self._chunks}

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """One document's chunks, in order."""
        return sorted((c for c in self._chunks.values() if c.doc_id == doc_id), key=_index)

    def chunk_ids(self) -> list[str]:
        """Every stored chunk id."""
        return list(self._chunks)

    def chunk_counts(self) -> dict[str, int]:
        """Chunks per document id."""
        return dict(Counter(chunk.doc_id for chunk in self._chunks.values()))

    def vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Copies of the stored vectors by id (unknown ids left out)."""
        return {i: self._vectors[i].copy() for i in chunk_ids if i in self._vectors}

    def vector_pages(self) -> Iterator[tuple[list[str], np.ndarray]]:
        """Every stored chunk's id and vector, `page_size` at a time."""
        ids = list(self._vectors)
        for start in range(0, len(ids), self._page_size):
            page = ids[start : start + self._page_size]
            yield page, np.vstack([self._vectors[i] for i in page])

    def delete_documents(self, doc_ids: Sequence[str]) -> None:
        """Remove every chunk of these documents."""
        doomed = set(doc_ids)
        gone = [i for i, chunk in self._chunks.items() if chunk.doc_id in doomed]
        for chunk_id in gone:
            del self._chunks[chunk_id], self._vectors[chunk_id]

    def count(self) -> int:
        """Chunks stored."""
        return len(self._chunks)

    def _similarity(self, query: np.ndarray, stored: np.ndarray) -> float:
        query = np.asarray(query, dtype=np.float32)
        if self.distance.space == "l2":
            return -float(np.linalg.norm(query - stored))
        dot = float(query @ stored)
        if self.distance.space == "ip":
            return dot
        norms = float(np.linalg.norm(query) * np.linalg.norm(stored))
        return dot / norms if norms else 0.0


def _index(chunk: Chunk) -> int:
    return chunk.index


class MemoryCatalog:
    """A `Catalog` in a dict."""

    def __init__(self) -> None:
        self._records: dict[str, DocumentRecord] = {}

    def put(self, records: Iterable[DocumentRecord]) -> None:
        """Write every record at once: nothing is written if reading `records` fails."""
        self._records.update({record.doc_id: record for record in list(records)})

    def ready_ids(self) -> set[str]:
        """Ids of the READY records."""
        return {r.doc_id for r in self._records.values() if r.status is DocumentStatus.READY}

    def ready_named(self, names: Iterable[str]) -> list[DocumentRecord]:
        """READY records with one of these names."""
        wanted = set(names)
        return [
            r
            for r in self._records.values()
            if r.status is DocumentStatus.READY and r.name in wanted
        ]

    def records(self) -> list[DocumentRecord]:
        """Every record, whatever its status."""
        return list(self._records.values())

    def delete(self, doc_id: str) -> None:
        """Remove a record; an unknown id does nothing."""
        self._records.pop(doc_id, None)


@dataclass(frozen=True)
class _Indexed:
    doc_id: str
    words: Counter[str]
    length: int


class MemoryWordIndex:
    """A `WordIndex` in a dict: plain BM25 over lower-cased words, never any syntax."""

    K1, B = 1.2, 0.75

    def __init__(self) -> None:
        self._chunks: dict[str, _Indexed] = {}

    def add(self, chunks: Sequence[Chunk]) -> None:
        """Index chunks; an indexed chunk id is replaced."""
        for chunk in chunks:
            words = words_of(chunk.text)
            self._chunks[chunk.chunk_id] = _Indexed(chunk.doc_id, Counter(words), len(words))

    def delete_documents(self, doc_ids: Sequence[str]) -> None:
        """Remove every chunk of these documents."""
        doomed = set(doc_ids)
        self._chunks = {i: c for i, c in self._chunks.items() if c.doc_id not in doomed}

    def search(self, query: str, n: int, doc_ids: Sequence[str] | None = None) -> list[WordHit]:
        """The `n` best chunks by BM25 for the query's words, best first."""
        terms = [t for t in dict.fromkeys(words_of(query)) if self._frequency(t)]
        if not terms or n <= 0:
            return []
        allowed = set(doc_ids) if doc_ids else None
        hits = [
            WordHit(chunk_id, self._score(terms, indexed))
            for chunk_id, indexed in self._chunks.items()
            if (allowed is None or indexed.doc_id in allowed)
            and any(t in indexed.words for t in terms)
        ]
        hits.sort(key=lambda hit: (-hit.score, hit.chunk_id))
        return hits[:n]

    def chunk_counts(self) -> dict[str, int]:
        """Chunks per document id."""
        return dict(Counter(indexed.doc_id for indexed in self._chunks.values()))

    def count(self) -> int:
        """Chunks indexed."""
        return len(self._chunks)

    def _frequency(self, term: str) -> int:
        return sum(1 for indexed in self._chunks.values() if term in indexed.words)

    def _score(self, terms: list[str], indexed: _Indexed) -> float:
        total = len(self._chunks)
        average = sum(c.length for c in self._chunks.values()) / total
        score = 0.0
        for term in terms:
            frequency, tf = self._frequency(term), indexed.words[term]
            idf = math.log(1 + (total - frequency + 0.5) / (frequency + 0.5))
            norm = self.K1 * (1 - self.B + self.B * indexed.length / average)
            score += idf * tf * (self.K1 + 1) / (tf + norm)
        return score


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
    library.write_chunks(chunks, library.embed_passages(texts))
    if publish:
        library.publish(record)
    return chunks


# Chunks and records to store ----------------------------------------------------------


def make_chunk(doc_id: str, index: int, text: str, page: int = 1) -> Chunk:
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
