"""Vector recall@10 of Chroma's HNSW index against exact search, for several settings.

Usage: python bench/hnsw_recall.py [--docs N] [--queries N]
Embeds SciFact abstracts with the default model (all-MiniLM-L6-v2), loads them into
Chroma collections built with each HNSW setting, and compares each collection's top 10
with exact cosine search (NumPy) for the SciFact queries. Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import chromadb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from rag.config import load_settings
from rag.providers.embeddings import make_embedder

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"
SETTINGS = [
    {"max_neighbors": 16, "ef_construction": 100, "ef_search": 10},
    {"max_neighbors": 16, "ef_construction": 100, "ef_search": 100},
    {"max_neighbors": 32, "ef_construction": 200, "ef_search": 100},
    {"max_neighbors": 32, "ef_construction": 200, "ef_search": 200},
]


def _load(path: Path, limit: int) -> list[str]:
    rows = []
    with path.open() as lines:
        for line in lines:
            row = json.loads(line)
            rows.append(f"{row.get('title', '')}. {row['text']}".strip())
            if len(rows) == limit:
                break
    return rows


def _recall(client, settings, vectors, queries, exact) -> tuple[float, float]:
    name = f"c{abs(hash(json.dumps(settings, sort_keys=True)))}"
    collection = client.create_collection(
        name, embedding_function=None, configuration={"hnsw": {"space": "cosine", **settings}}
    )
    ids = [str(i) for i in range(len(vectors))]
    for start in range(0, len(ids), 5000):
        collection.add(ids=ids[start : start + 5000], embeddings=vectors[start : start + 5000])
    hits, times = 0, []
    for query, truth in zip(queries, exact, strict=True):
        started = time.perf_counter()
        found = collection.query(query_embeddings=[query], n_results=10, include=[])
        times.append(time.perf_counter() - started)
        hits += len(set(map(int, found["ids"][0])) & set(truth))
    return hits / (10 * len(queries)), float(np.percentile(times, 95) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=5183)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    embedder = make_embedder(load_settings(env_file=None))
    texts = _load(SCIFACT / "corpus.jsonl", args.docs)
    questions = _load(SCIFACT / "queries.jsonl", args.queries)
    started = time.perf_counter()
    vectors = embedder.embed_documents(texts)
    embed_s = time.perf_counter() - started
    queries = np.vstack([embedder.embed_query(q) for q in questions])
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    client = chromadb.EphemeralClient(chromadb.Settings(anonymized_telemetry=False))
    print(f"{len(texts)} SciFact abstracts, {len(questions)} queries; embedded in {embed_s:.0f} s")
    print(f"{platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}\n")
    print("| max_neighbors | ef_construction | ef_search | recall@10 | query p95 ms |")
    print("|---|---|---|---|---|")
    for settings in SETTINGS:
        recall, p95 = _recall(client, settings, vectors, queries, exact)
        values = " | ".join(
            str(settings[k]) for k in ("max_neighbors", "ef_construction", "ef_search")
        )
        print(f"| {values} | {recall:.4f} | {p95:.2f} |")


if __name__ == "__main__":
    main()
