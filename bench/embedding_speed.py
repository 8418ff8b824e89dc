"""Chunks per second of the local MiniLM embedder (fastembed/ONNX) under several settings.

Usage: python bench/embedding_speed.py [--chunks N] [--slice N] [--rounds N] [--skip-quality]
       [--only TEXT ...]
Chunks the long PDFs with the app's own chunker at the model's limit (254 word pieces plus
[CLS] and [SEP]), keeps N of them spread over the books, and embeds them with the project's
FastEmbedEmbedder as it is (the baseline) and with variants: int8 dynamic quantisation,
sorting texts by length before batching, ONNX threads and batch sizes, and combinations.

The machine is shared, so the variants are interleaved: the chunks are cut into slices (one
call per slice, as the app makes one call per document), and every round embeds each slice
with every variant in a rotating order. A variant's ratio is the median, over all slices of
all rounds, of the baseline's time on a slice over the variant's time on the same slice.

Variants that change the model's weights are also scored: dense-only nDCG@10 on SciFact
test (one vector per abstract, exact cosine top 10) and cosine with the fp32 vectors.
Vectors and quantised models are cached in bench/.cache. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime
from fastembed import TextEmbedding
from onnxruntime.quantization import QuantType, quantize_dynamic
from pypdf import PdfReader

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ingest.chunking import chunk_pages
from rag.config import load_settings
from rag.providers.embeddings import FastEmbedEmbedder, make_embedder

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SCIFACT = SHARED / "scifact"
PDFS = SHARED / "pdfs" / "long"
CACHE = Path(__file__).resolve().parent / ".cache"
# Quantised weights: folder name under CACHE and quantize_dynamic's per_channel.
QUANTISED = {"int8": False, "int8-per-channel": True}

Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Variant:
    """One way of embedding: which weights, ONNX threads, batch size, sorted or not."""

    name: str
    weights: str = "fp32"
    threads: int | None = None
    batch_size: int = 32
    by_length: bool = False
    project: bool = False  # the project's FastEmbedEmbedder itself

    @property
    def model_key(self) -> tuple[str, int | None]:
        """Variants with the same key share one loaded model."""
        return self.weights, self.threads


VARIANTS = [
    Variant("baseline: FastEmbedEmbedder (fp32, batch 32, threads default)", project=True),
    Variant("c. sorted by length", by_length=True),
    Variant("d. threads=1", threads=1),
    Variant("d. threads=2", threads=2),
    Variant("d. batch 8", batch_size=8),
    Variant("d. batch 64", batch_size=64),
    Variant("b. int8 (quantize_dynamic defaults, per-tensor)", weights="int8"),
    Variant("b. int8 per-channel", weights="int8-per-channel"),
    Variant("e. int8 per-channel + sorted", weights="int8-per-channel", by_length=True),
    Variant(
        "e. int8 per-channel + sorted + batch 8",
        weights="int8-per-channel",
        by_length=True,
        batch_size=8,
    ),
    Variant(
        "e. int8 per-channel + sorted + batch 64",
        weights="int8-per-channel",
        by_length=True,
        batch_size=64,
    ),
    Variant(
        "e. int8 per-channel + sorted + threads=1",
        weights="int8-per-channel",
        by_length=True,
        threads=1,
    ),
]


# The models that the SciFact scores are computed with.
QUALITY_MODELS = [Variant(weights, weights=weights) for weights in ("fp32", *QUANTISED)]


def select_variants(only: Sequence[str] | None) -> list[Variant]:
    """The baseline and the variants whose name contains one of `only` (all if None)."""
    if not only:
        return list(VARIANTS)
    return [VARIANTS[0]] + [v for v in VARIANTS[1:] if any(text in v.name for text in only)]


def quantised_model(source: Path, name: str, per_channel: bool) -> Path:
    """A model folder under CACHE with int8 weights and the source's tokenizer files."""
    folder = CACHE / name
    if (folder / "model.onnx").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.is_file() and path.name != "model.onnx":
            shutil.copy(path, folder / path.name)
    partial = folder / "model.onnx.partial"
    quantize_dynamic(
        source / "model.onnx", partial, weight_type=QuantType.QInt8, per_channel=per_channel
    )
    partial.rename(folder / "model.onnx")
    return folder


def model_folders(source: Path) -> dict[str, Path]:
    """Every weights variant's folder: fp32 is the configured model itself."""
    folders = {"fp32": source}
    for name, per_channel in QUANTISED.items():
        folders[name] = quantised_model(source, name, per_channel)
    return folders


def _pdf_pages(path: Path) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(path).pages]


