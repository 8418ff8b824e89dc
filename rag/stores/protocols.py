"""The three stores a library is made of, as small interfaces.

A library keeps each document in three places: its chunks and their vectors in a chunk
index, its record in a catalog, and its chunks' words in a word index. The real ones are
Chroma (`rag.stores.chroma`, for the chunk index and the catalog) and tantivy
(`rag.stores.lexical`); anything with these methods can stand in for them.

What every implementation promises (the contract tests check exactly this):

ChunkIndex
- `add(chunks, vectors)`: row i of `vectors` belongs to `chunks[i]`; adding a chunk id that
  is already stored replaces it, so a chunk id is never stored twice.
- `query(vector, n, doc_ids)`: at most `n` hits, best first (similarity descending, higher
  is closer in every distance); with `doc_ids` (non-empty) only chunks of those documents;
  `n <= 0` gives [].
- `get(chunk_ids)`: the stored chunks by id; unknown ids are left out.
- `chunks_of(doc_id)`: one document's chunks ordered by `Chunk.index`; [] if unknown.
- `chunk_ids()`: every stored chunk id once, in no particular order.
- `chunk_counts()`: chunks per document id, for documents with at least one chunk.
- `vectors(chunk_ids)`: stored vectors by id, 1-D float32 arrays; unknown ids left out.
- `vector_pages()`: every stored chunk exactly once, as pages of (ids, float32 matrix
  with one row per id, in the same order).
- `delete_documents(doc_ids)`: removes every chunk of these documents; unknown ids and an
  empty list do nothing.
- `count()`: chunks stored.
- `distance`: how the index measures closeness (see rag.distances).
None of these know whether a document is published: that is the catalog's business.

Catalog
- `put(records)`: writes (or overwrites, by doc_id) all the records in one write, so a
  reader never sees some of them changed and others not; no records, no change.
- `ready_ids()`: ids of the records whose status is READY.
- `ready_named(names)`: the READY records whose name is one of `names`, in no order (none
  for no names).
- `records()`: every record whatever its status, in no particular order.
- `delete(doc_id)`: removes a record; an unknown id does nothing.

WordIndex
- `add(chunks)`: indexes the chunks; adding a chunk id already indexed replaces it.
- `delete_documents(doc_ids)`: removes every chunk of these documents; unknown ids do
  nothing.
- `search(query, n, doc_ids)`: at most `n` hits, best first (BM25 score descending); the
  query is free text, never syntax; no word of it indexed, or `n <= 0`, gives [].
  With `doc_ids` (non-empty) only chunks of those documents.
- `chunk_counts()`: chunks per document id, for documents with at least one chunk.
- `count()`: chunks indexed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rag.distances import Distance
from rag.documents import Chunk, DocumentRecord


@dataclass(frozen=True)
class VectorHit:
    """A chunk id and its similarity to the query: higher is closer (see rag.distances)."""

    chunk_id: str
    similarity: float


@dataclass(frozen=True)
class WordHit:
    """A chunk id and its BM25 score."""

    chunk_id: str
    score: float


class ChunkIndex(Protocol):
    """Chunks with their vectors, searched by vector (see the module's notes)."""

    distance: Distance

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Store chunks with their vectors; a stored chunk id is replaced."""
        ...

    def query(
        self, vector: np.ndarray, n: int, doc_ids: Sequence[str] | None = None
    ) -> list[VectorHit]:
        """The `n` nearest chunks, best first, optionally only from some documents."""
        ...

    def get(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        """Stored chunks by id (unknown ids left out)."""
        ...

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """Every stored chunk of one document, in order."""
        ...

    def chunk_ids(self) -> list[str]:
        """Every stored chunk id, whatever its document's status."""
        ...

    def chunk_counts(self) -> dict[str, int]:
        """Chunks per document id."""
        ...

    def vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by chunk id (unknown ids left out)."""
        ...

    def vector_pages(self) -> Iterator[tuple[list[str], np.ndarray]]:
        """Every stored chunk's id and vector, a page at a time."""
        ...

    def delete_documents(self, doc_ids: Sequence[str]) -> None:
        """Remove every chunk of these documents."""
        ...

    def count(self) -> int:
        """Chunks stored."""
        ...


class Catalog(Protocol):
    """One record per document, with its status (see the module's notes)."""

    def put(self, records: Iterable[DocumentRecord]) -> None:
        """Write records in one write, so a replace switches versions at once."""
        ...

    def ready_ids(self) -> set[str]:
        """Ids of the published documents."""
        ...

    def ready_named(self, names: Iterable[str]) -> list[DocumentRecord]:
        """Published documents with one of these names."""
        ...

    def records(self) -> list[DocumentRecord]:
        """Every record, whatever its status."""
        ...

    def delete(self, doc_id: str) -> None:
        """Remove a document's record."""
        ...


class WordIndex(Protocol):
    """Chunks searched by their words with BM25 (see the module's notes)."""

    def add(self, chunks: Sequence[Chunk]) -> None:
        """Index chunks; an indexed chunk id is replaced."""
        ...

    def delete_documents(self, doc_ids: Sequence[str]) -> None:
        """Remove every chunk of these documents."""
        ...

    def search(self, query: str, n: int, doc_ids: Sequence[str] | None = None) -> list[WordHit]:
        """The `n` best chunks by BM25 for free text, optionally only from some documents."""
        ...

    def chunk_counts(self) -> dict[str, int]:
        """Chunks per document id."""
        ...

    def count(self) -> int:
        """Chunks indexed."""
        ...


@dataclass(frozen=True)
class Stores:
    """The three stores of one library."""

    chunks: ChunkIndex
    catalog: Catalog
    words: WordIndex
