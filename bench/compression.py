"""Vector compression on SciFact: int8 and binary search against exact float32 search.

Usage: python bench/compression.py [--data-dir DIR] [--factors 1 2 4 10] [--out PATH]

Reads the chunk vectors of the `beir-scifact` collection (ingested through the app's own
pipeline first if the data folder lacks it, as bench/scifact_quality.py does), embeds the
300 test queries with the app's embedder, and measures each method of rag.quantization:
recall@10 and recall@100 against exact float32 top-k, bytes per vector, time per query, and
nDCG@10 against the qrels with documents ranked by their best chunk. Prints Markdown and
writes it to --out.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ingest.beir import read_beir_corpus
from ingest.pipeline import Ingestor
from rag.config import load_settings
from rag.documents import doc_id_of
from rag.engine import Engine, open_engine
from rag.eval.metrics import mean, ndcg_at_k, recall_at_k, unique_in_order
from rag.eval.runs import BEIR_DEPTH
from rag.eval.sets import BeirSet, read_beir
from rag.lab.compression import CollectionVectors, read_collection_vectors
from rag.lab.compression_methods import (
    Method,
    MethodFigures,
    compression_methods,
    measure_methods,
)
from rag.results import SearchOptions
from rag.stores.codecs import exact_top_k
from rag.stores.library import Library

ROOT = Path(__file__).resolve().parent
SCIFACT = ROOT.parents[1] / "shared" / "data" / "scifact"
CACHE = ROOT / ".cache" / "eval-data"
OUT = ROOT / "results" / "compression.md"


def open_scifact(data_dir: Path, data: BeirSet) -> Engine:
    """The SciFact collection, ingested with the app's pipeline if it is not there yet."""
    settings = load_settings(env_file=None).with_overrides(
        data_dir=data_dir, collection="beir-scifact"
    )
    engine = open_engine(settings)
    if not engine.library.visible_ids():
        documents = list(read_beir_corpus(SCIFACT))
        Ingestor(engine.library).ingest_texts(documents)
    return engine


def all_methods(vectors: np.ndarray, factors: list[int]) -> list[Method]:
    """Every method of rag.quantization, plus binary with median thresholds."""
    centred = [m for m in compression_methods(vectors, factors, centred=True) if "median" in m.name]
    return compression_methods(vectors, factors) + centred


def chunk_sources(library: Library, collection: CollectionVectors) -> list[str]:
    """The BEIR document id (the document's name) of every chunk, by row."""
    names = {record.doc_id: record.name for record in library.documents()}
    return [names[doc_id_of(chunk_id)] for chunk_id in collection.chunk_ids]


def ndcg_by_method(
    methods: list[Method], queries: np.ndarray, query_ids: list[str], sources, data: BeirSet
) -> dict[str, float]:
    """nDCG@10 of each method: its top chunks, as many as the app's vector retriever
    proposes (so rescoring sees that many times the oversampling factor), a document ranked
    by its best chunk."""
    depth = SearchOptions().candidates
    scores: dict[str, list[float]] = {m.name: [] for m in methods}
    for query, query_id in zip(queries, query_ids, strict=True):
        for method in methods:
            rows = method.search(query, depth).ids
            ranked = unique_in_order(sources[row] for row in rows)
            scores[method.name].append(ndcg_at_k(ranked, data.qrels[query_id], 10))
    return {name: mean(values) for name, values in scores.items()}


def doc_recall_float32(vectors, queries, query_ids, sources, data: BeirSet) -> float:
    """Document recall@100 of exact float32 search (to compare with benchmark 1)."""
    found = []
    for query, query_id in zip(queries, query_ids, strict=True):
        rows = exact_top_k(vectors, query, BEIR_DEPTH).ids
        ranked = unique_in_order(sources[row] for row in rows)
        found.append(recall_at_k(ranked, data.qrels[query_id].keys(), 100))
    return mean(found)


def table(at10, at100, ndcg: dict[str, float], count: int) -> list[str]:
    """One Markdown row per method, with same-run ratios against float32."""
    base = at10[0]
    lines = [
        f"| method | bytes/vector | memory for {count:,} vectors | memory × less | recall@10 |"
        " recall@100 | mean ms | p95 ms | mean time vs float32 | nDCG@10 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for ten, hundred in zip(at10, at100, strict=True):
        lines.append(
            f"| {ten.method} | {ten.bytes_per_vector} | {ten.total_bytes / 1e6:.2f} MB"
            f" | {base.total_bytes / ten.total_bytes:.1f} | {ten.recall:.4f}"
            f" | {hundred.recall:.4f} | {ten.mean_ms:.2f} | {ten.p95_ms:.2f}"
            f" | {ten.mean_ms / base.mean_ms:.2f} | {ndcg[ten.method]:.4f} |"
        )
    return lines


def header(collection: CollectionVectors, queries: int) -> list[str]:
    load = os.getloadavg()[0]
    return [
        "# Vector compression on SciFact: int8 and binary against float32",
        "",
        f"Script: `bench/compression.py`. Machine: {platform.platform()}, {platform.machine()},"
        f" {os.cpu_count()} cores (shared with other work), Python {platform.python_version()},"
        f" NumPy {np.__version__}; {time.strftime('%Y-%m-%d')}; load average (1 min) at start"
        f" {load:.1f}.",
        "",
        f"Command: `{' '.join(['.venv/bin/python', 'bench/compression.py', *sys.argv[1:]])}`",
        "",
        f"Vectors: the {len(collection.chunk_ids):,} chunks of the `beir-scifact` collection"
        " (5,183 abstracts, the app's chunker, all-MiniLM-L6-v2, 384-d, unit length), read"
        f" from Chroma. Queries: the {queries} SciFact test queries, embedded with the app's"
        " `embed_query`. Each method takes each query in turn in a rotating order.",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=CACHE)
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 2, 4, 10, 20])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    data = read_beir(SCIFACT, "test")
    library = open_scifact(args.data_dir, data).library
    collection = read_collection_vectors(library)
    query_ids = sorted(data.queries)
    queries = np.vstack([library.embed_query(data.queries[q]) for q in query_ids])
    vectors, sources = collection.vectors, chunk_sources(library, collection)
    lines = header(collection, len(query_ids))
    methods = all_methods(vectors, args.factors)
    started = time.perf_counter()
    at10: tuple[MethodFigures, ...] = measure_methods(methods, vectors, queries, 10)
    at100 = measure_methods(methods, vectors, queries, 100)
    ndcg = ndcg_by_method(methods, queries, query_ids, sources, data)
    lines += table(at10, at100, ndcg, len(vectors))
    recall = doc_recall_float32(vectors, queries, query_ids, sources, data)
    lines += [
        "",
        "Recall is of chunks, against exact float32 top-k; times are for k = 10. nDCG@10 is"
        " against the SciFact qrels, from each method's top"
        f" {SearchOptions().candidates} chunks (the app's vector candidates; rescoring fetches"
        " that many times its factor), a document ranked by its best chunk. Document"
        f" recall@100 of exact float32 search (top {BEIR_DEPTH} chunks): {recall:.4f}."
        f" Measured in {time.perf_counter() - started:.0f} s; load average (1 min) at the end"
        f" {os.getloadavg()[0]:.1f}.",
    ]
    library.close()
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
