"""The binary vector index as the app runs it, against the HNSW graph, on SciFact.

Usage: python bench/binary_index.py [--data-dir DIR] [--out PATH]

Runs the 300 SciFact test queries through the app's own vector search twice, with
`vector_index=hnsw` and `vector_index=binary` (sign bits in memory, 20 candidates a result
rescored with float32 vectors read from Chroma), alternating per query so a busy machine
slows both alike. Reports recall@10 of each against exact float32 search over the same
chunks, p50/p95 latency, the time to build the binary index and its memory. Prints
Markdown and writes it to --out.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.compression import CACHE, SCIFACT, open_scifact
from rag.eval.metrics import percentile
from rag.eval.sets import read_beir
from rag.lab.compression import read_collection_vectors
from rag.results import SearchMode, SearchOptions, VectorIndex
from rag.stores.codecs import exact_top_k

K = 10
OUT = Path(__file__).resolve().parent / "results" / "binary_index.md"


def main() -> None:
    """Measure and report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=CACHE)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    data = read_beir(SCIFACT, "test")
    engine = open_scifact(args.data_dir, data)
    library = engine.library
    collection = read_collection_vectors(library)
    started = time.perf_counter()
    index = library.binary_index()
    build_s = time.perf_counter() - started
    retriever = engine.retriever
    options = {i: SearchOptions(mode=SearchMode.VECTOR, k=K, vector_index=i) for i in VectorIndex}
    times: dict[VectorIndex, list[float]] = {i: [] for i in VectorIndex}
    recalls: dict[VectorIndex, list[float]] = {i: [] for i in VectorIndex}
    for number, query in enumerate(data.queries.values()):
        vector = library.embed_query(query)
        truth = {collection.chunk_ids[r] for r in exact_top_k(collection.vectors, vector, K).ids}
        order = list(VectorIndex) if number % 2 else list(reversed(VectorIndex))
        for which in order:
            began = time.perf_counter()
            found = retriever.search(query, options[which]).chunks
            times[which].append((time.perf_counter() - began) * 1000)
            recalls[which].append(len(truth & {c.chunk_id for c in found}) / K)
    report = _markdown(collection, index.nbytes, build_s, times, recalls)
    print(report)
    args.out.write_text(report)


def _markdown(collection, index_bytes: int, build_s: float, times, recalls) -> str:
    rows = [
        f"| {which.value} | {np.mean(recalls[which]):.3f} | {percentile(times[which], 0.5):.1f}"
        f" | {percentile(times[which], 0.95):.1f} |"
        for which in VectorIndex
    ]
    return "\n".join(
        [
            "# Binary vector index against HNSW, as the app runs them (SciFact)",
            "",
            f"{time.strftime('%Y-%m-%d')}, {platform.node()}, {platform.processor() or ''}"
            f" Python {platform.python_version()}; `python bench/binary_index.py`.",
            f"{len(collection.chunk_ids):,} chunks, {len(times[VectorIndex.HNSW])} queries,"
            f" k = {K}; recall against exact float32 search over the same chunks; latency of"
            " the whole vector search (query embedding included).",
            "",
            "| vector index | recall@10 | p50 ms | p95 ms |",
            "|---|---|---|---|",
            *rows,
            "",
            f"Binary index: {index_bytes / 1e6:.2f} MB in memory, built in {build_s:.1f} s.",
            "",
        ]
    )


if __name__ == "__main__":
    main()
