"""Vector compression: int8 and binary forms of a collection's vectors, and what each costs.

Pure NumPy helpers at the top, the measurement below, and at the end the readers that take
the vectors and the queries from a user's own library. The embeddings are unit length, so
the dot product is the cosine similarity. A compressed search may be followed by rescoring:
fetch `k * oversample` candidates by the compressed score, then rank those by the float32
vectors (which stay on disk, in Chroma, in a real deployment).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag.errors import RagError
from rag.metrics import mean, percentile

FLOAT32_BYTES = 4
# OpenAI's text-embedding-3 models can return shorter vectors (`dimensions`); these sizes
# are compared with the full vectors (1536 for -small, 3072 for -large).
OPENAI_SHORTENED = (256, 512, 1536)


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


# Measuring -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Method:
    """One way to search: its name, what its index takes in memory, and the search."""

    name: str
    bytes_per_vector: int
    total_bytes: int
    search: Callable[[np.ndarray, int], TopK]
    oversample: int = 1
    rescored: bool = False


@dataclass(frozen=True)
class MethodFigures:
    """What one method costs and how close it comes to exact float32 search."""

    method: str
    bytes_per_vector: int
    total_bytes: int
    mean_ms: float
    p95_ms: float
    recall: float  # recall@k against exact float32 top-k
    oversample: int
    # True when the float32 vectors are read again to rescore the candidates
    rescored: bool


@dataclass(frozen=True)
class CompressionReport:
    """Every method measured on the same vectors and queries."""

    vectors: int
    dimensions: int
    queries: int
    k: int
    query_source: str
    methods: tuple[MethodFigures, ...]
    vectors_source: str = "given vectors"

    def rows(self) -> list[dict[str, object]]:
        """One row per method, for a table."""
        return [
            {
                "method": m.method,
                "bytes/vector": m.bytes_per_vector,
                "memory MB": round(m.total_bytes / 1e6, 3),
                "mean ms": m.mean_ms,
                "p95 ms": m.p95_ms,
                f"recall@{self.k}": m.recall,
            }
            for m in self.methods
        ]


def compression_methods(
    vectors: np.ndarray, oversample: Sequence[int] = (4,), centred: bool = False
) -> list[Method]:
    """float32, int8, int8+rescore, binary, binary+rescore (one per oversampling factor)."""
    int8, binary = fit_int8(vectors), fit_binary(vectors, centred)
    float32 = Method("float32", vectors.shape[1] * FLOAT32_BYTES, vectors.nbytes, _exact(vectors))
    methods = [float32]
    for label, form in (("int8", int8), ("binary (median)" if centred else "binary", binary)):
        methods.append(Method(label, form.bytes_per_vector, form.nbytes, form.search))
        methods += [
            Method(
                f"{label}+rescore x{factor}",
                form.bytes_per_vector,
                form.nbytes,
                _rescored(form, vectors, factor),
                oversample=factor,
                rescored=True,
            )
            for factor in oversample
        ]
    return methods


def shorten(vectors: np.ndarray, dimensions: int) -> np.ndarray:
    """The first `dimensions` of each vector, made unit length again: what OpenAI's
    `dimensions` parameter returns for text-embedding-3 models, which are trained so that
    their leading dimensions carry the most meaning."""
    short = np.ascontiguousarray(vectors[..., :dimensions], dtype=np.float32)
    norms = np.linalg.norm(short, axis=-1, keepdims=True)
    return short / np.where(norms == 0, 1.0, norms)


def shortened_methods(vectors: np.ndarray, sizes: Sequence[int]) -> list[Method]:
    """Exact float32 search over shortened vectors, one method per size below the full one."""
    methods = []
    for size in sorted(s for s in sizes if s < vectors.shape[1]):
        short = shorten(vectors, size)
        methods.append(
            Method(
                f"float32 shortened to {size}",
                size * FLOAT32_BYTES,
                short.nbytes,
                lambda query, k, short=short, size=size: exact_top_k(
                    short, shorten(query, size), k
                ),
            )
        )
    return methods


def _exact(vectors: np.ndarray) -> Callable[[np.ndarray, int], TopK]:
    return lambda query, k: exact_top_k(vectors, query, k)


def _rescored(form: Compressed, vectors: np.ndarray, factor: int) -> Callable:
    return lambda query, k: search_rescored(form, vectors, query, k, factor)


def measure_methods(
    methods: Sequence[Method], vectors: np.ndarray, queries: np.ndarray, k: int
) -> tuple[MethodFigures, ...]:
    """Time every method on every query and compare its top `k` with exact search.

    The methods take each query in turn, in an order that rotates from query to query, so
    that a busy machine slows them alike and their ratios stay meaningful.
    """
    times: list[list[float]] = [[] for _ in methods]
    recalls: list[list[float]] = [[] for _ in methods]
    for number, query in enumerate(queries):
        truth = set(exact_top_k(vectors, query, k).ids.tolist())
        for offset in range(len(methods)):
            index = (number + offset) % len(methods)
            started = time.perf_counter()
            found = methods[index].search(query, k)
            times[index].append((time.perf_counter() - started) * 1000)
            if truth:
                recalls[index].append(len(truth & set(found.ids.tolist())) / len(truth))
    return tuple(_figures(*each) for each in zip(methods, times, recalls, strict=True))


def _figures(method: Method, times: list[float], recalls: list[float]) -> MethodFigures:
    return MethodFigures(
        method=method.name,
        bytes_per_vector=method.bytes_per_vector,
        total_bytes=method.total_bytes,
        mean_ms=round(mean(times), 4),
        p95_ms=round(percentile(times, 0.95), 4),
        recall=round(mean(recalls), 4),
        oversample=method.oversample,
        rescored=method.rescored,
    )


def measure_compression(
    vectors: np.ndarray,
    queries: np.ndarray,
    k: int = 10,
    oversample: int = 4,
    query_source: str = "given query vectors",
    vectors_source: str = "given vectors",
    shorten_to: Sequence[int] = (),
) -> CompressionReport:
    """Memory, time per query and recall@k of float32, int8 and binary search, each
    compressed form alone and with rescoring of `k * oversample` candidates, and of
    float32 search over vectors shortened to each size in `shorten_to`."""
    if k < 1 or oversample < 1:
        raise RagError(f"k and oversampling must be at least 1 (got {k} and {oversample})")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, vectors.shape[1])
    methods = compression_methods(vectors, (oversample,)) + shortened_methods(vectors, shorten_to)
    figures = measure_methods(methods, vectors, queries, k)
    dims = vectors.shape[1]
    return CompressionReport(
        len(vectors), dims, len(queries), k, query_source, figures, vectors_source
    )