def bench_chunks(embedder: FastEmbedEmbedder, count: int) -> list[str]:
    """`count` chunks of the long PDFs, made by the app's chunker, spread over all of them."""
    cached = CACHE / f"chunks-{count}.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    texts = []
    for path in sorted(PDFS.glob("*.pdf")):
        chunks = chunk_pages(
            _pdf_pages(path),
            doc_id=path.stem,
            source=path.name,
            embedder=embedder,
            size=embedder.max_chunk_tokens,
            overlap=30,
        )
        texts.extend(chunk.text for chunk in chunks)
    picked = [texts[i] for i in np.linspace(0, len(texts) - 1, count).round().astype(int)]
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(picked))
    return picked


def embed_texts(
    model: TextEmbedding,
    texts: list[str],
    batch_size: int,
    sort_keys: Sequence[int] | None = None,
) -> np.ndarray:
    """Vectors for `texts` in order; batched in order of `sort_keys` when given."""
    if sort_keys is None:
        return np.vstack(list(model.embed(texts, batch_size=batch_size)))
    order = np.argsort(np.asarray(sort_keys), kind="stable")
    vectors = np.vstack(list(model.embed([texts[i] for i in order], batch_size=batch_size)))
    restored = np.empty_like(vectors)
    restored[order] = vectors
    return restored


def make_runner(variant: Variant, model: TextEmbedding, embedder: FastEmbedEmbedder) -> Embed:
    """A function that embeds a list of texts the way `variant` does."""
    if variant.project:
        return embedder.embed_documents
    if variant.by_length:
        return lambda texts: embed_texts(
            model, texts, variant.batch_size, embedder.count_tokens(texts)
        )
    return lambda texts: embed_texts(model, texts, variant.batch_size)


def load_models(variants: Sequence[Variant], folders: dict[str, Path], name: str) -> dict:
    """One TextEmbedding per (weights, threads) that the variants use."""
    models = {}
    for variant in variants:
        if variant.model_key not in models:
            weights, threads = variant.model_key
            models[variant.model_key] = TextEmbedding(
                name, specific_model_path=str(folders[weights]), threads=threads
            )
    return models


def time_variants(
    runners: dict[str, Embed], texts: list[str], slice_size: int, rounds: int
) -> tuple[dict[str, list[float]], dict[str, np.ndarray]]:
    """Seconds per slice for each runner, interleaved, and each runner's last vectors."""
    names = list(runners)
    slices = [texts[i : i + slice_size] for i in range(0, len(texts), slice_size)]
    seconds: dict[str, list[float]] = {name: [] for name in names}
    parts: dict[str, list[np.ndarray]] = {}
    step = 0
    for _ in range(rounds):
        parts = {name: [] for name in names}
        for piece in slices:
            for name in names[step % len(names) :] + names[: step % len(names)]:
                started = time.perf_counter()
                parts[name].append(runners[name](piece))
                seconds[name].append(time.perf_counter() - started)
            step += 1
    return seconds, {name: np.vstack(rows) for name, rows in parts.items()}


def max_cos_gap(vectors: np.ndarray, reference: np.ndarray) -> float:
    """Largest |cos - 1| between matching rows of two sets of unit vectors."""
    return float(np.max(np.abs(np.sum(vectors * reference, axis=1) - 1.0)))


def _read_jsonl(path: Path) -> dict[str, str]:
    rows = {}
    with path.open() as lines:
        for line in lines:
            row = json.loads(line)
            rows[row["_id"]] = f"{row.get('title', '')}. {row['text']}".strip()
    return rows


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open() as lines:
        next(lines)
        for line in lines:
            query, doc, score = line.split("\t")
            qrels.setdefault(query, {})[doc] = int(score)
    return qrels


