"""Chroma, embedded or as a server: the chunk index and the catalog of each collection.

Two Chroma collections per name: `<name>` holds one record per chunk (vector, text,
metadata) and records the embedder that made its vectors; `<name>-catalog` holds one record
per document. The catalog lives in Chroma too, so that several app processes sharing a
Chroma server share one list of documents.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
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
from rag.stores.protocols import VectorHit

# HNSW graph settings, fixed when a collection is created. Chroma's defaults (M=16,
# ef_search=100) lose recall on large collections; these keep vector recall@10 near exact
# search while a query stays in single-digit milliseconds (see BENCHMARKS.md). The space
# (cosine, inner product or l2) comes from the collection's distance.
HNSW_SETTINGS = {"max_neighbors": 32, "ef_construction": 200, "ef_search": 200}
CATALOG_SUFFIX = "-catalog"
# A segment's folder is named by its UUID; nothing else in Chroma's folder is removed.
_SEGMENT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
log = logging.getLogger(__name__)
# Chroma needs a vector on every record; catalog records are never searched by vector.
_CATALOG_VECTOR = [1.0]
_CHUNK_FIELDS = ["documents", "metadatas"]


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


# Other collections of the client, read without opening them -----------------------------


def collection_names(client: ClientAPI) -> list[str]:
    """The collections of chunks, by name (the catalog beside each one left out)."""
    names = {collection.name for collection in client.list_collections()}
    return sorted(
        name
        for name in names
        if not (name.endswith(CATALOG_SUFFIX) and name.removesuffix(CATALOG_SUFFIX) in names)
    )


def collection_metadata(client: ClientAPI, name: str) -> dict:
    """What a collection of chunks records about itself (its embedder); StoreError if there
    is no such collection."""
    return dict(_existing(client, name).metadata or {})


def catalog_records(client: ClientAPI, name: str) -> list[DocumentRecord]:
    """Every record of a collection's catalog; StoreError if it has none."""
    return _records_of(_existing(client, name + CATALOG_SUFFIX))


def drop_collections(settings: Settings, collections: Sequence[str]) -> list[Path]:
    """Delete collections and their catalogs from Chroma; the folders of their vector
    files that embedded Chroma leaves behind, for the caller to remove. StoreError when
    Chroma refuses."""
    client = connect(settings)
    names = {n for name in collections for n in (name, name + CATALOG_SUFFIX)}
    try:
        doomed = [c for c in client.list_collections() if c.name in names]
        folders = [] if settings.server_mode else _segment_folders(settings, doomed)
        for collection in doomed:
            client.delete_collection(collection.name)
    except Exception as exc:  # chromadb raises plain ValueError/ConnectionError variants
        raise StoreError(f"Chroma could not remove the collection: {exc}") from exc
    return folders


def _segment_folders(settings: Settings, collections: list) -> list[Path]:
    """The folders of the collections' vector segments in embedded Chroma.

    Embedded Chroma (1.x) forgets a deleted collection but leaves its HNSW files on disk
    (chroma-core/chroma#5520), so a deleted knowledge base's vectors would stay there for
    good. Its segments are listed in Chroma's own SQLite file; reading that layout is a
    guess about another program's files, so a layout not understood only leaves the
    folders behind, with a warning.
    """
    chroma = settings.data_dir / "chroma"
    ids = [str(collection.id) for collection in collections]
    if not ids or not (chroma / "chroma.sqlite3").is_file():
        return []
    try:
        with contextlib.closing(
            sqlite3.connect(f"{(chroma / 'chroma.sqlite3').resolve().as_uri()}?mode=ro", uri=True)
        ) as db:
            marks = ", ".join("?" * len(ids))
            rows = db.execute(f"SELECT id FROM segments WHERE collection IN ({marks})", ids)
            segments = [row[0] for row in rows]
    except sqlite3.Error as exc:
        log.warning("The vector files of %s stay in the data folder: %s", ids, exc)
        return []
    return [chroma / s for s in segments if _SEGMENT_ID.match(s) and (chroma / s).is_dir()]


def _existing(client: ClientAPI, name: str) -> Collection:
    try:
        return client.get_collection(name, embedding_function=None)
    except Exception as exc:  # chromadb raises NotFoundError or ValueError by version
        raise StoreError(f"No collection named {name.removesuffix(CATALOG_SUFFIX)!r}") from exc


# The chunk index ------------------------------------------------------------------------


