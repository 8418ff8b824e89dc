"""Chroma, embedded or as a server: the chunk vectors and the document catalog.

Two collections per name: `<name>` holds one record per chunk (vector, text, metadata);
`<name>-catalog` holds one record per document. The catalog lives in Chroma too, so that
several app processes sharing a Chroma server share one list of documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import chromadb
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection

from rag.config import Settings
from rag.distances import DISTANCES
from rag.documents import Chunk, DocumentRecord, DocumentStatus
from rag.errors import StoreError
from rag.providers.embeddings import EmbedderIdentity

# HNSW graph settings, fixed when a collection is created. Chroma's defaults (M=16,
# ef_search=100) lose recall on large collections; these keep vector recall@10 near exact
# search while a query stays in single-digit milliseconds (see BENCHMARKS.md). The space
# (cosine, inner product or l2) comes from the collection's distance.
HNSW_SETTINGS = {"max_neighbors": 32, "ef_construction": 200, "ef_search": 200}
# Chroma needs a vector on every record; catalog records are never searched by vector.
_CATALOG_VECTOR = [1.0]


@dataclass(frozen=True)
class VectorHit:
    """A chunk id and its similarity to the query: higher is closer (see rag.distances)."""

    chunk_id: str
    similarity: float


def connect(settings: Settings, folder: Path | None = None) -> ClientAPI:
    """A Chroma client: a server when CHROMA_HOST is set, else files in the data folder
    (or in `folder`, a copy of it)."""
    chroma_settings = chromadb.Settings(anonymized_telemetry=False)
    try:
        if settings.server_mode:
            return chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
            )
        path = folder or settings.data_dir / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as exc:  # chromadb raises plain ValueError/ConnectionError variants
        # The data folder's path is left out: messages reach the page and the logs.
        where = (
            f"the Chroma server at {settings.chroma_host}:{settings.chroma_port}"
            if settings.server_mode
            else "the data folder (RAG_DATA_DIR)"
        )
        raise StoreError(f"Could not open the document store in {where}: {exc}") from exc


class ChromaStore:
    """Chunk vectors and the catalog of one collection."""

    def __init__(self, client: ClientAPI, name: str, identity: EmbedderIdentity) -> None:
        self._client = client
        self._max_batch = client.get_max_batch_size()
        self.distance = DISTANCES[identity.distance]
        self.chunks = self._open_chunks(name, identity)
        self.catalog = client.get_or_create_collection(f"{name}-catalog", embedding_function=None)

    def _open_chunks(self, name: str, identity: EmbedderIdentity) -> Collection:
        collection = self._client.get_or_create_collection(
            name,
            embedding_function=None,
            metadata=identity.as_metadata(),
            configuration={"hnsw": {**HNSW_SETTINGS, "space": self.distance.space}},
        )
        stored = EmbedderIdentity.from_metadata(collection.metadata)
        if stored is None:
            raise StoreError(f"Collection '{name}' was not made by this app (no embedder recorded)")
        identity.check_matches(stored, name)
        return collection

    # Chunks -------------------------------------------------------------------------------

    def add_chunks(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Write chunks in batches under Chroma's maximum; upsert makes re-runs harmless."""
        for start in range(0, len(chunks), self._max_batch):
            batch = chunks[start : start + self._max_batch]
            self.chunks.upsert(
                ids=[c.chunk_id for c in batch],
                embeddings=vectors[start : start + len(batch)],
                documents=[c.text for c in batch],
                metadatas=[c.metadata() for c in batch],
            )

    def query(self, vector: np.ndarray, n: int, doc_ids: Sequence[str] | None) -> list[VectorHit]:
        """The `n` nearest chunks, optionally only from some documents."""
        where = {"doc_id": {"$in": list(doc_ids)}} if doc_ids else None
        found = self.chunks.query(
            query_embeddings=[vector], n_results=n, where=where, include=["distances"]
        )
        return [
            VectorHit(chunk_id, self.distance.similarity(float(distance)))
            for chunk_id, distance in zip(found["ids"][0], found["distances"][0], strict=True)
        ]

    def get_chunks(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        """Stored chunks by id (missing ids are left out)."""
        if not chunk_ids:
            return {}
        found = self.chunks.get(ids=list(chunk_ids), include=["documents", "metadatas"])
        return _chunks_from(found)

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """Every stored chunk of one document, in order."""
        found = self.chunks.get(where={"doc_id": doc_id}, include=["documents", "metadatas"])
        return sorted(_chunks_from(found).values(), key=lambda c: c.index)

    def all_chunk_ids(self) -> list[str]:
        """Every stored chunk id, whatever its document's status (ids only: cheap)."""
        ids: list[str] = []
        for offset in range(0, self.chunks.count(), self._max_batch):
            ids += self.chunks.get(include=[], limit=self._max_batch, offset=offset)["ids"]
        return ids

    def chunks_with_vectors(self, chunk_ids: Sequence[str]) -> list[tuple[Chunk, np.ndarray]]:
        """Stored chunks with their vectors, in the order given (missing ids left out)."""
        found: dict[str, tuple[Chunk, np.ndarray]] = {}
        for start in range(0, len(chunk_ids), self._max_batch):
            got = self.chunks.get(
                ids=list(chunk_ids[start : start + self._max_batch]),
                include=["embeddings", "documents", "metadatas"],
            )
            for chunk_id, vector, text, metadata in zip(
                got["ids"], got["embeddings"], got["documents"], got["metadatas"], strict=True
            ):
                found[chunk_id] = (Chunk.from_stored(chunk_id, text, metadata), vector)
        return [found[i] for i in chunk_ids if i in found]

    def iter_vectors(self) -> Iterator[tuple[list[str], np.ndarray]]:
        """Every stored chunk's id and vector, a page at a time (whatever its status)."""
        for offset in range(0, self.chunks.count(), self._max_batch):
            page = self.chunks.get(include=["embeddings"], limit=self._max_batch, offset=offset)
            yield page["ids"], np.asarray(page["embeddings"], dtype=np.float32)

    def vectors_of(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by chunk id (missing ids left out)."""
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(chunk_ids), self._max_batch):
            got = self.chunks.get(
                ids=list(chunk_ids[start : start + self._max_batch]), include=["embeddings"]
            )
            found.update(zip(got["ids"], np.asarray(got["embeddings"], np.float32), strict=True))
        return found

    def chunk_counts(self) -> dict[str, int]:
        """Chunks per document id across the whole collection (a full scan: repair only)."""
        counts: dict[str, int] = {}
        total = self.chunks.count()
        for offset in range(0, total, self._max_batch):
            page = self.chunks.get(include=["metadatas"], limit=self._max_batch, offset=offset)
            for metadata in page["metadatas"]:
                counts[metadata["doc_id"]] = counts.get(metadata["doc_id"], 0) + 1
        return counts

    def delete_chunks(self, doc_id: str) -> None:
        """Remove every chunk of a document."""
        self.chunks.delete(where={"doc_id": doc_id})

    def count(self) -> int:
        """Chunks stored, whatever their document's status."""
        return self.chunks.count()

    # Catalog ------------------------------------------------------------------------------

    def put_records(self, records: Iterable[DocumentRecord]) -> None:
        """Write catalog records in one call, so a replace switches versions at once."""
        records = list(records)
        self.catalog.upsert(
            ids=[r.doc_id for r in records],
            embeddings=[_CATALOG_VECTOR] * len(records),
            metadatas=[r.metadata() for r in records],
        )

    def ready_ids(self) -> set[str]:
        """Ids of the published documents; ids only, several times cheaper than records()."""
        found = self.catalog.get(where={"status": DocumentStatus.READY.value}, include=[])
        return set(found["ids"])

    def ready_records_named(self, names: Iterable[str]) -> list[DocumentRecord]:
        """Published documents with one of these names."""
        where = {"$and": [{"status": DocumentStatus.READY.value}, {"name": {"$in": list(names)}}]}
        found = self.catalog.get(where=where, include=["metadatas"])
        return [DocumentRecord.from_metadata(m) for m in found["metadatas"]]

    def records(self) -> list[DocumentRecord]:
        """Every catalog record, whatever its status."""
        return _records_of(self.catalog)

    @staticmethod
    def read_catalog(client: ClientAPI, name: str) -> list[DocumentRecord]:
        """The catalog of any collection, without opening (or checking) its chunks."""
        try:
            catalog = client.get_collection(f"{name}-catalog", embedding_function=None)
        except Exception as exc:  # chromadb raises NotFoundError or ValueError by version
            raise StoreError(f"No collection named {name!r}") from exc
        return _records_of(catalog)

    def delete_record(self, doc_id: str) -> None:
        """Remove a document from the catalog."""
        self.catalog.delete(ids=[doc_id])


def _records_of(catalog: Collection) -> list[DocumentRecord]:
    found = catalog.get(include=["metadatas"])
    return [DocumentRecord.from_metadata(m) for m in found["metadatas"]]


def _chunks_from(found: dict) -> dict[str, Chunk]:
    return {
        chunk_id: Chunk.from_stored(chunk_id, text, metadata)
        for chunk_id, text, metadata in zip(
            found["ids"], found["documents"], found["metadatas"], strict=True
        )
    }
