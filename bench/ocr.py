"""OCR of scanned pages (ingest/ocr.py): accuracy by resolution, speed, memory, and the
smallest address-space limit it runs under.

Usage: python bench/ocr.py [--abstracts 10] [--dpis 150 200 300] [--detection-sides 960]
       [--limits 1024 1280 1536 2048 3072] [--out bench/results/ocr.json]

1. Known text: the first N SciFact abstracts (title, then text), each made a one-page scan
   by tests/support/scans.py (drawn at a scanner's dpi, tilted, blurred, grain added,
   stored as JPEG) in four conditions (CONDITIONS), then read back at each dpi, and at the
   default dpi with each detection side; the character error rate (CER) is against the
   text as printed.
2. The shared corpus's scans (catalog notes say scanned or OCR): every page read, timed,
   beside what pypdf finds in its text layer.
3. Memory: the peak resident memory of each run, and the smallest RLIMIT_AS under which a
   fresh process with the parser's limits (address space, no file writes, no core dump)
   still reads a page at the default budget.

Every run is a fresh child process (`--child`), so each peak is its own and each engine
starts cold; the engine's start is timed apart from the pages. Scans are cached in
bench/.cache/ocr. Prints Markdown and writes the figures, machine and date to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
CACHE = ROOT / "bench" / ".cache" / "ocr"
OUT = ROOT / "bench" / "results" / "ocr.json"
# Each scan: name, scanner dpi, tilt in degrees, grain in grey levels, blur radius in
# pixels, font and size in points.
CONDITIONS = (
    ("light", 300, 0.5, 4.0, 0.4, "Helvetica", 11),
    ("medium", 300, 1.0, 8.0, 0.6, "Times-Roman", 11),
    ("heavy", 200, 1.5, 14.0, 0.9, "Helvetica", 11),
    ("small print", 300, 1.0, 8.0, 0.6, "Times-Roman", 8),
)
SCANNED_NOTE = re.compile(r"scan|ocr|no text layer", re.I)


# --- the child: reads pages under the given settings and reports -------------------------


def child(job: dict) -> dict:
    """Read the job's pages in this process; what was read, the times and memory peaks."""
    if job.get("memory_mb"):
        memory = job["memory_mb"] * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    import ingest.ocr as ocr

    ocr.DETECTION_SIDE_PX = job.get("detection_side", ocr.DETECTION_SIDE_PX)
    budget = ocr.OcrBudget(dpi=job.get("dpi", ocr.OcrBudget.dpi))
    started = time.perf_counter()
    ocr._engine()  # built apart, so that page times are reading alone
    engine_s = time.perf_counter() - started
    pages, skipped = [], {}
    for path, numbers in job["files"]:
        result = ocr.ocr_pdf_pages(Path(path).read_bytes(), None, numbers, budget)
        for number, page in sorted(result.pages.items()):
            pages.append({"file": path, "page": number, "text": page.text, "s": page.seconds})
        skipped.update({f"{path}:{n}": why for n, why in result.skipped.items()})
    return {"pages": pages, "skipped": skipped, "engine_s": engine_s, **_memory()}


def _memory() -> dict:
    status = Path("/proc/self/status").read_text()
    peak = re.search(r"VmPeak:\s+(\d+) kB", status)
    return {
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_address_space_mb": int(peak.group(1)) / 1024 if peak else None,
    }