def ndcg_at_10(ranked: Sequence[str], gains: dict[str, int]) -> float:
    """nDCG@10 with graded gains (linear, as trec_eval and BEIR compute it)."""
    dcg = sum(gains.get(doc, 0) / np.log2(rank + 2) for rank, doc in enumerate(ranked[:10]))
    ideal = sorted(gains.values(), reverse=True)[:10]
    idcg = sum(gain / np.log2(rank + 2) for rank, gain in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def scifact_vectors(weights: str, model: TextEmbedding, texts: list[str]) -> np.ndarray:
    """Corpus vectors for one weights variant, cached in CACHE (embedding takes minutes)."""
    cached = CACHE / f"scifact-{weights}.npy"
    if cached.is_file():
        return np.load(cached)
    keys = [len(text) for text in texts]  # sorting is vector-neutral and saves padding
    vectors = embed_texts(model, texts, 32, keys)
    np.save(cached, vectors)
    return vectors


def scifact_quality(models: dict, weights: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """nDCG@10 on SciFact test, and mean and min cosine with fp32, per weights variant."""
    corpus = _read_jsonl(SCIFACT / "corpus.jsonl")
    queries = _read_jsonl(SCIFACT / "queries.jsonl")
    qrels = _read_qrels(SCIFACT / "qrels" / "test.tsv")
    doc_ids = list(corpus)
    query_ids = [query for query in qrels if query in queries]
    vectors = {w: scifact_vectors(w, models[w, None], list(corpus.values())) for w in weights}
    results = {}
    for name, docs in vectors.items():
        model = models[name, None]
        asked = np.vstack([next(iter(model.query_embed(queries[q]))) for q in query_ids])
        top = np.argsort(-(asked @ docs.T), axis=1)[:, :11]
        scores = []
        for query, row in zip(query_ids, top, strict=True):
            # As BEIR: a document with the query's own id is not counted as a hit.
            ranked = [doc_ids[i] for i in row if doc_ids[i] != query]
            scores.append(ndcg_at_10(ranked, qrels[query]))
        cosines = np.sum(docs * vectors["fp32"], axis=1)
        results[name] = (float(np.mean(scores)), float(cosines.mean()), float(cosines.min()))
    return results


def _length_summary(embedder: FastEmbedEmbedder, texts: list[str]) -> str:
    counts = np.array(embedder.count_tokens(texts))
    p10, p50, p90 = np.percentile(counts, [10, 50, 90]).astype(int)
    return (
        f"word pieces per chunk (with [CLS]/[SEP]): p10 {p10}, median {p50}, p90 {p90},"
        f" max {counts.max()}; {np.mean(counts < 200):.0%} under 200"
    )


def print_machine() -> None:
    """Platform, cores, library versions and date."""
    cpu = platform.processor() or platform.machine()
    print(
        f"{platform.platform()}, {cpu}, nproc {os.cpu_count()}, onnxruntime"
        f" {onnxruntime.__version__}, {time.strftime('%Y-%m-%d')}"
    )


def print_table(variants, seconds, vectors, quality, embedded: int) -> None:
    """One Markdown row per variant; `embedded` is how many chunks each variant embedded."""
    base = variants[0].name
    print(
        "| variant | chunks/s | × baseline, median [min–max] | max abs(cos−1) vs baseline"
        " | SciFact nDCG@10 | SciFact cos vs fp32, mean / min |"
    )
    print("|---|---|---|---|---|---|")
    for variant in variants:
        times = np.array(seconds[variant.name])
        ratios = np.array(seconds[base]) / times
        rate = embedded / times.sum()
        gap = max_cos_gap(vectors[variant.name], vectors[base])
        ndcg, mean_cos, min_cos = quality.get(variant.weights, (None, None, None))
        if variant.weights != "fp32" or variant.project:
            scores = f"{ndcg:.4f} | {mean_cos:.4f} / {min_cos:.4f}" if ndcg is not None else "– | –"
        else:
            scores = "(same vectors) | –"
        print(
            f"| {variant.name} | {rate:.1f} | {np.median(ratios):.2f} [{ratios.min():.2f}–"
            f"{ratios.max():.2f}] | {gap:.1e} | {scores} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=384)
    parser.add_argument("--slice", type=int, default=128, help="chunks per embedding call")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument(
        "--only", nargs="+", metavar="TEXT", help="time only variants whose name contains one"
    )
    args = parser.parse_args()
    variants = select_variants(args.only)
    settings = load_settings(env_file=None)
    embedder = make_embedder(settings)
    if not isinstance(embedder, FastEmbedEmbedder) or settings.embed_model_path is None:
        raise SystemExit("Needs RAG_EMBED_PROVIDER=fastembed and RAG_EMBED_MODEL_PATH")
    folders = model_folders(settings.embed_model_path)
    texts = bench_chunks(embedder, args.chunks)
    models = load_models([*variants, *QUALITY_MODELS], folders, settings.embed_model)
    runners = {v.name: make_runner(v, models[v.model_key], embedder) for v in variants}
    quality = {} if args.skip_quality else scifact_quality(models, ["fp32", *QUANTISED])
    for run in runners.values():  # warm up: first calls allocate
        run(texts[: min(64, len(texts))])
    load_before = os.getloadavg()[0]
    seconds, vectors = time_variants(runners, texts, args.slice, args.rounds)
    load_after = os.getloadavg()[0]
    print(f"{len(texts)} chunks of {PDFS.name}/*.pdf, {args.slice} per call, {args.rounds} rounds")
    print(_length_summary(embedder, texts))
    print_machine()
    print(f"load average (1 min) before / after timing: {load_before:.1f} / {load_after:.1f}")
    print()
    print_table(variants, seconds, vectors, quality, len(texts) * args.rounds)


if __name__ == "__main__":
    main()
