"""What the contract suites build their stores and vectors from."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.config import Settings
from rag.stores.collections import collection_identity, open_stores
from rag.stores.protocols import Stores
from tests.fakes import HashEmbedder

DIMENSIONS = 64


def real_stores(data_dir: Path, distance: str = "cosine") -> Stores:
    """The stores `Library.open` would open in `data_dir`, for the fake embedder's vectors."""
    settings = Settings(data_dir=data_dir, distance=distance)
    embedder = HashEmbedder(dimensions=DIMENSIONS)
    return open_stores(settings, collection_identity(embedder, settings))


def unit_vectors(count: int, seed: int = 0) -> np.ndarray:
    """`count` random unit vectors of the contract stores' dimension, float32."""
    rows = np.random.default_rng(seed).normal(size=(count, DIMENSIONS)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)
