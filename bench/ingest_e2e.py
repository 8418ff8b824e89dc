"""End-to-end ingestion from the command line: this tree against the previous main.

Usage: python bench/ingest_e2e.py [--corpus book|finance ...] [--rounds N] [--out FILE]

For each corpus, `python -m ingest add CORPUS --data-dir FRESH --json` runs as a separate
process, three ways, in the same run and in an order that alternates per round:
- baseline: a git worktree of the previous main (fp32 embeddings, one file after
  another, no reading beside embedding), made at /tmp/rag-baseline if absent;
- current: this tree with its defaults (int8 embeddings, the queue reading the next file
  while the current one is embedded);
- current fp32: this tree with RAG_EMBED_PRECISION=fp32, to separate the int8 gain from
  the gain of reading beside embedding.
Every run uses the same Python (this tree's .venv) with PYTHONPATH set to its own tree.
Wall time counts the whole command (start-up and model loading included). Peak memory is
`getrusage(RUSAGE_CHILDREN).ru_maxrss` read by a small wrapper process around each run:
the largest resident set of any one process of the run (the parser process included),
not the sum of the tree.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
SHARED = ROOT.parent / "shared"
BASELINE_COMMIT = "21104c6"
BASELINE_TREE = Path("/tmp/rag-baseline")
CORPORA = {
    "book": SHARED / "data" / "pdfs" / "long" / "pdfjs_freeculture_lessig.pdf",
    "finance": SHARED / "data" / "financebench-dev" / "pdfs",
}
ENV = {
    "RAG_EMBED_MODEL_PATH": str(SHARED / "models" / "all-MiniLM-L6-v2-onnx"),
    "TIKTOKEN_CACHE_DIR": str(SHARED / "tiktoken"),
    "HF_HUB_OFFLINE": "1",
}
# Runs the command given after the report path, then writes its children's peak memory.
WRAPPER = (
    "import json, resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "open(sys.argv[1], 'w').write(json.dumps({'code': code, 'peak_kb': peak}))\n"
)
WARM_UP = (
    "from rag.config import load_settings\n"
    "from rag.providers.embeddings import make_embedder\n"
    "make_embedder(load_settings(env_file=None)).embed_documents(['warm-up'])\n"
)


@dataclass(frozen=True)
class Variant:
    """One way of running the command: which tree, and which settings on top of ENV."""

    name: str
    tree: Path
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Run:
    """One command's wall time, what it reported and its peak memory."""

    seconds: float
    chunks: int
    files_ok: int
    files: int
    peak_mb: float
    load: float


VARIANTS = (
    Variant("baseline (previous main, fp32, one file after another)", BASELINE_TREE),
    Variant("current (int8, reading beside embedding)", ROOT, (("RAG_EMBED_PRECISION", "int8"),)),
    Variant("current, fp32", ROOT, (("RAG_EMBED_PRECISION", "fp32"),)),
)


def ensure_baseline() -> None:
    """Make the worktree of the previous main unless it is there already."""
    if not (BASELINE_TREE / "ingest").is_dir():
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", str(BASELINE_TREE), BASELINE_COMMIT],
            check=True,
        )


def environment(variant: Variant) -> dict[str, str]:
    """The process environment of a variant's run."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    return {**inherited, **ENV, **dict(variant.env), "PYTHONPATH": str(variant.tree)}


def warm_up(variant: Variant) -> None:
    """Load the embedder once, so that the int8 model is made before anything is timed."""
    subprocess.run(
        [str(PYTHON), "-c", WARM_UP], cwd=variant.tree, env=environment(variant), check=True
    )


def run_once(variant: Variant, corpus: Path) -> Run:
    """Ingest the corpus into a fresh data folder with the variant's tree."""
    with tempfile.TemporaryDirectory(prefix="rag-e2e-") as folder:
        report = Path(folder) / "rusage.json"
        command = [str(PYTHON), "-m", "ingest", "add", str(corpus)]
        command += ["--data-dir", str(Path(folder) / "data"), "--json"]
        started = time.perf_counter()
        done = subprocess.run(
            [str(PYTHON), "-c", WRAPPER, str(report), *command],
            cwd=variant.tree,
            env=environment(variant),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        seconds = time.perf_counter() - started
        usage = json.loads(report.read_text())
    files = json.loads(done.stdout)["files"]
    ok = [f for f in files if f["status"] in ("ingested", "replaced", "unchanged")]
    return Run(
        seconds,
        sum(f["chunks"] for f in files),
        len(ok),
        len(files),
        usage["peak_kb"] / 1024,
        os.getloadavg()[0],
    )


def describe(corpus: Path) -> str:
    """'N file(s), P pages' of a PDF or a folder of PDFs."""
    pdfs = sorted(corpus.glob("*.pdf")) if corpus.is_dir() else [corpus]
    pages = sum(len(PdfReader(pdf).pages) for pdf in pdfs)
    return f"{len(pdfs)} file(s), {pages:,} pages"


def measure(corpus: Path, rounds: int) -> dict[str, list[Run]]:
    """Every variant's runs, the order reversed every other round."""
    runs: dict[str, list[Run]] = {v.name: [] for v in VARIANTS}
    for number in range(rounds):
        order = VARIANTS if number % 2 == 0 else tuple(reversed(VARIANTS))
        for variant in order:
            run = run_once(variant, corpus)
            runs[variant.name].append(run)
            print(f"  round {number + 1}: {variant.name}: {run}", file=sys.stderr, flush=True)
    return runs


def table(runs: dict[str, list[Run]]) -> list[str]:
    """Markdown rows: median seconds, chunks, chunks/s, peak memory, baseline / variant
    (of the medians, and of each round's pair)."""
    baseline = runs[VARIANTS[0].name]
    base = statistics.median(r.seconds for r in baseline)
    lines = [
        "| run | seconds (median; each round) | chunks | chunks/s | files ok | peak RSS MB"
        " | load avg (1 min, after) | baseline / this (median; each round) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, values in runs.items():
        median = statistics.median(r.seconds for r in values)
        each = ", ".join(f"{r.seconds:.1f}" for r in values)
        pairs = zip(baseline, values, strict=True)
        paired = ", ".join(f"{b.seconds / r.seconds:.2f}" for b, r in pairs)
        last = values[-1]
        lines.append(
            f"| {name} | {median:.1f} ({each}) | {last.chunks:,} | {last.chunks / median:.1f}"
            f" | {last.files_ok}/{last.files} | {max(r.peak_mb for r in values):.0f}"
            f" | {', '.join(f'{r.load:.1f}' for r in values)}"
            f" | **{base / median:.2f}x** ({paired}) |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", choices=sorted(CORPORA), action="append")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--out", type=Path, help="append the tables to this file too")
    args = parser.parse_args()
    ensure_baseline()
    for variant in VARIANTS:
        warm_up(variant)
    lines = [f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, {args.rounds} round(s)"]
    for name in args.corpus or ["book", "finance"]:
        corpus = CORPORA[name]
        print(f"{name}: {corpus}", file=sys.stderr, flush=True)
        lines += ["", f"{name}: `{corpus.name}`, {describe(corpus)}", ""]
        lines += table(measure(corpus, args.rounds))
    print("\n".join(lines))
    if args.out:
        with args.out.open("a") as out:
            out.write("\n".join(lines) + "\n\n")


if __name__ == "__main__":
    main()