def run_child(job: dict) -> dict:
    """Run one job in a fresh interpreter; {"error": ...} if it fails or dies."""
    process = subprocess.run(
        [sys.executable, __file__, "--child"],
        input=json.dumps(job).encode(),
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    if process.returncode != 0:
        tail = process.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        return {"error": f"exit {process.returncode}: {tail[0][:200]}"}
    return json.loads(process.stdout)


# --- 1. known text -------------------------------------------------------------------------


def make_scans(count: int) -> list[dict]:
    """The scans of the first `count` abstracts in each condition, with their text."""
    from tests.support.scans import printable, scanned_pdf

    CACHE.mkdir(parents=True, exist_ok=True)
    scans = []
    with (SHARED / "scifact" / "corpus.jsonl").open() as lines:
        abstracts = [json.loads(next(lines)) for _ in range(count)]
    for index, row in enumerate(abstracts):
        text = f"{row['title']}\n{row['text']}"
        for name, dpi, tilt, grain, blur, font, size in CONDITIONS:
            path = CACHE / f"scifact-{row['_id']}-{name.replace(' ', '-')}.pdf"
            if not path.is_file():
                look = {"rotation": tilt, "noise": grain, "blur": blur, "font": font, "size": size}
                path.write_bytes(scanned_pdf([text], seed=index, dpi=dpi, **look))
            scans.append({"path": str(path), "condition": name, "truth": printable(text)})
    return scans


def known_text(scans: list[dict], dpi: int, detection_side: int) -> dict:
    """CER and speed of reading every scan at `dpi`."""
    from tests.support.scans import cer

    files = [[scan["path"], [1]] for scan in scans]
    reply = run_child({"files": files, "dpi": dpi, "detection_side": detection_side})
    if "error" in reply:
        return {"dpi": dpi, "detection_side": detection_side, "error": reply["error"]}
    read = {page["file"]: page for page in reply["pages"]}
    rates = {s["path"]: cer(s["truth"], read.get(s["path"], {}).get("text", "")) for s in scans}
    by_condition = {
        name: round(statistics.mean(rates[s["path"]] for s in scans if s["condition"] == name), 4)
        for name, *_ in CONDITIONS
    }
    seconds = [page["s"] for page in reply["pages"]]
    return {
        "dpi": dpi,
        "detection_side": detection_side,
        "pages": len(scans),
        "mean_cer": round(statistics.mean(rates.values()), 4),
        "worst_cer": round(max(rates.values()), 4),
        "mean_cer_by_condition": by_condition,
        "pages_per_s": round(len(seconds) / sum(seconds), 3),
        "median_page_s": round(statistics.median(seconds), 2),
        "engine_start_s": round(reply["engine_s"], 2),
        "peak_rss_mb": round(reply["peak_rss_mb"]),
        "peak_address_space_mb": round(reply["peak_address_space_mb"] or 0),
        "skipped": reply["skipped"],
    }


# --- 2. the corpus's scans -----------------------------------------------------------------


def corpus_scans() -> list[dict]:
    """Every page of the catalog's scanned PDFs, read at the default budget, beside the
    characters pypdf finds on it and, where it finds some, the CER between the two."""
    from pypdf import PdfReader

    from tests.support.scans import cer

    catalog = json.loads((SHARED / "pdfs" / "catalog.json").read_text())
    rows = []
    for entry in catalog:
        if not SCANNED_NOTE.search(entry.get("notes", "")):
            continue
        path = SHARED / entry["file"]
        layer = [page.extract_text() or "" for page in PdfReader(path).pages]
        reply = run_child({"files": [[str(path), list(range(1, len(layer) + 1))]]})
        read = {page["page"]: page for page in reply.get("pages", [])}
        for number, text in enumerate(layer, start=1):
            page = read.get(number, {})
            rows.append(
                {
                    "file": entry["file"],
                    "page": number,
                    "pypdf_chars": len(text.strip()),
                    "ocr_chars": len(page.get("text", "")),
                    "ocr_s": round(page.get("s", 0.0), 2),
                    "cer_vs_text_layer": round(cer(text, page["text"]), 4)
                    if text.strip() and page
                    else None,
                    "ocr_sample": page.get("text", "")[:80],
                    "error": reply.get("error") or reply["skipped"].get(f"{path}:{number}"),
                }
            )
    return rows


# --- 3. the address-space limit ------------------------------------------------------------


def address_space(limits: list[int], scan: str) -> list[dict]:
    """Whether one page is read under each RLIMIT_AS, in a fresh process each time."""
    congress = SHARED / "pdfs" / "varied" / "pikepdf_congress_scanned.pdf"
    rows = []
    for limit in limits:
        reply = run_child({"files": [[scan, [1]], [str(congress), [1]]], "memory_mb": limit})
        worked = "error" not in reply and not reply["skipped"] and len(reply["pages"]) == 2
        why = reply.get("error") or "; ".join(reply.get("skipped", {}).values()) or None
        rows.append({"rlimit_as_mb": limit, "works": worked, "error": None if worked else why})
    return rows


# --- report ----------------------------------------------------------------------------------


def machine() -> dict:
    """Where and when the figures were measured."""
    from importlib.metadata import version

    return {
        "date": time.strftime("%Y-%m-%d"),
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        **{name: version(name) for name in ("rapidocr", "onnxruntime", "pypdfium2", "pillow")},
    }


def print_report(report: dict) -> None:
    """The figures as Markdown tables."""
    print(f"\n{report['machine']}\n")
    print("| dpi | detection side | mean CER | worst CER | light / medium / heavy |", end="")
    print(" pages/s | median s/page | peak RSS MB | peak address space MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in report["known_text"]:
        if "error" in row:
            print(f"| {row['dpi']} | {row['detection_side']} | failed: {row['error']} |")
            continue
        split = " / ".join(f"{v:.2%}" for v in row["mean_cer_by_condition"].values())
        print(
            f"| {row['dpi']} | {row['detection_side']} | {row['mean_cer']:.2%} |"
            f" {row['worst_cer']:.2%} | {split} | {row['pages_per_s']:.2f} |"
            f" {row['median_page_s']:.2f} | {row['peak_rss_mb']} |"
            f" {row['peak_address_space_mb']} |"
        )
    print("\n| scanned PDF | page | pypdf chars | OCR chars | CER vs layer | OCR s | starts with |")
    print("|---|---|---|---|---|---|---|")
    for row in report["corpus"]:
        sample = row["ocr_sample"].replace("\n", " ").replace("|", "/")
        print(
            f"| {Path(row['file']).name} | {row['page']} | {row['pypdf_chars']} |"
            f" {row['ocr_chars']} | {row['cer_vs_text_layer']} | {row['ocr_s']} |"
            f" {row['error'] or sample} |"
        )
    print("\n| RLIMIT_AS MB | reads a page |\n|---|---|")
    for row in report["address_space"]:
        print(f"| {row['rlimit_as_mb']} | {'yes' if row['works'] else 'no: ' + row['error']} |")
    print(f"\nsmallest working RLIMIT_AS: {report['smallest_working_rlimit_as_mb']} MB")


def main() -> None:
    """Run the three parts (or, with --child, one job from stdin) and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--abstracts", type=int, default=10)
    parser.add_argument("--dpis", type=int, nargs="+", default=[150, 200, 300])
    parser.add_argument("--detection-sides", type=int, nargs="+", default=[960])
    parser.add_argument("--limits", type=int, nargs="+", default=[1024, 1280, 1536, 2048, 3072])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.child:
        sys.stdout.write(json.dumps(child(json.loads(sys.stdin.read()))))
        return
    scans = make_scans(args.abstracts)
    from ingest.ocr import DETECTION_SIDE_PX, OcrBudget

    runs = [(dpi, DETECTION_SIDE_PX) for dpi in args.dpis]
    runs += [(OcrBudget.dpi, side) for side in args.detection_sides if side != DETECTION_SIDE_PX]
    report = {
        "machine": machine() | {"load_average_at_start": os.getloadavg()},
        "command": "python " + " ".join(sys.argv),
        "scans": {"conditions": CONDITIONS, "abstracts": args.abstracts},
        "known_text": [known_text(scans, dpi, s) for dpi, s in runs],
        "corpus": corpus_scans(),
        "address_space": address_space(args.limits, scans[0]["path"]),
    }
    works = [row["works"] for row in report["address_space"]]
    # The smallest limit from which every larger one tried works too: near the edge, the
    # outcome depends on how threads happen to share the allocator.
    first = next((i for i in range(len(works)) if all(works[i:])), None)
    report["smallest_working_rlimit_as_mb"] = args.limits[first] if first is not None else None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    print_report(report)


if __name__ == "__main__":
    main()
