"""Pieces shared by the command-line tools: store flags, settings, error handling."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from rag.config import Settings, load_settings
from rag.errors import RagError, SettingsError
from rag.kb import KnowledgeBase, KnowledgeBases, settings_for
from rag.results import Fusion, SearchMode, SearchOptions, VectorIndex

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True)
class Target:
    """What a command works on: the settings, and the knowledge base chosen with --kb
    (None without it), `created` when the command made it."""

    settings: Settings
    kb: KnowledgeBase | None = None
    created: bool = False


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """--data-dir, --collection or --kb, and --json, which every command takes."""
    parser.add_argument("--data-dir", type=Path, help="data folder (default: RAG_DATA_DIR)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--collection", help="collection name (default: RAG_COLLECTION)")
    where.add_argument(
        "--kb",
        metavar="NAME",
        help="knowledge base, by name (default: the default one, RAG_COLLECTION's)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def add_search_arguments(parser: argparse.ArgumentParser) -> None:
    """How to search: mode, -k, fusion, vector index, documents and the reranker.

    Mode, -k and fusion default to None ("not given"), so that a knowledge base's own
    defaults apply where the user chose nothing (see `search_options_from`).
    """
    parser.add_argument(
        "--mode",
        choices=[m.value for m in SearchMode],
        help="which retrievers run (default: hybrid, or the knowledge base's)",
    )
    parser.add_argument(
        "-k", type=int, help="how many chunks (default: 5, or the knowledge base's)"
    )
    parser.add_argument(
        "--fusion",
        choices=[f.value for f in Fusion],
        help="how hybrid mode merges the two lists (default: relative, or the knowledge base's)",
    )
    parser.add_argument(
        "--vector-index",
        choices=[i.value for i in VectorIndex],
        default=VectorIndex.HNSW.value,
        help="binary: sign bits in memory, candidates rescored (for large collections)",
    )
    parser.add_argument("--document", action="append", default=[], help="only this doc id")
    add_rerank_arguments(parser)


def check_search_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exit with a usage error (2) for -k or --rerank-candidates below 1."""
    if args.k is not None and args.k < 1:
        parser.error("-k must be at least 1")
    check_rerank_arguments(parser, args)


def search_options_from(
    args: argparse.Namespace, settings: Settings, kb: KnowledgeBase | None = None
) -> SearchOptions:
    """The search options the flags of `add_search_arguments` chose; where a flag was not
    given, the knowledge base's default (or, without one, the app's)."""
    defaults = kb.search.options() if kb is not None else SearchOptions()
    given = {"mode": args.mode, "k": args.k, "fusion": args.fusion}
    return replace(
        defaults,
        **{name: value for name, value in given.items() if value is not None},
        doc_ids=tuple(args.document),
        vector_index=args.vector_index,
        **rerank_choices(args, settings, kb),
    )


def add_rerank_arguments(parser: argparse.ArgumentParser) -> None:
    """--rerank/--no-rerank and --rerank-candidates, for commands that search."""
    parser.add_argument(
        "--rerank",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="score the first candidates again with the configured reranker and reorder"
        " them (default: on when RAG_RERANK_PROVIDER is set)",
    )
    parser.add_argument(
        "--rerank-candidates",
        type=int,
        metavar="N",
        help="how many chunks the reranker scores (default: RAG_RERANK_CANDIDATES, 30)",
    )


def check_rerank_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exit with a usage error (2) when --rerank-candidates is below 1."""
    if args.rerank_candidates is not None and args.rerank_candidates < 1:
        parser.error("--rerank-candidates must be at least 1")


def rerank_choices(
    args: argparse.Namespace, settings: Settings, kb: KnowledgeBase | None = None
) -> dict[str, object]:
    """The reranking fields of SearchOptions: the flags, else the knowledge base's default,
    else what the settings say."""
    default = kb.search.rerank if kb is not None else settings.rerank_provider is not None
    rerank = default if args.rerank is None else args.rerank
    candidates = args.rerank_candidates or settings.rerank_candidates
    return {"rerank": rerank, "rerank_candidates": candidates}


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with the command's flags on top (a knowledge base's
    own settings with --kb)."""
    return target_from(args).settings


def target_from(args: argparse.Namespace, create: bool = False) -> Target:
    """The settings and knowledge base the flags choose. An unknown --kb is a usage error
    (KnowledgeBaseNotFoundError, listing the knowledge bases), or with `create` a new
    knowledge base with the default settings."""
    settings = load_settings()
    overrides = {"data_dir": args.data_dir, "collection": getattr(args, "collection", None)}
    settings = settings.with_overrides(**{k: v for k, v in overrides.items() if v is not None})
    name = getattr(args, "kb", None)
    if name is None:
        return Target(settings)
    with KnowledgeBases.open(settings) as registry:
        kb = registry.find(name)
        created = kb is None and create
        kb = registry.create(name) if created else registry.get(name)
    return Target(settings_for(settings, kb), kb, created)


def print_json(data: object) -> None:
    """One JSON object on standard output."""
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def run(command: Callable[[], int]) -> int:
    """Run a command; our own errors become a one-line message and an exit code.

    A bad setting is a usage error (2, as argparse gives for bad arguments); any other of
    our errors is a failure (1): a missing document, a store that failed, a bad input file.
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return command()
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, SettingsError) else EXIT_FAILED
    except KeyboardInterrupt:
        return 130
