"""How a collection measures closeness: cosine, dot product or Euclidean distance.

Chosen when a collection is created (RAG_DISTANCE) and recorded with its embedder, as
Chroma's HNSW index is built for one. The embedders here return unit-length vectors, for
which the three agree on the order of results: the dot product *is* the cosine, and the
Euclidean distance is sqrt(2 - 2 cos). They differ in the number shown, and would differ in
order for vectors that are not unit length.

Every distance gives retrieval a `similarity` where higher is closer (the cosine, the dot
product, or minus the Euclidean distance), so ranking, fusion and minimum scores work alike;
the score shown to people is in the distance's own terms (`shown`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rag.results import VECTOR_SCORE, ScoreKind


@dataclass(frozen=True)
class Distance:
    """One way of measuring closeness, with Chroma's name for it and how scores read."""

    name: str
    space: str  # Chroma's HNSW space
    kind: ScoreKind

    def similarity(self, chroma_distance: float) -> float:
        """Higher is closer: from the distance Chroma returns for this space."""
        if self.space == "l2":  # Chroma returns the squared Euclidean distance
            return -math.sqrt(max(chroma_distance, 0.0))
        return 1.0 - chroma_distance  # cosine: 1 - cos; inner product: 1 - dot

    def shown(self, similarity: float) -> float:
        """The score in this distance's own terms (a Euclidean distance is positive)."""
        return -similarity if self.space == "l2" else similarity

    def from_dot(self, dot: float) -> float:
        """The similarity of unit-length vectors with this dot product (their cosine)."""
        return -math.sqrt(max(2.0 - 2.0 * dot, 0.0)) if self.space == "l2" else dot

    def cosine(self, similarity: float) -> float:
        """The cosine of unit-length vectors with this similarity."""
        return 1.0 - similarity * similarity / 2.0 if self.space == "l2" else similarity


DISTANCES = {
    "cosine": Distance("cosine", "cosine", VECTOR_SCORE),
    "dot": Distance("dot", "ip", ScoreKind("vector", "dot product", "-1..1 for unit vectors")),
    "euclidean": Distance(
        "euclidean",
        "l2",
        ScoreKind("vector", "Euclidean distance", "0..2 for unit vectors", higher_is_better=False),
    ),
}


@dataclass(frozen=True)
class DistanceRow:
    """One stored vector against a query, measured all three ways."""

    cosine: float
    dot: float
    euclidean: float
    # sqrt(2 - 2 cos): equal to `euclidean` exactly when both vectors are unit length.
    euclidean_from_cosine: float
    norm: float


def measure_all_ways(query: np.ndarray, vectors: np.ndarray) -> list[DistanceRow]:
    """Cosine, dot product and Euclidean distance of each row of `vectors` to `query`."""
    query = np.asarray(query, dtype=np.float64)
    rows = []
    for vector in np.asarray(vectors, dtype=np.float64):
        norms = float(np.linalg.norm(vector)) * float(np.linalg.norm(query))
        cosine = float(vector @ query) / norms if norms else 0.0
        rows.append(
            DistanceRow(
                cosine=cosine,
                dot=float(vector @ query),
                euclidean=float(np.linalg.norm(vector - query)),
                euclidean_from_cosine=math.sqrt(max(2.0 - 2.0 * cosine, 0.0)),
                norm=float(np.linalg.norm(vector)),
            )
        )
    return rows
