"""Command line: `python -m rag.search "QUERY" [--mode vector|bm25|hybrid] [-k N] [--json]`."""

from __future__ import annotations

import argparse
import sys
import textwrap

from rag.commands.common import EXIT_OK, add_store_arguments, print_json, run, settings_from
from rag.engine import open_engine
from rag.results import (
    NOT_RETURNED,
    Fusion,
    ScoredChunk,
    SearchMode,
    SearchOptions,
    SearchResult,
    VectorIndex,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m rag.search`."""
    parser = argparse.ArgumentParser(prog="python -m rag.search", description=__doc__)
    parser.add_argument("query")
    parser.add_argument("--mode", choices=[m.value for m in SearchMode], default="hybrid")
    parser.add_argument("-k", type=int, default=5, help="how many chunks (default 5)")
    parser.add_argument(
        "--fusion",
        choices=[f.value for f in Fusion],
        default=SearchOptions().fusion.value,
        help="how hybrid mode merges the two lists",
    )
    parser.add_argument(
        "--vector-index",
        choices=[i.value for i in VectorIndex],
        default=VectorIndex.HNSW.value,
        help="binary: sign bits in memory, candidates rescored (for large collections)",
    )
    parser.add_argument("--document", action="append", default=[], help="only this doc id")
    add_store_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.k < 1:
        build_parser().error("-k must be at least 1")
    return run(lambda: _search(args))


def _search(args: argparse.Namespace) -> int:
    engine = open_engine(settings_from(args))
    options = SearchOptions(
        mode=SearchMode(args.mode),
        k=args.k,
        fusion=args.fusion,
        doc_ids=tuple(args.document),
        vector_index=args.vector_index,
    )
    result = engine.retriever.search(args.query, options)
    if args.json:
        print_json(result.as_dict())
    else:
        _print(result)
    return EXIT_OK


def _print(result: SearchResult) -> None:
    if not result.chunks:
        print(f"nothing found for {result.query!r} ({result.mode.value})", file=sys.stderr)
    for chunk in result.chunks:
        print(f"#{chunk.rank}  {chunk.source}  {chunk.pages}  [{chunk.chunk_id}]")
        print(f"    {_score_line(chunk)}")
        print(textwrap.indent(textwrap.shorten(chunk.text, 300), "    "))
        print()


def _score_line(chunk: ScoredChunk) -> str:
    parts = []
    for name, score in chunk.scores().items():
        shown = (
            f"{score.value:.4f} (rank {score.rank}; {score.kind.describe()})"
            if score
            else NOT_RETURNED
        )
        parts.append(f"{name}: {shown}")
    return " | ".join(parts)
