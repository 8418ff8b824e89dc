"""Retrieval latency, memory and vector recall at 10k and 100k chunks: ours against LangChain.

Usage: python bench/retrieval_latency.py [--sizes 10000 100000] [--queries 300] [--out PATH]

The embedding model and its precision come from the environment, as in the app
(RAG_EMBED_PRECISION=int8 or fp32); both sides use the same model.

Chunks are real text: every sentence and every pair of consecutive sentences of the SciFact
abstracts (title, then text) and of the three long PDFs in shared/data/pdfs/long (pypdf),
long sentences cut into 60-word pieces, exact duplicates dropped, shuffled with a fixed seed;
a run of N chunks takes the first N. They are embedded once with the app's embedder and
cached in bench/.cache/retrieval_latency/ (chunks.jsonl, vectors/<model>-<precision>/), so
reruns skip it.

First, once: one query's embedding at int8 and at fp32, back to back (the only step of a
search that the model's precision changes). Then for each size, each step in a fresh process:
1. ours: a real Library in a temporary data folder (Chroma PersistentClient and tantivy),
   documents of 100 chunks each begun, written and published as ingestion does, searched
   with the app's Retriever, k=10, query embedding included;
2. the peer baseline: LangChain's EnsembleRetriever over BM25Retriever (rank_bm25) and
   langchain_chroma.Chroma(...).as_retriever(k=10), same model (cached document vectors,
   live query embedding); alone: memory after serving every query (hybrid), then each
   mode's p50/p95 with queries back to back;
3. ours alone: memory after serving every query (hybrid), p50/p95 of each step of a hybrid
   search, then each mode's p50/p95 with queries back to back;
4. latency interleaved: each side serving from its own process, hybrid, vector and bm25
   mode, query by query, so that the load of a shared machine falls on all alike;
5. vector recall@10 of both Chroma collections against exact cosine search (NumPy); if ours
   is under 0.99, its ef_search is raised to 300 and then 400 and measured again.
Queries are the SciFact test claims (after 20 warm-up queries from outside that set).
Prints Markdown and writes it to --out.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import itertools
import json
import multiprocessing
import os
import platform
import random
import re
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from rag.config import Settings, load_settings
from rag.documents import Chunk, DocumentRecord, DocumentStatus, chunk_id_for
from rag.providers.embeddings import Embedder, make_embedder

ROOT = Path(__file__).resolve().parent.parent

DATA = ROOT.parent / "shared" / "data"
SCIFACT = DATA / "scifact"
PDFS = sorted((DATA / "pdfs" / "long").glob("*.pdf"))
CACHE = ROOT / "bench" / ".cache" / "retrieval_latency"
# Bump when the way chunks are made changes, so stale caches are not reused.
CORPUS_VERSION = "sentences-and-pairs-v1"
MAX_CHUNKS = 100_000
MAX_WORDS = 60
MIN_WORDS = 4
SEED = 0
EMBED_BLOCK = 4096
DOC_CHUNKS = 100
WARMUP = 20
K = 10
COLLECTION = "bench"
LANGCHAIN_COLLECTION = "langchain"
RECALL_TARGET = 0.99
HIGHER_EF = (300, 400)
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=[\"'(\[¿¡]?[A-Z0-9ÁÉÍÓÚÑ])")


# Chunks ---------------------------------------------------------------------------------


def sentences(text: str) -> list[str]:
    """Sentences of a text, whitespace collapsed, long ones cut into MAX_WORDS pieces."""
    pieces = []
    for sentence in _SENTENCE_END.split(" ".join(text.split())):
        words = sentence.split()
        pieces += [" ".join(words[i : i + MAX_WORDS]) for i in range(0, len(words), MAX_WORDS)]
    return [p for p in pieces if len(p.split()) >= MIN_WORDS]


def sentence_chunks(text: str, source: str) -> Iterator[tuple[str, str]]:
    """(text, source) for each sentence and each pair of consecutive sentences."""
    found = sentences(text)
    for sentence in found:
        yield sentence, source
    for first, second in itertools.pairwise(found):
        yield f"{first} {second}", source


def source_texts() -> Iterator[tuple[str, str]]:
    """(text, source) of every SciFact abstract and every long PDF, in a fixed order."""
    with (SCIFACT / "corpus.jsonl").open() as lines:
        for line in lines:
            row = json.loads(line)
            yield f"{row['title'].rstrip('.')}. {row['text']}", f"scifact:{row['_id']}"
    from pypdf import PdfReader

    for path in PDFS:
        pages = PdfReader(path).pages
        yield "\n".join(page.extract_text() or "" for page in pages), path.name


def make_chunks(limit: int) -> list[dict[str, str]]:
    """Distinct sentence and sentence-pair chunks, shuffled with a fixed seed, `limit` of them."""
    seen: dict[str, str] = {}
    for text, source in source_texts():
        for chunk, chunk_source in sentence_chunks(text, source):
            seen.setdefault(chunk, chunk_source)
    rows = [{"text": text, "source": source} for text, source in seen.items()]
    random.Random(SEED).shuffle(rows)
    if len(rows) < limit:
        raise SystemExit(f"only {len(rows)} distinct chunks could be made, {limit} asked")
    return rows[:limit]


def load_chunks(n: int) -> list[dict[str, str]]:
    """The first `n` chunks, made once and cached in CACHE/chunks.jsonl."""
    path = CACHE / "chunks.jsonl"
    meta = CACHE / "chunks.meta.json"
    if not (meta.is_file() and json.loads(meta.read_text()).get("version") == CORPUS_VERSION):
        CACHE.mkdir(parents=True, exist_ok=True)
        rows = make_chunks(MAX_CHUNKS)
        with path.open("w") as out:
            out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        meta.write_text(json.dumps({"version": CORPUS_VERSION, "count": len(rows)}))
        shutil.rmtree(CACHE / "vectors", ignore_errors=True)
    with path.open() as lines:
        rows = [json.loads(line) for _, line in zip(range(n), lines, strict=False)]
    if len(rows) < n:
        raise SystemExit(f"the chunk cache holds {len(rows)} chunks, {n} asked")
    return rows


# Embedding ------------------------------------------------------------------------------


def settings_for(data_dir: Path | None = None) -> Settings:
    """The app's settings from the environment, with the data folder and collection set."""
    settings = load_settings(env_file=None)
    if data_dir is None:
        return settings
    return settings.with_overrides(data_dir=data_dir, collection=COLLECTION)


