"""Knowledge bases from the command line: `python -m ingest kb list|create|rename|delete|
settings`.

`create` takes the settings that shape the index (model, precision, distance, chunking,
OCR), fixed from then on; `settings` shows a knowledge base's search defaults and changes
them (mode, fusion, weights, -k, reranking, chat model, answer language).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from rag.commands.common import EXIT_OK, print_json, settings_from
from rag.config import DISTANCE_NAMES, EMBED_PRECISIONS, Settings
from rag.errors import StoreError
from rag.kb import REGISTRY_FILE, IndexSettings, KnowledgeBase, KnowledgeBases
from rag.results import Fusion, SearchMode
from rag.stores.collections import list_collections

# Words that put a setting back to its default: the configured chat model, and the
# language of each question.
RESET_WORDS = {"chat_model": "default", "answer_language": "auto"}


def add_kb_parser(commands: argparse._SubParsersAction) -> None:
    """`kb` and its subcommands, under `python -m ingest`."""
    kb = commands.add_parser("kb", help="list, create, rename or delete knowledge bases")
    actions = kb.add_subparsers(dest="kb_command", required=True)
    listing = actions.add_parser("list", help="the knowledge bases, with their settings")
    create = actions.add_parser("create", help="a new, empty knowledge base")
    create.add_argument("name")
    _add_index_arguments(create)
    rename = actions.add_parser("rename", help="give a knowledge base another name")
    rename.add_argument("name")
    rename.add_argument("new_name")
    delete = actions.add_parser(
        "delete", help="delete a knowledge base with all its documents and files"
    )
    delete.add_argument("name")
    settings = actions.add_parser(
        "settings", help="show a knowledge base's settings, or change its search defaults"
    )
    settings.add_argument("name")
    _add_search_default_arguments(settings)
    for sub in (listing, create, rename, delete, settings):
        sub.add_argument("--data-dir", type=Path, help="data folder (default: RAG_DATA_DIR)")
        sub.add_argument("--json", action="store_true", help="print one JSON object")


def _add_index_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--embed-model", help="embedding model (default: RAG_EMBED_MODEL)")
    parser.add_argument("--precision", choices=EMBED_PRECISIONS, help="local model's weights")
    parser.add_argument("--distance", choices=DISTANCE_NAMES, help="how closeness is measured")
    parser.add_argument("--chunk-tokens", type=int, help="chunk size in the model's tokens")
    parser.add_argument("--chunk-overlap", type=int, help="tokens shared by neighbours")
    parser.add_argument(
        "--no-ocr", dest="ocr", action="store_false", default=None, help="skip scanned pages"
    )


def _add_search_default_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", choices=[m.value for m in SearchMode])
    parser.add_argument("--fusion", choices=[f.value for f in Fusion])
    parser.add_argument("-k", type=int, help="how many chunks a search returns")
    parser.add_argument("--vector-weight", type=float, help="weight of vector search in fusion")
    parser.add_argument("--bm25-weight", type=float, help="weight of BM25 in fusion")
    parser.add_argument("--rerank", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument(
        "--chat-model", help="chat model for answers ('default': the configured one)"
    )
    parser.add_argument(
        "--language",
        dest="answer_language",
        help="language of answers ('auto': the question's)",
    )


def run_kb(args: argparse.Namespace) -> int:
    """Run one `kb` subcommand; returns the exit code."""
    settings = settings_from(args)
    with KnowledgeBases.open(settings) as registry:
        if args.kb_command == "list":
            return _list(registry, args.json)
        if args.kb_command == "create":
            kb = registry.create(args.name, _index_settings(args, settings))
            return _say(args.json, {"created": kb.as_dict()}, f"created {_described(kb)}")
        if args.kb_command == "rename":
            kb = registry.rename(args.name, args.new_name)
            moved = {"from": args.name, "to": kb.name, "collection": kb.collection}
            return _say(args.json, {"renamed": moved}, f"renamed {args.name!r} to {kb.name!r}")
        if args.kb_command == "delete":
            kb = registry.delete(args.name)
            gone = f"deleted knowledge base {kb.name!r} with its documents ({kb.collection})"
            return _say(args.json, {"deleted": kb.as_dict()}, gone)
        return _settings(registry, args)


def collection_named(settings: Settings, name: str) -> str:
    """The collection of the knowledge base called `name`, or `name` itself when no
    knowledge base has that name (it is then a collection's name)."""
    if not (settings.data_dir / REGISTRY_FILE).is_file():
        return name
    # Read only: opening the list would register the settings' collection as a default.
    with KnowledgeBases(settings) as registry:
        kb = registry.find(name)
    return kb.collection if kb is not None else name


def _index_settings(args: argparse.Namespace, settings: Settings) -> IndexSettings:
    chosen = {
        "embed_model": args.embed_model,
        "embed_precision": args.precision,
        "distance": args.distance,
        "chunk_tokens": args.chunk_tokens,
        "chunk_overlap": args.chunk_overlap,
        "ocr": args.ocr,
    }
    base = IndexSettings.from_settings(settings)
    if args.embed_model is not None and args.embed_model != settings.embed_model:
        # The prefixes set for the configured model are not another model's.
        base = replace(base, query_prefix=None, passage_prefix=None, embed_dimensions=None)
    return replace(base, **{k: v for k, v in chosen.items() if v is not None})


def _settings(registry: KnowledgeBases, args: argparse.Namespace) -> int:
    names = ("mode", "fusion", "k", "vector_weight", "bm25_weight", "rerank", "chat_model")
    changes = {name: getattr(args, name) for name in (*names, "answer_language")}
    changes = {name: value for name, value in changes.items() if value is not None}
    for name, word in RESET_WORDS.items():
        if str(changes.get(name, "")).lower() == word:
            changes[name] = None
    kb = registry.update(args.name, **changes) if changes else registry.get(args.name)
    if args.json:
        print_json({**kb.as_dict(), "default": registry.is_default(kb)})
        return EXIT_OK
    print(_described(kb))
    for name, value in vars(kb.search).items():
        shown = value if value is not None else RESET_WORDS.get(name, "none")
        print(f"  {name}: {shown}")
    return EXIT_OK


def _list(registry: KnowledgeBases, as_json: bool) -> int:
    counts = _document_counts(registry.settings)
    bases = registry.list()
    rows = [
        {
            **kb.as_dict(),
            "default": registry.is_default(kb),
            # None where the store could not be read; a collection not yet made holds none.
            "documents": None if counts is None else counts.get(kb.collection, 0),
        }
        for kb in bases
    ]
    if as_json:
        print_json({"knowledge_bases": rows})
        return EXIT_OK
    for kb, row in zip(bases, rows, strict=True):
        mark = "*" if row["default"] else " "
        documents = "?" if row["documents"] is None else row["documents"]
        print(f"{mark} {_described(kb)}, {documents} document(s)")
    print("* the default knowledge base", file=sys.stderr)
    return EXIT_OK


def _document_counts(settings: Settings) -> dict[str, int] | None:
    try:
        return {info.name: info.documents for info in list_collections(settings)}
    except StoreError:
        return None


def _described(kb: KnowledgeBase) -> str:
    made = datetime.fromtimestamp(kb.created_at).strftime("%Y-%m-%d %H:%M")
    return f"{kb.name!r} ({kb.collection}, made {made}): {kb.index.describe()}"


def _say(as_json: bool, data: dict, text: str) -> int:
    if as_json:
        print_json(data)
    else:
        print(text)
    return EXIT_OK
