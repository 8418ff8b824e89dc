"""The lab's reads of a collection: a fixed sample of the visible chunks, as unit vectors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from rag.documents import Chunk
from rag.stores.vector_reader import VectorReader

SEED = 0


def sample_ids(
    ids: Iterable[str], limit: int, keep: Iterable[str] = (), seed: int = SEED
) -> list[str]:
    """At most `limit` of `ids`, drawn with a fixed seed, always with those of `keep` present.

    Returns a sorted list, so the same collection gives the same sample every time.
    """
    ids = sorted(set(ids))
    if len(ids) <= limit:
        return ids
    kept = sorted(set(keep) & set(ids))
    others = sorted(set(ids) - set(kept))
    drawn = np.random.default_rng(seed).choice(len(others), max(limit - len(kept), 0), False)
    return sorted(kept + [others[i] for i in drawn])


def unit(vectors: np.ndarray) -> np.ndarray:
    """Each row (or the one vector) scaled to length 1; a zero vector stays zero."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def read_unit_vectors(
    reader: VectorReader, chunk_ids: Sequence[str]
) -> tuple[list[Chunk], np.ndarray]:
    """Stored chunks and their unit vectors, in the order of `chunk_ids` (missing left out)."""
    chunks, vectors = reader.read(chunk_ids)
    return chunks, unit(vectors)
