"""Command line: `python -m rag.search "QUERY" [--mode vector|bm25|hybrid] [-k N] [--json]`
[--rerank/--no-rerank] [--rerank-candidates N] [--kb NAME]. With --kb, the knowledge base's
search defaults apply where no flag says otherwise."""

from __future__ import annotations

import argparse
import sys
import textwrap

from rag.commands.common import (
    EXIT_OK,
    add_search_arguments,
    add_store_arguments,
    check_search_arguments,
    print_json,
    run,
    search_options_from,
    target_from,
)
from rag.engine import open_engine
from rag.results import (
    NOT_RERANKED,
    NOT_RETURNED,
    ScoredChunk,
    SearchResult,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m rag.search`."""
    parser = argparse.ArgumentParser(prog="python -m rag.search", description=__doc__)
    parser.add_argument("query")
    add_search_arguments(parser)
    add_store_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    check_search_arguments(parser, args)
    return run(lambda: _search(args))


def _search(args: argparse.Namespace) -> int:
    target = target_from(args)
    options = search_options_from(args, target.settings, target.kb)
    with open_engine(target.settings) as engine:
        result = engine.retriever.search(args.query, options)
    if args.json:
        print_json(result.as_dict())
    else:
        _print(result)
    return EXIT_OK


def _print(result: SearchResult) -> None:
    if result.notice:
        print(f"notice: {result.notice}", file=sys.stderr)
    if not result.chunks:
        print(f"nothing found for {result.query!r} ({result.mode.value})", file=sys.stderr)
    reranked = any(chunk.rerank for chunk in result.chunks)
    for chunk in result.chunks:
        print(f"#{chunk.rank}  {chunk.source}  {chunk.pages}  [{chunk.chunk_id}]")
        print(f"    {_score_line(chunk, reranked)}")
        print(textwrap.indent(textwrap.shorten(chunk.text, 300), "    "))
        print()


def _score_line(chunk: ScoredChunk, reranked: bool) -> str:
    """Every score with its rank and kind; the rerank score only when the search reranked."""
    parts = []
    for name, score in chunk.scores().items():
        if name == "rerank" and not reranked:
            continue
        missing = NOT_RERANKED if name == "rerank" else NOT_RETURNED
        shown = (
            f"{score.value:.4f} (rank {score.rank}; {score.kind.describe()})" if score else missing
        )
        parts.append(f"{name}: {shown}")
    return " | ".join(parts)
