"""Vector codecs: exact float32 top-k, int8 and binary forms, and float32 rescoring.

Pure NumPy. The binary index of the vector store and the lab's compression measurements
both build on these. The embeddings are unit length, so
the dot product is the cosine similarity. A compressed search may be followed by rescoring:
fetch `k * oversample` candidates by the compressed score, then rank those by the float32
vectors (which stay on disk, in Chroma, in a real deployment).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLOAT32_BYTES = 4


@dataclass(frozen=True, eq=False)
class TopK:
    """Row numbers of the best vectors for one query, best first, with their scores."""

    ids: np.ndarray
    scores: np.ndarray
    # "cosine", "approximate cosine" (higher is closer) or "hamming distance" (lower is closer)
    score_kind: str


def _best(scores: np.ndarray, k: int, higher_is_better: bool = True) -> np.ndarray:
    """Indices of the `k` best scores, best first (stable among ties)."""
    k = min(k, len(scores))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    keys = -scores if higher_is_better else scores
    part = np.argpartition(keys, k - 1)[:k] if k < len(keys) else np.arange(len(keys))
    return part[np.argsort(keys[part], kind="stable")]


def _dot(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    # Not `matrix @ query`: OpenBLAS spreads one matrix-vector product over threads, and on a
    # busy two-core machine that took 8 ms instead of 0.7 ms (12k x 384); einsum's own
    # single-threaded loop is as fast on an idle machine and steady on a busy one.
    return np.einsum("ij,j->i", matrix, query)


def exact_top_k(vectors: np.ndarray, query: np.ndarray, k: int) -> TopK:
    """Exact search by cosine (dot product of unit vectors) over float32 vectors."""
    scores = _dot(vectors, query)
    ids = _best(scores, k)
    return TopK(ids, scores[ids], "cosine")


@dataclass(frozen=True, eq=False)
class Int8Vectors:
    """Scalar quantisation: each dimension mapped from its [min, max] onto -128..127."""

    codes: np.ndarray  # (n, d) int8
    low: np.ndarray  # (d,) the value coded as -128
    step: np.ndarray  # (d,) the value of one code step

    @property
    def bytes_per_vector(self) -> int:
        """One byte per dimension."""
        return self.codes.shape[1]

    @property
    def nbytes(self) -> int:
        """The codes plus the fitted low and step of every dimension."""
        return self.codes.nbytes + self.low.nbytes + self.step.nbytes

    def decode(self) -> np.ndarray:
        """The float32 vectors the codes stand for."""
        return (self.low + (self.codes.astype(np.float32) + 128.0) * self.step).astype(np.float32)

    def search(self, query: np.ndarray, k: int) -> TopK:
        """Top `k` by the dot product of the float query with the decoded vectors."""
        # q . (low + (c + 128) * step) = q . (low + 128 * step) + (q * step) . c
        offset = float(query @ (self.low + 128.0 * self.step))
        scores = _dot(self.codes, (query * self.step).astype(np.float32))
        ids = _best(scores, k)
        return TopK(ids, scores[ids] + offset, "approximate cosine")


def fit_int8(vectors: np.ndarray) -> Int8Vectors:
    """Quantise to int8 with a per-dimension min/max fitted on these vectors."""
    dims = vectors.shape[1]
    if len(vectors) == 0:
        return Int8Vectors(
            np.zeros((0, dims), np.int8), np.zeros(dims, np.float32), np.ones(dims, np.float32)
        )
    low, high = vectors.min(axis=0), vectors.max(axis=0)
    step = np.where(high > low, (high - low) / 255.0, 1.0).astype(np.float32)
    codes = np.clip(np.rint((vectors - low) / step) - 128, -128, 127).astype(np.int8)
    return Int8Vectors(codes, low.astype(np.float32), step)


@dataclass(frozen=True, eq=False)
class BinaryVectors:
    """One bit per dimension (above the threshold or not), packed eight to a byte."""

    bits: np.ndarray  # (n, ceil(d / 8)) uint8
    thresholds: np.ndarray  # (d,) zeros for plain sign bits

    @property
    def bytes_per_vector(self) -> int:
        """d / 8 bytes, rounded up."""
        return self.bits.shape[1]

    @property
    def nbytes(self) -> int:
        """The packed bits (the thresholds count too when they are not all zero)."""
        return self.bits.nbytes + (self.thresholds.nbytes if self.thresholds.any() else 0)

    def encode(self, vectors: np.ndarray) -> np.ndarray:
        """Packed bits of vectors (one row each, or one vector)."""
        return np.packbits(vectors > self.thresholds, axis=-1)

    def search(self, query: np.ndarray, k: int) -> TopK:
        """Top `k` by Hamming distance (XOR, then a popcount of every byte)."""
        distances = np.bitwise_count(self.bits ^ self.encode(query)).sum(axis=1, dtype=np.int32)
        ids = _best(distances, k, higher_is_better=False)
        return TopK(ids, distances[ids], "hamming distance")


def fit_binary(vectors: np.ndarray, centred: bool = False) -> BinaryVectors:
    """Sign bits; `centred` compares each dimension with its median over these vectors."""
    dims = vectors.shape[1]
    centre = centred and len(vectors) > 0
    thresholds = np.median(vectors, axis=0) if centre else np.zeros(dims)
    binary = BinaryVectors(np.zeros((0, (dims + 7) // 8), np.uint8), thresholds.astype(np.float32))
    return BinaryVectors(binary.encode(vectors), binary.thresholds)


def rescore(vectors: np.ndarray, query: np.ndarray, candidates: np.ndarray, k: int) -> TopK:
    """The best `k` of the candidate rows, ranked by their float32 cosine."""
    scores = _dot(vectors[candidates], query)
    best = _best(scores, k)
    return TopK(candidates[best], scores[best], "cosine")


Compressed = Int8Vectors | BinaryVectors


def search_rescored(
    compressed: Compressed, vectors: np.ndarray, query: np.ndarray, k: int, oversample: int
) -> TopK:
    """Fetch `k * oversample` candidates by the compressed score, rescore them in float32."""
    candidates = compressed.search(query, k * oversample).ids
    return rescore(vectors, query, candidates, k)
