"""In-memory stores that keep every promise of rag/stores/protocols.py (the contract suites
in tests/contracts/ run them beside the real adapters)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from rag.distances import DISTANCES, Distance
from rag.documents import Chunk, DocumentRecord, DocumentStatus
from rag.stores.protocols import VectorHit, WordHit

_WORD = re.compile(r"\w+")


def words_of(text: str) -> list[str]:
    """The lower-cased words of a text, as the fake embedder and word index see them."""
    return _WORD.findall(text.lower())


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
        """Index chunks (header and text); an indexed chunk id is replaced."""
        for chunk in chunks:
            words = words_of(chunk.indexed_text())
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