class ChromaChunkIndex:
    """The chunks of one collection with their vectors (a `ChunkIndex`)."""

    def __init__(self, client: ClientAPI, name: str, identity: EmbedderIdentity) -> None:
        self._max_batch = client.get_max_batch_size()
        self.distance = DISTANCES[identity.distance]
        self._chunks = client.get_or_create_collection(
            name,
            embedding_function=None,
            metadata=identity.as_metadata(),
            configuration={"hnsw": {**HNSW_SETTINGS, "space": self.distance.space}},
        )
        stored = EmbedderIdentity.from_metadata(self._chunks.metadata)
        if stored is None:
            raise StoreError(f"Collection '{name}' was not made by this app (no embedder recorded)")
        identity.check_matches(stored, name)

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Write chunks in batches under Chroma's maximum; upsert makes re-runs harmless."""
        for start in range(0, len(chunks), self._max_batch):
            batch = chunks[start : start + self._max_batch]
            self._chunks.upsert(
                ids=[c.chunk_id for c in batch],
                embeddings=vectors[start : start + len(batch)],
                documents=[c.text for c in batch],
                metadatas=[c.metadata() for c in batch],
            )

    def query(
        self, vector: np.ndarray, n: int, doc_ids: Sequence[str] | None = None
    ) -> list[VectorHit]:
        """The `n` nearest chunks, optionally only from some documents."""
        if n <= 0:
            return []
        where = {"doc_id": {"$in": list(doc_ids)}} if doc_ids else None
        found = self._chunks.query(
            query_embeddings=[vector], n_results=n, where=where, include=["distances"]
        )
        return [
            VectorHit(chunk_id, self.distance.similarity(float(distance)))
            for chunk_id, distance in zip(found["ids"][0], found["distances"][0], strict=True)
        ]

    def get(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        """Stored chunks by id (unknown ids left out)."""
        found: dict[str, Chunk] = {}
        for start in range(0, len(chunk_ids), self._max_batch):
            batch = list(chunk_ids[start : start + self._max_batch])
            found.update(_chunks_from(self._chunks.get(ids=batch, include=_CHUNK_FIELDS)))
        return found

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """Every stored chunk of one document, in order."""
        found = self._chunks.get(where={"doc_id": doc_id}, include=_CHUNK_FIELDS)
        return sorted(_chunks_from(found).values(), key=lambda c: c.index)

    def chunk_ids(self) -> list[str]:
        """Every stored chunk id, whatever its document's status (ids only: cheap)."""
        return [chunk_id for page in self._pages([]) for chunk_id in page["ids"]]

    def chunk_counts(self) -> dict[str, int]:
        """Chunks per document id across the whole collection (a full scan)."""
        counts: dict[str, int] = {}
        for page in self._pages(["metadatas"]):
            for metadata in page["metadatas"]:
                counts[metadata["doc_id"]] = counts.get(metadata["doc_id"], 0) + 1
        return counts

    def vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by chunk id (unknown ids left out)."""
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(chunk_ids), self._max_batch):
            batch = list(chunk_ids[start : start + self._max_batch])
            got = self._chunks.get(ids=batch, include=["embeddings"])
            found.update(zip(got["ids"], np.asarray(got["embeddings"], np.float32), strict=True))
        return found

    def vector_pages(self) -> Iterator[tuple[list[str], np.ndarray]]:
        """Every stored chunk's id and vector, a page at a time (whatever its status)."""
        for page in self._pages(["embeddings"]):
            yield page["ids"], np.asarray(page["embeddings"], dtype=np.float32)

    def delete_documents(self, doc_ids: Sequence[str]) -> None:
        """Remove every chunk of these documents."""
        if doc_ids:
            self._chunks.delete(where={"doc_id": {"$in": list(doc_ids)}})

    def count(self) -> int:
        """Chunks stored, whatever their document's status."""
        return self._chunks.count()

    def _pages(self, include: list) -> Iterator[dict]:
        for offset in range(0, self._chunks.count(), self._max_batch):
            yield self._chunks.get(include=include, limit=self._max_batch, offset=offset)


# The catalog ----------------------------------------------------------------------------


class ChromaCatalog:
    """The document records of one collection (a `Catalog`)."""

    def __init__(self, client: ClientAPI, name: str) -> None:
        self._catalog = client.get_or_create_collection(
            name + CATALOG_SUFFIX, embedding_function=None
        )

    def put(self, records: Iterable[DocumentRecord]) -> None:
        """Write catalog records in one call, so a replace switches versions at once."""
        records = list(records)
        if not records:
            return
        self._catalog.upsert(
            ids=[r.doc_id for r in records],
            embeddings=[_CATALOG_VECTOR] * len(records),
            metadatas=[r.metadata() for r in records],
        )

    def ready_ids(self) -> set[str]:
        """Ids of the published documents; ids only, several times cheaper than records()."""
        found = self._catalog.get(where={"status": DocumentStatus.READY.value}, include=[])
        return set(found["ids"])

    def ready_named(self, names: Iterable[str]) -> list[DocumentRecord]:
        """Published documents with one of these names."""
        names = list(names)
        if not names:
            return []
        where = {"$and": [{"status": DocumentStatus.READY.value}, {"name": {"$in": names}}]}
        found = self._catalog.get(where=where, include=["metadatas"])
        return [DocumentRecord.from_metadata(m) for m in found["metadatas"]]

    def records(self) -> list[DocumentRecord]:
        """Every catalog record, whatever its status."""
        return _records_of(self._catalog)

    def delete(self, doc_id: str) -> None:
        """Remove a document from the catalog."""
        self._catalog.delete(ids=[doc_id])


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
