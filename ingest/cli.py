"""Command line: `python -m ingest add|queue|cancel|work|beir|list|delete|reindex|kb`.

Each command works on the default knowledge base, or on another with `--kb NAME`;
`ingest kb` lists, creates, renames and deletes knowledge bases (see ingest/cli_kb.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path

from tqdm import tqdm

from ingest import cli_kb, cli_queue
from ingest.beir import read_beir_corpus
from ingest.files import IngestOutcome, Progress, Step, found_in, progress_text
from ingest.pipeline import Ingestor
from rag.commands.common import (
    EXIT_FAILED,
    EXIT_OK,
    add_store_arguments,
    print_json,
    run,
    settings_from,
)
from rag.engine import open_engine
from rag.stores.collections import original_path, read_catalog


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m ingest`."""
    parser = argparse.ArgumentParser(prog="python -m ingest", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="queue files and ingest them; folders are walked")
    add.add_argument("paths", nargs="+", type=Path)
    add.add_argument("--password", help="password for protected PDFs")
    queue = commands.add_parser("queue", help="show the ingestion queue")
    queue.add_argument("--finished", type=int, default=20, help="finished jobs shown (20)")
    cancel = commands.add_parser("cancel", help="cancel a queued or running file")
    cancel.add_argument("job", nargs="?", type=int, help="job id, from `ingest queue`")
    cancel.add_argument("--all", action="store_true", help="cancel every unfinished job")
    work = commands.add_parser("work", help="ingest what is queued (after a crash, say)")
    beir = commands.add_parser("beir", help="ingest the corpus of a BEIR folder (corpus.jsonl)")
    beir.add_argument("folder", type=Path)
    listing = commands.add_parser("list", help="list the documents")
    delete = commands.add_parser("delete", help="delete a document by id or file name")
    delete.add_argument("document")
    reindex = commands.add_parser(
        "reindex",
        help="re-ingest the documents of another collection or knowledge base with the"
        " current embedder (or the --kb knowledge base's settings)",
    )
    reindex.add_argument("source_collection")
    for sub in (add, queue, cancel, work, beir, listing, delete, reindex):
        add_store_arguments(sub)
    cli_kb.add_kb_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    handlers = {
        "add": lambda args: cli_queue.add(args, _report),
        "queue": cli_queue.show_queue,
        "cancel": cli_queue.cancel,
        "work": cli_queue.work,
        "beir": _beir,
        "list": _list,
        "delete": _delete,
        "reindex": _reindex,
        "kb": cli_kb.run_kb,
    }
    return run(lambda: handlers[args.command](args))


def _beir(args: argparse.Namespace) -> int:
    # Many short texts: they share embedding batches, so one progress bar for the corpus.
    documents = list(read_beir_corpus(args.folder))
    ingestor = Ingestor(open_engine(settings_from(args)).library)
    outcomes = _with_progress(args.folder.name, partial(ingestor.ingest_texts, documents))
    _report(outcomes, args.json)
    return EXIT_OK if all(o.ok for o in outcomes) else EXIT_FAILED


def _with_progress(label: str, work: Callable[[Progress], IngestOutcome]) -> IngestOutcome:
    with tqdm(desc=label[:40], unit="chunk", file=sys.stderr, leave=False) as bar:

        def progress(done: int, total: int, step: Step) -> None:
            if step is not Step.EMBED:  # a page being read, not a count: show it in words
                bar.set_postfix_str(progress_text(done, total, step), refresh=True)
                return
            bar.total = total
            bar.update(done - bar.n)

        return work(progress)


def _report(outcomes: list[IngestOutcome], as_json: bool, extra: dict | None = None) -> None:
    if as_json:
        print_json({"files": [o.as_dict() for o in outcomes], **(extra or {})})
        return
    for o in outcomes:
        print(f"{o.status.value:9}  {o.path}  ({o.reason or found_in(o)})")


def _list(args: argparse.Namespace) -> int:
    documents = open_engine(settings_from(args)).library.documents()
    if args.json:
        print_json({"documents": [_document_dict(d) for d in documents]})
        return EXIT_OK
    for d in documents:
        added = datetime.fromtimestamp(d.added_at).strftime("%Y-%m-%d %H:%M")
        print(f"{d.doc_id}  {d.pages:5} p  {d.chunks:6} chunks  {added}  {d.name}")
    if not documents:
        print("no documents", file=sys.stderr)
    return EXIT_OK


def _document_dict(record) -> dict:
    data = record.metadata()
    data["pages_without_text"] = list(record.pages_without_text)
    return data


def _delete(args: argparse.Namespace) -> int:
    library = open_engine(settings_from(args)).library
    record = library.find(args.document)
    library.delete(record.doc_id)
    if args.json:
        print_json({"deleted": record.doc_id, "name": record.name})
    else:
        print(f"deleted {record.name} ({record.doc_id})")
    return EXIT_OK


def _reindex(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    source = cli_kb.collection_named(settings, args.source_collection)
    sources = read_catalog(settings, source)
    ingestor = Ingestor(open_engine(settings).library)
    outcomes = []
    for record in sources:
        data = original_path(settings.data_dir, source, record.doc_id).read_bytes()
        outcomes.append(
            _with_progress(record.name, partial(ingestor.ingest_bytes, record.name, data, None))
        )
    _report(outcomes, args.json)
    return EXIT_OK if all(o.ok for o in outcomes) else EXIT_FAILED
