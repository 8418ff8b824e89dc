"""The document viewer (ingest/viewer): time to show a cited passage on its page.

Usage: python bench/page_view.py [PDF ...] [--chunks 8] [--out bench/results/page_view.json]

Each PDF (default: a 14-page paper and a 160-page 10-K filing from ../shared/data) is
ingested into a temporary data folder; then, for chunks spread through it, in one process:
- baseline: the page drawn in this process by the same code (PDFium, PNG), no limits;
- cold: `PageViewer.page` with an empty cache: the parser process started under its limits,
  the page drawn, its characters read, the passage aligned and boxed, the PNG redrawn;
- cached: the same call again (the drawn page and its characters from memory).
Prints Markdown, writes JSON with machine and date.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
DEFAULT_PDFS = (
    SHARED / "pdfs" / "varied" / "pdfjs_tracemonkey.pdf",
    SHARED / "financebench-dev" / "pdfs" / "3M_2018_10K.pdf",
)
OUT = ROOT / "bench" / "results" / "page_view.json"


def ms(function) -> tuple[float, object]:
    """Milliseconds one call took, and what it returned."""
    started = time.perf_counter()
    value = function()
    return (time.perf_counter() - started) * 1000, value


def in_process(path: Path, page: int) -> bytes:
    """The page drawn here, as the parser process draws it: the baseline."""
    from ingest.viewer.render import render_request

    return render_request(path.read_bytes(), {"page": page, "zoom": 1.0, "memory_mb": 0})["png"]


def measure(path: Path, count: int) -> dict:
    """Baseline, cold and cached times for `count` chunks spread through one PDF."""
    from ingest.pipeline import Ingestor
    from ingest.viewer import PageViewer
    from rag.config import load_settings
    from rag.engine import open_engine

    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings().with_overrides(data_dir=Path(folder))
        with open_engine(settings) as engine:
            outcome = Ingestor(engine.library).ingest_path(path)
            chunks = engine.library.chunks_of(outcome.doc_id)
            picked = chunks[:: max(1, len(chunks) // count)][:count]
            rows = [_row(engine.library, path, chunk, PageViewer) for chunk in picked]
    return {"pdf": path.name, "pages": outcome.pages, "chunks": len(chunks), "rows": rows}


def _row(library, path: Path, chunk, viewer_class) -> dict:
    baseline, _ = ms(lambda: in_process(path, chunk.page_start))
    viewer = viewer_class(library)
    cold, view = ms(lambda: viewer.page(chunk.doc_id, chunk.page_start, chunk))
    cached, _ = ms(lambda: viewer.page(chunk.doc_id, chunk.page_start, chunk))
    return {
        "page": chunk.page_start,
        "baseline_ms": round(baseline, 1),
        "cold_ms": round(cold, 1),
        "cached_ms": round(cached, 1),
        "boxes": len(view.boxes),
        "png_kb": round(len(view.png) / 1024),
    }


def summary(result: dict) -> str:
    """One Markdown table row: medians and the ratios to the baseline."""
    rows = result["rows"]
    median = {
        k: statistics.median(r[k] for r in rows) for k in ("baseline_ms", "cold_ms", "cached_ms")
    }
    boxed = sum(r["boxes"] > 0 for r in rows)
    return (
        f"| {result['pdf']} ({result['pages']} pages) | {len(rows)} | {median['baseline_ms']:.0f}"
        f" | {median['cold_ms']:.0f} ({median['cold_ms'] / median['baseline_ms']:.2f}x)"
        f" | {median['cached_ms']:.0f} ({median['cached_ms'] / median['baseline_ms']:.2f}x)"
        f" | {boxed} of {len(rows)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pdfs", nargs="*", type=Path, default=list(DEFAULT_PDFS))
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    results = [measure(path, args.chunks) for path in args.pdfs]
    print("| PDF | chunks | baseline ms | cold ms | cached ms | passages boxed |")
    print("|---|---|---|---|---|---|")
    for result in results:
        print(summary(result))
    machine = {
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    document = {"date": time.strftime("%Y-%m-%d"), "machine": machine, "results": results}
    args.out.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
