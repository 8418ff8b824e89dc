"""Compression measured on a user's own collection: its vectors, its queries, its figures.

`measure_library_compression` reads the visible chunks' vectors (a fixed sample past a
limit), takes the user's queries or holds out some chunks as queries, and measures every
method of `rag.quantization` on them; for OpenAI's text-embedding-3 models it adds vectors
shortened with `dimensions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.lab.compression_methods import OPENAI_SHORTENED, CompressionReport, measure_compression
from rag.lab.sampling import read_unit_vectors, sample_ids
from rag.providers.embeddings import EmbedderIdentity
from rag.stores.library import Library


def shortened_sizes(identity: EmbedderIdentity) -> tuple[int, ...]:
    """The `dimensions` worth comparing for this embedder: OpenAI's text-embedding-3 models
    only (other models are not trained to be shortened)."""
    if identity.provider != "openai" or not identity.model.startswith("text-embedding-3"):
        return ()
    return tuple(size for size in OPENAI_SHORTENED if size < identity.dimensions)


@dataclass(frozen=True, eq=False)
class CollectionVectors:
    """Vectors of a collection's visible chunks (all of them, or a sample), with their ids."""

    chunk_ids: tuple[str, ...]
    vectors: np.ndarray  # (n, d) float32, row i is chunk_ids[i]
    visible: int  # visible chunks in the collection, before any sampling

    @property
    def sampled(self) -> bool:
        """True when only some of the visible chunks were kept."""
        return len(self.chunk_ids) < self.visible

    def describe(self) -> str:
        """For reports: "1,200 visible chunks" or "20,000 of 150,000 visible chunks"."""
        if self.sampled:
            return f"{len(self.chunk_ids):,} of {self.visible:,} visible chunks"
        return f"{len(self.chunk_ids):,} visible chunks"

    def subset(self, rows: np.ndarray) -> CollectionVectors:
        """These rows only (the count of visible chunks stays)."""
        rows = np.sort(rows)
        return CollectionVectors(
            tuple(self.chunk_ids[i] for i in rows), self.vectors[rows], self.visible
        )


@dataclass(frozen=True, eq=False)
class QuerySet:
    """Query vectors and where they came from (said in every report made with them)."""

    vectors: np.ndarray
    source: str


def read_collection_vectors(
    library: Library, max_vectors: int | None = None, seed: int = 0
) -> CollectionVectors:
    """The vectors of the visible documents' chunks; a sample of `max_vectors` of them
    (fixed `seed`) when there are more."""
    reader = library.vector_reader()
    ids = reader.visible_chunk_ids()
    chosen = ids if max_vectors is None else sample_ids(ids, max_vectors, seed=seed)
    chunks, vectors = read_unit_vectors(reader, chosen)
    return CollectionVectors(tuple(c.chunk_id for c in chunks), vectors, len(ids))


def prepare_queries(
    library: Library,
    collection: CollectionVectors,
    texts: Sequence[str] = (),
    count: int = 50,
    seed: int = 0,
) -> tuple[QuerySet, CollectionVectors]:
    """Query vectors and the vectors to search with them.

    The user's own query texts are embedded as the app embeds questions. Without any,
    `count` chunks of the collection (sampled with `seed`) serve as queries and are left out
    of the searched vectors, so that no query finds itself.
    """
    texts = [text for text in texts if text.strip()]
    if texts:
        vectors = np.vstack([library.embed_query(text) for text in texts])
        source = f"{len(texts)} {'query' if len(texts) == 1 else 'queries'} of yours"
        return QuerySet(vectors.astype(np.float32), source), collection
    n = len(collection.chunk_ids)
    held_out = np.random.default_rng(seed).choice(n, min(count, max(n - 1, 0)), replace=False)
    queries = collection.vectors[np.sort(held_out)]
    source = f"{len(held_out)} chunks of the collection used as queries (left out of the search)"
    return QuerySet(queries, source), collection.subset(np.setdiff1d(np.arange(n), held_out))


def measure_library_compression(
    library: Library,
    texts: Sequence[str] = (),
    k: int = 10,
    oversample: int = 4,
    max_vectors: int | None = 20_000,
    seed: int = 0,
) -> CompressionReport:
    """`measure_compression` on a library's visible chunks (sampled past `max_vectors`),
    with the user's query texts, or with held-out chunks when there are none; for OpenAI's
    text-embedding-3 models, shortened vectors too."""
    collection = read_collection_vectors(library, max_vectors, seed)
    queries, searched = prepare_queries(library, collection, texts, seed=seed)
    return measure_compression(
        searched.vectors,
        queries.vectors,
        k,
        oversample,
        queries.source,
        searched.describe(),
        shortened_sizes(library.identity),
    )
