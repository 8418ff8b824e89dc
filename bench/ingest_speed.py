"""Ingestion of a long book: our pipeline against embedding alone and the LangChain way.

Usage: python bench/ingest_speed.py [--pdf PATH] [--rounds N]

Three measurements of the same book in the same run, repeated and interleaved:
- ours: `Ingestor.ingest_path` into a fresh library (parse in a child process, clean,
  chunk, embed, write to Chroma and tantivy, publish);
- embed only: the time to embed the very chunks our pipeline made, nothing else;
- LangChain: pypdf pages, `RecursiveCharacterTextSplitter` (1,000 characters, 200 overlap,
  the splitter's documented example), `Chroma.from_documents`, with the same embedding model.
Needs `pip install -r bench/requirements.txt` for langchain-chroma.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter
from pypdf import PdfReader

from ingest.pipeline import Ingestor
from rag.config import load_settings
from rag.engine import open_engine
from rag.providers.embeddings import Embedder, make_embedder

BOOK = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "pdfs"
    / "long"
    / "pdfjs_freeculture_lessig.pdf"
)


class SameEmbeddings(Embeddings):
    """Our embedding model behind LangChain's interface, so both sides embed alike."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Vectors for the texts."""
        return self._embedder.embed_documents(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """The vector of one query."""
        return self._embedder.embed_query(text).tolist()


def ours(pdf: Path, embedder: Embedder) -> tuple[float, list[str]]:
    """Seconds to ingest the book into a fresh library, and the chunk texts it made."""
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(env_file=None).with_overrides(data_dir=Path(folder))
        library = open_engine(settings, embedder).library
        started = time.perf_counter()
        outcome = Ingestor(library).ingest_path(pdf)
        seconds = time.perf_counter() - started
        assert outcome.ok, outcome.reason
        texts = [c.text for c in library.chunks_of(outcome.doc_id)]
    return seconds, texts


def embed_only(texts: list[str], embedder: Embedder) -> float:
    """Seconds to embed the texts, in the pipeline's batch size."""
    started = time.perf_counter()
    embedder.embed_documents(texts)
    return time.perf_counter() - started


def langchain_way(pdf: Path, embedder: Embedder) -> tuple[float, int]:
    """Seconds for pypdf pages -> RecursiveCharacterTextSplitter -> Chroma.from_documents."""
    from langchain_chroma import Chroma

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        pages = [
            Document(page.extract_text() or "", metadata={"page": number})
            for number, page in enumerate(PdfReader(pdf).pages, start=1)
        ]
        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        chunks = splitter.split_documents(pages)
        Chroma.from_documents(chunks, SameEmbeddings(embedder), persist_directory=folder)
        return time.perf_counter() - started, len(chunks)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pdf", type=Path, default=BOOK)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    embedder = make_embedder(load_settings(env_file=None))
    embedder.embed_documents(["warm-up"])
    pages = len(PdfReader(args.pdf).pages)
    times: dict[str, list[float]] = {"ours": [], "embed only": [], "langchain": []}
    for _ in range(args.rounds):
        seconds, texts = ours(args.pdf, embedder)
        times["ours"].append(seconds)
        times["embed only"].append(embed_only(texts, embedder))
        seconds, langchain_chunks = langchain_way(args.pdf, embedder)
        times["langchain"].append(seconds)
    best = {name: min(values) for name, values in times.items()}
    print(f"{args.pdf.name}: {pages} pages; ours {len(texts)} chunks,")
    print(f"LangChain {langchain_chunks} chunks; best of {args.rounds} interleaved rounds")
    print(f"{platform.machine()}, {platform.python_version()}, {time.strftime('%Y-%m-%d')}\n")
    print("| pipeline | seconds (best) | seconds (median) | chunks/s | vs embed only |")
    print("|---|---|---|---|---|")
    counts = {"ours": len(texts), "embed only": len(texts), "langchain": langchain_chunks}
    for name, values in times.items():
        print(
            f"| {name} | {best[name]:.1f} | {statistics.median(values):.1f} |"
            f" {counts[name] / best[name]:.1f} | {best[name] / best['embed only']:.2f}x |"
        )
    print(f"\nours / LangChain: {best['ours'] / best['langchain']:.2f}x the time")


if __name__ == "__main__":
    main()