def embed_block(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Vectors of `texts` in order, embedded sorted by length so batches pad little."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = embedder.embed_documents([texts[i] for i in order])
    result = np.empty_like(vectors)
    result[order] = vectors
    return result.astype(np.float32)


def vectors_folder(settings: Settings) -> Path:
    """Where the chunk vectors of the settings' model and precision are cached: int8 and
    fp32 vectors differ a little, and a collection holds one kind only."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "--", settings.embed_model)
    return CACHE / "vectors" / f"{name}-{settings.embed_precision}"


def load_vectors(n: int, log: Callable[[str], None]) -> tuple[np.ndarray, float]:
    """Vectors of the first `n` chunks and the seconds spent embedding them (ever).

    Embeds missing blocks of EMBED_BLOCK chunks and caches each, so an interrupted run
    resumes and a larger run reuses what a smaller one embedded.
    """
    texts = [row["text"] for row in load_chunks(n)]
    folder = vectors_folder(settings_for())
    folder.mkdir(parents=True, exist_ok=True)
    embedder = None
    blocks, seconds = [], 0.0
    for start in range(0, n, EMBED_BLOCK):
        path = folder / f"{start // EMBED_BLOCK:04d}.npy"
        timing = path.with_suffix(".json")
        block_texts = texts[start : start + EMBED_BLOCK]
        cached = np.load(path) if path.is_file() else None
        if cached is None or len(cached) < len(block_texts):
            embedder = embedder or make_embedder(settings_for())
            started = time.perf_counter()
            cached = embed_block(embedder, block_texts)
            timing.write_text(json.dumps({"seconds": time.perf_counter() - started}))
            np.save(path, cached)
            log(f"embedded chunks {start}-{start + len(block_texts)}")
        blocks.append(cached[: len(block_texts)])
        seconds += json.loads(timing.read_text())["seconds"] * len(block_texts) / len(cached)
    return np.vstack(blocks), seconds


# Measuring ------------------------------------------------------------------------------


def rss_mb() -> dict[str, float]:
    """This process's resident memory now and at its peak, in MB (Linux /proc)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return {"rss_mb": fields["VmRSS"], "peak_mb": fields["VmHWM"]}


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """p50 and p95 of a list of milliseconds."""
    return {
        "p50": float(np.percentile(samples_ms, 50)),
        "p95": float(np.percentile(samples_ms, 95)),
    }


def load_queries(count: int) -> tuple[list[str], list[str]]:
    """(warm-up queries, measured queries): SciFact test claims, warm-ups from outside them."""
    with (SCIFACT / "qrels" / "test.tsv").open() as lines:
        test_ids = {line.split("\t")[0] for line in list(lines)[1:]}
    rows = [json.loads(line) for line in (SCIFACT / "queries.jsonl").open()]
    measured = [r["text"] for r in rows if r["_id"] in test_ids][:count]
    warmup = [r["text"] for r in rows if r["_id"] not in test_ids][:WARMUP]
    return warmup, measured


def in_child(function: Callable, *args) -> dict:
    """Run `function(*args)` in a fresh Python process and return its result."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


# Ours -----------------------------------------------------------------------------------


def bench_doc_id(doc: int) -> str:
    """The id of the bench's document number `doc`."""
    return hashlib.sha256(f"bench-{doc}".encode()).hexdigest()[:16]


def chunk_rows(n: int) -> dict[str, int]:
    """Chunk id to row of the cached vectors (document d holds rows d*DOC_CHUNKS onward)."""
    return {
        chunk_id_for(bench_doc_id(row // DOC_CHUNKS), row % DOC_CHUNKS): row for row in range(n)
    }


def build_library(data_dir: Path, n: int) -> dict:
    """Write the first `n` chunks into a new Library as documents of DOC_CHUNKS chunks."""
    from rag.engine import open_engine

    rows = load_chunks(n)
    vectors, _ = load_vectors(n, print)
    settings = settings_for(data_dir)
    library = open_engine(settings, make_embedder(settings)).library
    tokens = library.tokenizer.count_tokens([row["text"] for row in rows])
    started = time.perf_counter()
    for doc, start in enumerate(range(0, n, DOC_CHUNKS)):
        doc_id = bench_doc_id(doc)
        batch = [
            Chunk(
                chunk_id=chunk_id_for(doc_id, i),
                doc_id=doc_id,
                index=i,
                text=row["text"],
                source=row["source"],
                page_start=1,
                page_end=1,
                char_start=0,
                char_end=len(row["text"]),
                tokens=tokens[start + i],
            )
            for i, row in enumerate(rows[start : start + DOC_CHUNKS])
        ]
        record = DocumentRecord(
            doc_id=doc_id,
            name=f"bench-{doc:05d}.txt",
            sha256=hashlib.sha256(doc_id.encode()).hexdigest(),
            size_bytes=sum(len(c.text) for c in batch),
            pages=1,
            chunks=len(batch),
            added_at=0.0,
            status=DocumentStatus.PENDING,
        )
        library.begin(record, b"")
        library.write_chunks(batch, vectors[start : start + len(batch)])
        library.publish(record)
    stores = library.inspect_stores()
    return {
        "build_s": time.perf_counter() - started,
        "documents": len(library.documents()),
        "vectors": stores.chunks.count(),
        "lexical": stores.words.count(),
        "mean_tokens": float(np.mean(tokens)),
    }


def open_retriever(data_dir: Path):
    """The app's Retriever over the Library in `data_dir`, and that Library's embedder."""
    from rag.engine import open_engine

    settings = settings_for(data_dir)
    embedder = make_embedder(settings)
    return open_engine(settings, embedder).retriever, embedder


def ours_runners(library) -> dict[str, Callable[[str], object]]:
    """Search functions of our Retriever, k=10: each mode with the list of visible documents
    cached, and hybrid with that list read again from the catalog before each search.

    The Library keeps that list until its documents change (rag.stores.visibility): the
    re-read row is the first search after a document was added or deleted, or, with a
    Chroma server, after SERVER_CATALOG_TTL_S. Each function has a Retriever of its own:
    a Retriever keeps recent query vectors, and each mode must embed its query itself, as
    LangChain's retrievers do.
    """
    from rag.results import SearchOptions
    from rag.search.retriever import Retriever
    from rag.stores.visibility import collection_key, documents_changed

    key = collection_key(library.settings)

    def searcher(mode: str, reread: bool) -> Callable[[str], object]:
        retriever, options = Retriever(library), SearchOptions(mode=mode, k=K)

        def search(query: str) -> object:
            if reread:
                documents_changed(key)
            return retriever.search(query, options)

        return search

    cached = {f"ours {mode}": searcher(mode, False) for mode in ("hybrid", "vector", "bm25")}
    return cached | {"ours hybrid, catalog re-read": searcher("hybrid", True)}


def back_to_back(run: Callable[[str], object], warmup: list[str], queries: list[str]) -> dict:
    """p50/p95 of `run` over the queries one after another, alone, after the warm-ups."""
    for query in warmup:
        run(query)
    samples = []
    for query in queries:
        started = time.perf_counter()
        run(query)
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def hybrid_steps(retriever, queries: list[str]) -> dict[str, dict[str, float]]:
    """p50/p95 of each step a hybrid search times itself, queries back to back."""
    from rag.results import SearchOptions

    steps: dict[str, list[float]] = {}
    for query in queries:
        started = time.perf_counter()
        timings = retriever.search(query, SearchOptions(k=K)).timings.as_dict()
        # bm25 runs beside embed + vector; the rest is the list of visible documents,
        # filtering and handing BM25 to its thread and back.
        serial = sum(timings.get(name, 0) for name in ("embed_ms", "vector_ms", "fusion_ms"))
        timings["whole_ms"] = (time.perf_counter() - started) * 1000
        timings["rest_ms"] = timings["whole_ms"] - serial
        for name, ms in timings.items():
            steps.setdefault(name, []).append(ms)
    return {name: percentiles(values) for name, values in steps.items()}


def measure_ours(data_dir: Path, count: int) -> dict:
    """Alone in a fresh process: memory after serving hybrid searches, where a hybrid
    search spends its time, and each mode's latency with queries back to back."""
    warmup, queries = load_queries(count)
    before = rss_mb()["rss_mb"]
    retriever, _ = open_retriever(data_dir)
    runners = ours_runners(retriever.library)
    for query in warmup:
        runners["ours hybrid"](query)
    steps = hybrid_steps(retriever, queries)
    memory = rss_mb()
    alone = {name: back_to_back(run, warmup, queries) for name, run in runners.items()}
    return {"rss_start_mb": before, "steps": steps, "alone": alone} | memory


def measure_query_embedding(count: int) -> dict:
    """p50/p95 of embedding one query, back to back, with the model at int8 and at fp32."""
    warmup, queries = load_queries(count)
    result = {}
    for precision in ("int8", "fp32"):
        embedder = make_embedder(settings_for().with_overrides(embed_precision=precision))
        result[precision] = back_to_back(embedder.embed_query, warmup, queries)
    return result


# The LangChain baseline -----------------------------------------------------------------


class CachedEmbeddings(Embeddings):
    """A LangChain Embeddings over the app's model; document vectors come from the cache.

    Documents were embedded once by the same model, so add_texts looks their vectors up
    instead of spending minutes re-embedding; queries are embedded live, as in ours.
    """

    def __init__(self, texts: list[str], vectors: np.ndarray | None, embedder: Embedder) -> None:
        self._rows = {text: i for i, text in enumerate(texts)}
        self._vectors = vectors
        self._embedder = embedder

    def forget(self) -> None:
        """Drop the cached document vectors (after the store is built)."""
        self._rows, self._vectors = {}, None

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Cached vectors of known texts (the model for any other)."""
        return [
            self._vectors[self._rows[t]].tolist() if t in self._rows else self.embed_query(t)
            for t in texts
        ]

    def embed_query(self, text: str) -> list[float]:
        """The query's vector from the model."""
        return self._embedder.embed_query(text).tolist()


def langchain_classes() -> tuple[type, type, type]:
    """(EnsembleRetriever, BM25Retriever, Chroma) imported as a LangChain 1.x user does."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # langchain-community warns that it is being sunset
        from langchain_chroma import Chroma
        from langchain_classic.retrievers import EnsembleRetriever
        from langchain_community.retrievers import BM25Retriever
    return EnsembleRetriever, BM25Retriever, Chroma


def langchain_store(persist_dir: Path, embeddings: Embeddings):
    """langchain_chroma.Chroma on a folder, with Chroma's defaults as LangChain sets them."""
    import chromadb

    _, _, chroma_class = langchain_classes()
    return chroma_class(
        collection_name=LANGCHAIN_COLLECTION,
        embedding_function=embeddings,
        client_settings=chromadb.Settings(anonymized_telemetry=False),
        persist_directory=str(persist_dir),
    )


def langchain_runners(texts: list[str], store) -> dict[str, Callable[[str], object]]:
    """BM25Retriever over `texts`, the store's retriever and the EnsembleRetriever of both."""
    ensemble_class, bm25_class, _ = langchain_classes()
    bm25 = bm25_class.from_texts(texts, ids=[str(i) for i in range(len(texts))], k=K)
    vector = store.as_retriever(search_kwargs={"k": K})
    ensemble = ensemble_class(retrievers=[bm25, vector], weights=[0.5, 0.5])
    return {
        "LangChain hybrid": ensemble.invoke,
        "LangChain vector": vector.invoke,
        "LangChain bm25": bm25.invoke,
    }


def measure_baseline(persist_dir: Path, n: int, count: int) -> dict:
    """Build the LangChain baseline over the first `n` chunks; alone, its memory after
    serving hybrid searches and each mode's latency with queries back to back."""
    warmup, queries = load_queries(count)
    texts = [row["text"] for row in load_chunks(n)]
    vectors, _ = load_vectors(n, print)
    embeddings = CachedEmbeddings(texts, vectors, make_embedder(settings_for()))
    store = langchain_store(persist_dir, embeddings)
    started = time.perf_counter()
    for start in range(0, n, 5000):  # add_texts does not split batches over Chroma's maximum
        ids = [str(i) for i in range(start, min(n, start + 5000))]
        store.add_texts(texts[start : start + 5000], ids=ids)
    result: dict = {"chroma_build_s": time.perf_counter() - started}
    embeddings.forget()
    del vectors
    result["rss_start_mb"] = rss_mb()["rss_mb"]
    started = time.perf_counter()
    runners = langchain_runners(texts, store)
    result["bm25_build_s"] = time.perf_counter() - started
    result["bm25_added_mb"] = rss_mb()["rss_mb"] - result["rss_start_mb"]
    alone = {"LangChain hybrid": back_to_back(runners["LangChain hybrid"], warmup, queries)}
    result |= rss_mb()
    for name in ("LangChain vector", "LangChain bm25"):
        alone[name] = back_to_back(runners[name], warmup, queries)
    return result | {"alone": alone}


def serve(connection, side: str, data_dir: Path, n: int, count: int) -> None:
    """Answer ("name", query) requests with the milliseconds that search took, until None.

    One side per process: ours over the Library in `data_dir`, or the LangChain baseline
    over the store in `data_dir` and the first `n` chunks. Warms every runner up first.
    """
    warmup, _ = load_queries(count)
    if side == "ours":
        runners = ours_runners(open_retriever(data_dir)[0].library)
    else:
        texts = [row["text"] for row in load_chunks(n)]
        embeddings = CachedEmbeddings([], None, make_embedder(settings_for()))
        runners = langchain_runners(texts, langchain_store(data_dir, embeddings))
    for run in runners.values():
        for query in warmup:
            run(query)
    connection.send(list(runners))
    while (request := connection.recv()) is not None:
        name, query = request
        started = time.perf_counter()
        runners[name](query)
        connection.send((time.perf_counter() - started) * 1000)


def measure_latency(ours_dir: Path, langchain_dir: Path | None, n: int, count: int) -> dict:
    """p50/p95 of every retriever and mode, interleaved query by query so all share the load.

    Each side serves from its own process (so neither pays for the other's memory or
    garbage collection); each query goes to every retriever and mode in an order rotated
    from query to query, and each process times its own search (query embedding included).
    """
    _, queries = load_queries(count)
    context = multiprocessing.get_context("spawn")
    sides = {"ours": ours_dir} | ({"LangChain": langchain_dir} if langchain_dir else {})
    servers, route = [], {}
    for side, data_dir in sides.items():
        mine, theirs = context.Pipe()
        process = context.Process(target=serve, args=(theirs, side, data_dir, n, count))
        process.start()
        servers.append((process, mine))
    for _, connection in servers:
        route |= dict.fromkeys(connection.recv(), connection)
    names = list(route)
    samples: dict[str, list[float]] = {name: [] for name in names}
    load_before = os.getloadavg()[0]
    for i, query in enumerate(queries):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            route[name].send((name, query))
            samples[name].append(route[name].recv())
    load_after = os.getloadavg()[0]
    for process, connection in servers:
        connection.send(None)
        process.join()
    stats = {name: percentiles(values) for name, values in samples.items()}
    return stats | {"load": [load_before, load_after]}


# Recall ---------------------------------------------------------------------------------


def collection_recall(collection, queries: np.ndarray, exact: list[set[int]], to_row) -> dict:
    """recall@10 of a Chroma collection against exact top-10 row sets, and its query p95."""
    hits, times = 0, []
    for query, truth in zip(queries, exact, strict=True):
        started = time.perf_counter()
        found = collection.query(query_embeddings=[query], n_results=K, include=[])
        times.append((time.perf_counter() - started) * 1000)
        hits += len({to_row(i) for i in found["ids"][0]} & truth)
    return {"recall": hits / (K * len(exact))} | percentiles(times)


def measure_recall(chroma_dir: Path, collection_name: str, n: int, count: int) -> dict:
    """Vector recall@10 of one stored Chroma collection against exact cosine search."""
    import chromadb

    _, questions = load_queries(count)
    vectors, _ = load_vectors(n, print)
    embedder = make_embedder(settings_for())
    queries = np.vstack([embedder.embed_query(q) for q in questions])
    exact = [set(row) for row in np.argsort(-(queries @ vectors.T), axis=1)[:, :K].tolist()]
    client = chromadb.PersistentClient(
        path=str(chroma_dir), settings=chromadb.Settings(anonymized_telemetry=False)
    )
    collection = client.get_collection(collection_name)
    row_of = chunk_rows(n).__getitem__ if collection_name == COLLECTION else int
    hnsw = collection.configuration_json.get("hnsw") or {}
    settings = {key: hnsw.get(key) for key in ("space", "max_neighbors", "ef_search")}
    return collection_recall(collection, queries, exact, row_of) | settings


def set_ef_search(chroma_dir: Path, ef_search: int) -> dict:
    """Change ef_search of the bench collection (takes effect when it is next opened)."""
    import chromadb

    client = chromadb.PersistentClient(
        path=str(chroma_dir), settings=chromadb.Settings(anonymized_telemetry=False)
    )
    client.get_collection(COLLECTION).modify(configuration={"hnsw": {"ef_search": ef_search}})
    return {"ef_search": ef_search}


# Running and reporting ------------------------------------------------------------------


def log(message: str) -> None:
    """Progress on stderr, with the time."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_size(n: int, count: int) -> dict:
    """Every measurement at one size, each in a fresh process, in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        ours_dir, langchain_dir = Path(tmp) / "ours", Path(tmp) / "langchain"
        log(f"{n}: building the Library")
        result = {"n": n, "build": in_child(build_library, ours_dir, n)}
        log(f"{n}: building the LangChain baseline")
        result["baseline"] = in_child(measure_baseline, langchain_dir, n, count)
        log(f"{n}: each side alone: memory, steps, latency back to back")
        result["ours"] = in_child(measure_ours, ours_dir, count)
        log(f"{n}: latency, interleaved")
        result["latency"] = in_child(measure_latency, ours_dir, langchain_dir, n, count)
        log(f"{n}: vector recall")
        chroma_dir = ours_dir / "chroma"
        result["recall"] = [
            in_child(measure_recall, chroma_dir, COLLECTION, n, count) | {"who": "ours"},
            in_child(measure_recall, langchain_dir, LANGCHAIN_COLLECTION, n, count)
            | {"who": "LangChain default"},
        ]
        if result["recall"][0]["recall"] < RECALL_TARGET:
            for ef_search in HIGHER_EF:
                log(f"{n}: ef_search {ef_search}")
                in_child(set_ef_search, chroma_dir, ef_search)
                recall = in_child(measure_recall, chroma_dir, COLLECTION, n, count)
                latency = in_child(measure_latency, ours_dir, None, n, count)
                result["recall"].append(
                    recall | {"who": "ours, ef_search raised", "hybrid": latency["ours hybrid"]}
                )
    return result


def _ms(stats: dict) -> str:
    return f"{stats['p50']:.1f} | {stats['p95']:.1f}"


LATENCY_ROWS = (
    ("ours hybrid", "ours (Retriever)", "hybrid"),
    ("ours vector", "ours (Retriever)", "vector"),
    ("ours bm25", "ours (Retriever)", "bm25"),
    ("ours hybrid, catalog re-read", "ours, catalog re-read", "hybrid"),
    ("LangChain hybrid", "LangChain", "hybrid (EnsembleRetriever)"),
    ("LangChain vector", "LangChain", "vector (Chroma)"),
    ("LangChain bm25", "LangChain", "bm25 (BM25Retriever)"),
)


def latency_table(results: list[dict]) -> list[str]:
    """Markdown rows: p50/p95 per size, retriever and mode, alone and interleaved."""
    lines = [
        "| chunks | retriever | mode | alone p50 ms | alone p95 ms | interleaved p50 ms"
        " | interleaved p95 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        alone = r["ours"]["alone"] | r["baseline"]["alone"]
        for name, label, mode in LATENCY_ROWS:
            if name in r["latency"]:
                lines.append(
                    f"| {r['n']:,} | {label} | {mode} | {_ms(alone[name])}"
                    f" | {_ms(r['latency'][name])} |"
                )
    return lines


def ratio_table(results: list[dict]) -> list[str]:
    """Markdown rows: our hybrid search against the baseline's, and the targets."""
    lines = [
        "| chunks | run | ours | hybrid p50 ours / LangChain ms | speed-up p50 | hybrid p95"
        " ours / LangChain ms | speed-up p95 | p95 < 25 ms | speed-up p95 >= 10x |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        runs = {
            "alone, back to back": r["ours"]["alone"] | r["baseline"]["alone"],
            "interleaved": r["latency"],
        }
        for run, stats in runs.items():
            base = stats["LangChain hybrid"]
            for name, label in (
                ("ours hybrid", "catalog cached"),
                ("ours hybrid, catalog re-read", "catalog re-read"),
            ):
                ours = stats[name]
                up50, up95 = base["p50"] / ours["p50"], base["p95"] / ours["p95"]
                fast, ahead = ("yes" if ok else "no" for ok in (ours["p95"] < 25, up95 >= 10))
                lines.append(
                    f"| {r['n']:,} | {run} | {label} | {ours['p50']:.1f} / {base['p50']:.1f}"
                    f" | {up50:.1f}x | {ours['p95']:.1f} / {base['p95']:.1f} | {up95:.1f}x"
                    f" | {fast} | {ahead} |"
                )
    return lines


def memory_table(results: list[dict]) -> list[str]:
    """Markdown rows: memory and build times of both processes."""
    lines = [
        "| chunks | ours RSS / peak MB | LangChain RSS / peak MB | BM25Retriever adds MB"
        " | ours build s | LangChain build s (BM25 + Chroma) |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        ours, base = r["ours"], r["baseline"]
        lines.append(
            f"| {r['n']:,} | {ours['rss_mb']:.0f} / {ours['peak_mb']:.0f}"
            f" | {base['rss_mb']:.0f} / {base['peak_mb']:.0f} | {base['bm25_added_mb']:.0f}"
            f" | {r['build']['build_s']:.0f}"
            f" | {base['bm25_build_s']:.0f} + {base['chroma_build_s']:.0f} |"
        )
    return lines


def steps_table(results: list[dict]) -> list[str]:
    """Markdown rows: p50 / p95 of each step our hybrid search times itself."""
    order = ["embed_ms", "vector_ms", "bm25_ms", "fusion_ms", "rest_ms", "whole_ms"]
    # total_ms, the search's own wall time, is whole_ms less the call: left out.
    found = {name for r in results for name in r["ours"]["steps"]} - {"total_ms"}
    names = [n for n in order if n in found] + sorted(found - set(order))
    lines = [
        "| chunks | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for r in results:
        steps = r["ours"]["steps"]
        cells = " | ".join(
            f"{steps[name]['p50']:.1f} / {steps[name]['p95']:.1f}" if name in steps else "-"
            for name in names
        )
        lines.append(f"| {r['n']:,} | {cells} |")
    return lines


def embedding_table(embedding: dict) -> list[str]:
    """Markdown rows: one query's embedding at each precision."""
    lines = ["| precision | p50 ms | p95 ms |", "|---|---|---|"]
    lines += [f"| {precision} | {_ms(stats)} |" for precision, stats in embedding.items()]
    return lines


def recall_table(results: list[dict]) -> list[str]:
    """Markdown rows: vector recall@10 of each collection against exact search."""
    lines = [
        "| chunks | collection | space | max_neighbors | ef_search | recall@10"
        " | Chroma query p50 / p95 ms | hybrid p95 ms (interleaved) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for row in r["recall"]:
            ours = r["latency"]["ours hybrid"] if row["who"] == "ours" else None
            hybrid = row.get("hybrid", ours)
            hybrid_p95 = f"{hybrid['p95']:.1f}" if hybrid else "-"
            lines.append(
                f"| {r['n']:,} | {row['who']} | {row['space']} | {row['max_neighbors']}"
                f" | {row['ef_search']} | {row['recall']:.4f} | {row['p50']:.1f} /"
                f" {row['p95']:.1f} | {hybrid_p95} |"
            )
    return lines


def report_head(saved: dict) -> list[str]:
    """The report's title and what was measured, how."""
    results, count, embed_s = saved["results"], saved["queries"], saved["embed_s"]
    largest = max(r["n"] for r in results)
    tokens = ", ".join(f"{r['n']:,}: {r['build']['mean_tokens']:.1f}" for r in results)
    docs = ", ".join(f"{r['build']['documents']:,} at {r['n']:,} chunks" for r in results)
    loads = " / ".join(f"{x:.1f}" for x in saved["loads"])
    return [
        "# Retrieval latency, memory and recall: ours against a LangChain hybrid retriever",
        "",
        f"Machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} cores"
        f" (nproc), Python {platform.python_version()}; {time.strftime('%Y-%m-%d')}."
        f" Load average (1 min) at start, between sizes and at the end: {loads} (the run"
        " shared the cores with other work).",
        "",
        "Chunks: every sentence and every pair of consecutive sentences of the 5,183 SciFact"
        " abstracts (title + text) and of the three PDFs in shared/data/pdfs/long (pypdf text),"
        f" sentences over {MAX_WORDS} words cut into {MAX_WORDS}-word pieces, under"
        f" {MIN_WORDS} words dropped, exact duplicates dropped, shuffled (seed {SEED}); each"
        f" size is the first N. Mean length in word pieces ([CLS]/[SEP] included): {tokens}."
        f" Embedding {largest:,} chunks with {saved['model']} (fastembed, ONNX):"
        f" {embed_s:.0f} s ({largest / embed_s:.0f} chunks/s), done once and cached.",
        "",
        f"Queries: {count} SciFact test claims, after {WARMUP} warm-up queries; k={K}."
        " Wall time per call, query embedding included. Ours: the app's Retriever over a"
        f" Library (Chroma PersistentClient + tantivy) of documents of {DOC_CHUNKS} chunks."
        " LangChain: EnsembleRetriever (langchain_classic) of BM25Retriever"
        " (langchain_community, rank_bm25, default whitespace split) and"
        " langchain_chroma.Chroma(...).as_retriever (Chroma's defaults), same model, weights"
        " 0.5/0.5. Alone: each side in a fresh process of its own, each mode's queries one"
        " after another. Interleaved: each side serves from its own process; every"
        " retriever/mode pair takes each query in turn, in an order rotated from query to"
        " query, so all share the machine's load alike (and each waits while the others"
        " run). Memory: each side alone, RSS after serving every query in hybrid mode."
        " Each of our rows searches with a Retriever of its own, so every search embeds its"
        " query (a Retriever keeps its recent query vectors).",
        "",
        "The Library keeps its list of visible documents until its documents change"
        " (rag.stores.visibility; with a Chroma server, 1 s at most). 'catalog re-read' rows"
        " read that list from the catalog before every search: the first search after a"
        f" document was added or deleted. Documents: {docs}.",
        "",
    ]


def report(saved: dict) -> str:
    """The whole Markdown report."""
    results = saved["results"]
    sections = [
        ["## Latency, alone (back to back) and interleaved", ""],
        latency_table(results),
        ["", "## Hybrid: ours against LangChain", ""],
        ratio_table(results),
        ["", "## Where our hybrid search spends its time (p50 / p95 ms; alone)", ""],
        steps_table(results),
        ["", "## One query's embedding by model precision (alone, back to back)", ""],
        embedding_table(saved["query_embedding"]),
        ["", "## Memory and build time", ""],
        memory_table(results),
        ["", "## Vector recall@10 against exact cosine search (NumPy)", ""],
        recall_table(results),
    ]
    lines = report_head(saved) + [line for section in sections for line in section]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "retrieval_latency.md"
    )
    args = parser.parse_args()
    if max(args.sizes) > MAX_CHUNKS:
        parser.error(f"at most {MAX_CHUNKS} chunks")
    loads = [os.getloadavg()[0]]
    _, embed_s = load_vectors(max(args.sizes), log)
    settings = settings_for()
    saved = {"queries": args.queries, "embed_s": embed_s, "loads": loads, "results": []}
    saved["model"] = f"{settings.embed_model} ({settings.embed_precision})"
    log("one query's embedding at int8 and fp32")
    saved["query_embedding"] = in_child(measure_query_embedding, args.queries)
    for n in sorted(args.sizes):
        saved["results"].append(run_size(n, args.queries))
        loads.append(os.getloadavg()[0])
    (CACHE / "results.json").write_text(json.dumps(saved, indent=1))
    text = report(saved)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
