"""A thousand small files through the ingestion queue, against the previous main.

Usage: python bench/queue_many.py [--files 1000] [--rounds N] [--folder DIR] [--out FILE]

Makes a folder of small files (text and Markdown of one to three paragraphs, each
paragraph a few sentences of one SciFact abstract, plus a few distinct small PDFs), then
runs `python -m ingest add FOLDER --data-dir FRESH --json` with this tree (the queue) and
with the previous main (files one after another), as in bench/ingest_e2e.py. For this
tree, the queue's database (<data>/queue/documents.sqlite) is read, read-only, while it
runs: the first job marked done is the first document that search can find. The library
itself is then counted (`python -m ingest list`): the command's own report is checked
against it, not trusted (it once left out the jobs the queue had forgotten).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ingest_e2e import (
    PYTHON,
    SHARED,
    VARIANTS,
    WRAPPER,
    Variant,
    ensure_baseline,
    environment,
    warm_up,
)

SCIFACT = SHARED / "data" / "scifact" / "corpus.jsonl"
# Distinct small PDFs that read cleanly (no password, no damage, text on every page).
PDFS = ("sf_multicolumn.pdf", "pypdf_multilang.pdf", "pdfjs_bug1815476_es.pdf")
POLL_S = 0.05
BASELINE, CURRENT = VARIANTS[0], VARIANTS[1]


@dataclass(frozen=True)
class QueueRun:
    """One run over the folder: times, what the command reported, what the library holds."""

    seconds: float
    first_searchable_s: float | None
    statuses: dict[str, int]
    chunks: int  # in the library (the command's report may leave files out)
    documents: int
    peak_mb: float
    load: float


def abstracts(limit: int) -> list[tuple[str, list[str]]]:
    """(title, sentences) of the first SciFact abstracts with at least four sentences."""
    found = []
    with SCIFACT.open() as lines:
        for line in lines:
            record = json.loads(line)
            sentences = [s.strip() + "." for s in record["text"].split(". ") if s.strip()]
            if len(sentences) >= 4:
                found.append((record["title"], sentences))
            if len(found) == limit:
                break
    return found


def paragraph(rng: random.Random, source: list[tuple[str, list[str]]]) -> str:
    """Two to five consecutive sentences of one abstract."""
    _, sentences = rng.choice(source)
    start = rng.randrange(0, max(1, len(sentences) - 2))
    return " ".join(sentences[start : start + rng.randint(2, 5)])


def text_file(number: int, rng: random.Random, source: list[tuple[str, list[str]]]) -> str:
    """A text or Markdown file's content: a title line, then one to three paragraphs."""
    title = rng.choice(source)[0]
    body = "\n\n".join(paragraph(rng, source) for _ in range(rng.randint(1, 3)))
    if number % 2:
        return f"# {title}\n\nNote {number}.\n\n{body}\n"
    return f"{title}\n\nNote {number}.\n\n{body}\n"


