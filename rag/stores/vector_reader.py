"""Bulk reads of a library's stored vectors, for the embedding lab's maps and measurements."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from rag.documents import Chunk, doc_id_of
from rag.stores.protocols import ChunkIndex
from rag.stores.storage import storage_errors


class VectorReader:
    """Reads chunks with their vectors as stored; a storage failure is a StoreError."""

    def __init__(
        self, chunks: ChunkIndex, visible_ids: Callable[[], set[str]], dimensions: int
    ) -> None:
        self._chunks = chunks
        self._visible_ids = visible_ids
        self.dimensions = dimensions

    def visible_chunk_ids(self) -> list[str]:
        """Ids of every chunk of a visible document (ids only: cheap even for large
        collections), in no particular order."""
        visible = self._visible_ids()
        with storage_errors("read the chunk ids"):
            return [i for i in self._chunks.chunk_ids() if doc_id_of(i) in visible]

    def read(self, chunk_ids: Sequence[str]) -> tuple[list[Chunk], np.ndarray]:
        """Stored chunks and their vectors (one float32 row each, as stored), in the order
        of `chunk_ids`; ids no longer stored are left out."""
        with storage_errors("read the chunk vectors"):
            chunks = self._chunks.get(chunk_ids)
            vectors = self._chunks.vectors(chunk_ids)
        kept = [i for i in chunk_ids if i in chunks and i in vectors]
        rows = np.array([vectors[i] for i in kept], dtype=np.float32)
        return [chunks[i] for i in kept], rows.reshape(len(kept), self.dimensions)
