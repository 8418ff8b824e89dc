"""Command line: measure retrieval quality on a BEIR data set or on questions over PDFs.

  python -m rag.eval beir DIR [--split test] [--qrels PATH] [--mode MODE|all] [--json]
  python -m rag.eval qa FILE.jsonl --docs DIR [--mode MODE|all] [--json]

Both take --rerank/--no-rerank and --rerank-candidates N (reranking is on by default when
RAG_RERANK_PROVIDER is set); the report's settings record which reranker ran.

Each first loads its documents into a collection of its own (beir-<folder>, qa-<folder>),
or with --kb NAME into that knowledge base (whose search defaults then apply), with
`python -m ingest` in a process of its own (evaluation only reads a collection; later runs
reuse it without embedding again), then searches once per mode.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from rag.commands.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_rerank_arguments,
    add_store_arguments,
    check_rerank_arguments,
    print_json,
    rerank_choices,
    run,
    target_from,
)
from rag.config import Settings
from rag.engine import open_engine
from rag.errors import EvalDataError, SettingsError
from rag.eval.runs import EvalReport, evaluate_beir, evaluate_qa, missing_sources
from rag.eval.sets import read_beir, read_qa
from rag.kb import KnowledgeBase
from rag.results import Fusion, SearchMode, SearchOptions

ALL_MODES = "all"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m rag.eval`."""
    parser = argparse.ArgumentParser(
        prog="python -m rag.eval",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    beir = commands.add_parser("beir", help="a BEIR folder: corpus.jsonl, queries.jsonl, qrels/")
    beir.add_argument("folder", type=Path)
    beir.add_argument("--split", default="test", help="qrels/<split>.tsv (default test)")
    beir.add_argument("--qrels", type=Path, help="any qrels file for this corpus")
    qa = commands.add_parser("qa", help="questions with evidence pages, over PDFs")
    qa.add_argument("questions", type=Path, help="JSON lines: question, answer, evidence")
    qa.add_argument("--docs", type=Path, required=True, help="folder of the documents")
    for sub in (beir, qa):
        sub.add_argument(
            "--mode", choices=[*(m.value for m in SearchMode), ALL_MODES], default=ALL_MODES
        )
        sub.add_argument(
            "--fusion",
            choices=[f.value for f in Fusion],
            help="how hybrid mode merges the two lists (default: relative, or the knowledge"
            " base's)",
        )
        add_rerank_arguments(sub)
        add_store_arguments(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    check_rerank_arguments(parser, args)
    return run(lambda: _beir(args) if args.command == "beir" else _qa(args))


def _beir(args: argparse.Namespace) -> int:
    data = read_beir(args.folder, args.split, args.qrels)
    _name_collection(args, f"beir-{data.name}")
    target = target_from(args)
    loaded = _load(args, "beir", str(args.folder))
    retriever = open_engine(target.settings).retriever
    options = _options(args, target.settings, target.kb)
    with _bar("searching", "query") as bar:
        report = evaluate_beir(retriever, data, _modes(args), options, _mode_updater(bar))
    return _finish(report, loaded, args.json)


def _qa(args: argparse.Namespace) -> int:
    items = read_qa(args.questions)
    if not args.docs.is_dir():
        print(f"error: no such folder: {args.docs}", file=sys.stderr)
        return EXIT_USAGE
    _name_collection(args, f"qa-{args.docs.resolve().name}")
    target = target_from(args)
    loaded = _load(args, "add", str(args.docs))
    retriever = open_engine(target.settings).retriever
    names = {d.name for d in retriever.library.documents()}
    for source in missing_sources(items, names):
        print(f"warning: no document named {source!r} in {args.docs}", file=sys.stderr)
    with _bar("searching", "question") as bar:
        report = evaluate_qa(
            retriever,
            items,
            args.questions.name,
            _modes(args),
            _options(args, target.settings, target.kb),
            _mode_updater(bar),
        )
    return _finish(report, loaded, args.json)


def _name_collection(args: argparse.Namespace, default_collection: str) -> None:
    if args.collection is None and args.kb is None:
        args.collection = collection_name(default_collection)


def _load(args: argparse.Namespace, command: str, path: str) -> list[dict]:
    """Run `python -m ingest COMMAND PATH` into the evaluated collection; its file reports.

    A separate process: ingestion is the `ingest` package's job, and the embedded data folder
    admits one writer at a time, so it must have finished before this process opens it.
    """
    where = ["--kb", args.kb] if args.kb is not None else ["--collection", args.collection]
    flags = [*where, "--json"]
    if args.data_dir is not None:
        flags += ["--data-dir", str(args.data_dir)]
    done = subprocess.run(
        [sys.executable, "-m", "ingest", command, path, *flags],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    failure = f"could not load {path} into {args.kb or args.collection} (see above)"
    if done.returncode == EXIT_USAGE:
        raise SettingsError(failure)
    # Exit 1 with a report: some files failed; without one, the command itself failed.
    if done.returncode not in (EXIT_OK, EXIT_FAILED) or not done.stdout.strip():
        raise EvalDataError(failure)
    return json.loads(done.stdout)["files"]


def collection_name(text: str) -> str:
    """A valid collection name made from a folder name."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")[:60]
    return name if len(name) >= 3 else f"eval-{name or 'set'}"


def _modes(args: argparse.Namespace) -> tuple[SearchMode, ...]:
    return tuple(SearchMode) if args.mode == ALL_MODES else (SearchMode(args.mode),)


def _options(
    args: argparse.Namespace, settings: Settings, kb: KnowledgeBase | None
) -> SearchOptions:
    # The mode and depth are the evaluation's own; fusion, weights and reranking follow the
    # flags, else the knowledge base's defaults.
    defaults = kb.search.options() if kb is not None else SearchOptions()
    fusion = Fusion(args.fusion) if args.fusion is not None else defaults.fusion
    return replace(defaults, fusion=fusion, **rerank_choices(args, settings, kb))


def _finish(report: EvalReport, loaded: list[dict], as_json: bool) -> int:
    failed = [f for f in loaded if f["status"] == "failed"]
    if as_json:
        print_json({**report.as_dict(), "ingest": _ingest_summary(loaded)})
    else:
        print(format_report(report))
    for file in failed[:20]:
        print(f"failed: {file['path']}: {file['reason']}", file=sys.stderr)
    if report.settings.get("not_reranked"):
        print(
            f"warning: {report.settings['not_reranked']} searches were not reranked:"
            f" {report.settings['rerank_notice']}",
            file=sys.stderr,
        )
    return EXIT_FAILED if failed else EXIT_OK


def _ingest_summary(loaded: list[dict]) -> dict[str, int]:
    summary: dict[str, int] = {"documents": len(loaded)}
    for file in loaded:
        summary[file["status"]] = summary.get(file["status"], 0) + 1
    return summary


def format_report(report: EvalReport) -> str:
    """A plain-text table: one row per mode, one column per metric, then latency."""
    names = report.metric_names()
    header = f"{'mode':8}" + "".join(f"{n:>12}" for n in names) + f"{'p50 ms':>10}{'p95 ms':>10}"
    lines = [f"{report.kind} {report.dataset} in collection {report.collection}", header]
    for m in report.modes:
        values = "".join(f"{m.metrics[n]:>12.4f}" for n in names)
        lines.append(f"{m.mode.value:8}{values}{m.p50_ms:>10.1f}{m.p95_ms:>10.1f}")
    queries = report.modes[0].queries if report.modes else 0
    rerank = report.settings.get("rerank", "off")
    reranked = f"; reranked by {rerank}" if rerank != "off" else ""
    lines.append(f"{queries} queries; {report.settings['embedder']}{reranked}")
    return "\n".join(lines)


def _bar(label: str, unit: str) -> tqdm:
    return tqdm(desc=label, unit=unit, file=sys.stderr, leave=False)


def _mode_updater(bar: tqdm):
    def update(mode: SearchMode, done: int, total: int) -> None:
        bar.set_description(f"searching ({mode.value})")
        if done == 1:
            bar.reset(total)
        bar.update(done - bar.n)

    return update