def make_folder(folder: Path, count: int) -> None:
    """`count` small files: a few PDFs, the rest alternately .txt and .md."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in PDFS:
        shutil.copyfile(SHARED / "data" / "pdfs" / "varied" / name, folder / name)
    rng, source = random.Random(2026), abstracts(2000)
    for number in range(count - len(PDFS)):
        suffix = ".md" if number % 2 else ".txt"
        (folder / f"note-{number:04}{suffix}").write_text(text_file(number, rng, source))


def first_done(database: Path) -> float | None:
    """When the first job finished done, as the queue recorded it; None before that."""
    if not database.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT MIN(finished_at) FROM jobs WHERE state = 'done'").fetchone()
    except sqlite3.Error:  # created but not yet written, or busy: look again soon
        return None
    return row[0]


def run_once(variant: Variant, folder: Path) -> QueueRun:
    """Ingest the folder into a fresh data folder; watch the queue while it runs."""
    with tempfile.TemporaryDirectory(prefix="rag-many-") as work:
        data, report = Path(work) / "data", Path(work) / "rusage.json"
        command = [str(PYTHON), "-m", "ingest", "add", str(folder), "--data-dir", str(data)]
        # The report of 1,000 files outgrows a pipe's buffer: it goes to a file, which
        # nobody has to read while the queue is watched.
        with (Path(work) / "stdout.json").open("w+") as output:
            started = time.time()
            process = subprocess.Popen(
                [str(PYTHON), "-c", WRAPPER, str(report), *command, "--json"],
                cwd=variant.tree,
                env=environment(variant),
                stdout=output,
                stderr=subprocess.DEVNULL,
            )
            first = watch(process, data / "queue" / "documents.sqlite")
            seconds = time.time() - started
            output.seek(0)
            files = json.load(output)["files"]
        documents, chunks = listed(variant, data)
        usage = json.loads(report.read_text())
    statuses: dict[str, int] = {}
    for f in files:  # a failure is counted with its reason
        key = f["status"] if f["status"] != "failed" else f"failed: {f['reason']}"
        statuses[key] = statuses.get(key, 0) + 1
    return QueueRun(
        seconds,
        None if first is None else first - started,
        statuses,
        chunks,
        documents,
        usage["peak_kb"] / 1024,
        os.getloadavg()[0],
    )


def watch(process: subprocess.Popen, database: Path) -> float | None:
    """Poll the queue until the process ends; when the first job was done (epoch s)."""
    first = None
    while process.poll() is None:
        if first is None:
            first = first_done(database)
        time.sleep(POLL_S)
    return first


def listed(variant: Variant, data: Path) -> tuple[int, int]:
    """How many documents, and chunks, the library holds."""
    done = subprocess.run(
        [str(PYTHON), "-m", "ingest", "list", "--data-dir", str(data), "--json"],
        cwd=variant.tree,
        env=environment(variant),
        capture_output=True,
        text=True,
        check=True,
    )
    documents = json.loads(done.stdout)["documents"]
    return len(documents), sum(d["chunks"] for d in documents)


def rows(runs: dict[str, list[QueueRun]], files: int) -> list[str]:
    """Markdown rows, one per run."""
    base = min(r.seconds for r in runs[BASELINE.name])
    lines = [
        "| run | seconds | files/s | chunks (library) | chunks/s | first searchable s"
        " | statuses (JSON) | documents listed | peak RSS MB | load avg | baseline / this |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, values in runs.items():
        for r in values:
            first = "n/a" if r.first_searchable_s is None else f"{r.first_searchable_s:.1f}"
            lines.append(
                f"| {name} | {r.seconds:.1f} | {files / r.seconds:.1f} | {r.chunks:,}"
                f" | {r.chunks / r.seconds:.1f} | {first} | {r.statuses} | {r.documents}"
                f" | {r.peak_mb:.0f} | {r.load:.1f} | **{base / r.seconds:.2f}x** |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/rag-many-files"))
    parser.add_argument("--out", type=Path, help="append the table to this file too")
    args = parser.parse_args()
    ensure_baseline()
    warm_up(CURRENT)
    shutil.rmtree(args.folder, ignore_errors=True)
    make_folder(args.folder, args.files)
    runs: dict[str, list[QueueRun]] = {CURRENT.name: [], BASELINE.name: []}
    for number in range(args.rounds):
        order = (CURRENT, BASELINE) if number % 2 == 0 else (BASELINE, CURRENT)
        for variant in order:
            run = run_once(variant, args.folder)
            runs[variant.name].append(run)
            print(f"  round {number + 1}: {variant.name}: {run}", file=sys.stderr, flush=True)
    size = sum(p.stat().st_size for p in args.folder.iterdir())
    lines = [
        f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, {args.rounds} round(s);"
        f" {args.files} files ({len(PDFS)} PDFs), {size / 1024:.0f} KB in all",
        "",
        *rows(runs, args.files),
    ]
    print("\n".join(lines))
    if args.out:
        with args.out.open("a") as out:
            out.write("\n".join(lines) + "\n\n")


if __name__ == "__main__":
    main()
