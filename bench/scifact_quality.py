"""Retrieval quality on SciFact (BEIR) test: nDCG@10 of each mode and fusion method.

Usage: python bench/scifact_quality.py [--data-dir DIR] [--qrels PATH]

Ingests the corpus through the app's own pipeline (once; later runs reuse the collection),
then runs the 300 test queries in vector, BM25 and hybrid mode with each fusion method, all
with default settings, and prints them beside the published baselines.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ingest.beir import read_beir_corpus
from ingest.pipeline import Ingestor
from rag.config import load_settings
from rag.engine import open_engine
from rag.eval.runs import BEIR_METRICS, ModeResult, evaluate_beir
from rag.eval.sets import read_beir
from rag.results import Fusion, SearchMode, SearchOptions
from rag.search.retriever import Retriever

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"
CACHE = Path(__file__).resolve().parent / ".cache" / "eval-data"
PUBLISHED = [
    ("BM25, BEIR paper (Thakur et al. 2021)", 0.665),
    ("all-MiniLM-L6-v2 dense, MTEB", 0.645),
    ("OpenAI text-embedding-3-small dense, MTEB", 0.734),
]


def runs(retriever: Retriever, data) -> list[tuple[str, ModeResult]]:
    """(label, result) for each mode, and for hybrid with each fusion method."""
    results = []
    single = evaluate_beir(retriever, data, [SearchMode.VECTOR, SearchMode.BM25])
    results += [(f"{m.mode.value} only", m) for m in single.modes]
    for fusion in Fusion:
        options = SearchOptions(fusion=fusion)
        default = " (default)" if fusion is SearchOptions().fusion else ""
        hybrid = evaluate_beir(retriever, data, [SearchMode.HYBRID], options).modes[0]
        results.append((f"hybrid, {fusion.value} fusion{default}", hybrid))
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=CACHE)
    parser.add_argument("--qrels", type=Path, help="another qrels file (default: test)")
    args = parser.parse_args()
    data = read_beir(SCIFACT, "test", args.qrels)
    settings = load_settings(env_file=None).with_overrides(
        data_dir=args.data_dir, collection="beir-scifact"
    )
    engine = open_engine(settings)
    library = engine.library
    started = time.perf_counter()
    documents = list(read_beir_corpus(SCIFACT))
    Ingestor(library).ingest_texts(documents)
    chunks = sum(record.chunks for record in library.documents())
    print(f"SciFact: {len(documents)} abstracts, {chunks} chunks,")
    print(f"{len(data.queries)} queries; ingest check {time.perf_counter() - started:.0f} s")
    print(f"{platform.machine()}, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}")
    print(f"{library.identity.describe()}\n")
    print("| run | " + " | ".join(BEIR_METRICS) + " | p95 ms |")
    print("|---|" + "---|" * (len(BEIR_METRICS) + 1))
    for label, result in runs(engine.retriever, data):
        values = " | ".join(f"{result.metrics[name]:.3f}" for name in BEIR_METRICS)
        print(f"| {label} | {values} | {result.p95_ms:.1f} |")
    for label, ndcg in PUBLISHED:
        print(f"| published: {label} | {ndcg:.3f} | | | | |")


if __name__ == "__main__":
    main()
