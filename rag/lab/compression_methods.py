"""Compression methods measured: memory, time and recall@k of each against exact search.

float32, int8 and binary (each with and without float32 rescoring), and OpenAI's
shortened vectors, all measured on the same vectors and queries so their ratios hold on a
busy machine. The codecs themselves live in `rag.stores.codecs`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag.errors import RagError
from rag.eval.metrics import mean, percentile
from rag.stores.codecs import (
    FLOAT32_BYTES,
    Compressed,
    TopK,
    exact_top_k,
    fit_binary,
    fit_int8,
    search_rescored,
)

# OpenAI's text-embedding-3 models can return shorter vectors (`dimensions`); these sizes
# are compared with the full vectors (1536 for -small, 3072 for -large).
OPENAI_SHORTENED = (256, 512, 1536)


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
