"""OCR of scanned pages (ingest/ocr.py): accuracy by dpi, speed, memory, and the smallest
address-space limit it works under.

Usage: python bench/ocr.py [--abstracts 10] [--dpis 150 200 300] [--detection-sides 960]
       [--limits 768 896 1024 1280 1536 2048] [--out bench/results/ocr.json]

1. Known text: N SciFact abstracts made one-page scans by tests/support/scans.py in each
   of CONDITIONS, read back at each dpi (and each detection side at the default dpi): CER
   against the printed text, engine start, peak memory (each setting in a fresh process);
   then speed, in one process where the settings take each page in turn, so that they
   share the machine's load alike.
2. The corpus's scans (catalog notes say scanned or OCR): every page read, beside pypdf.
3. The smallest RLIMIT_AS under which a fresh process with the parser's limits (address
   space, no file writes, no core dump) still reads two pages at the default budget.
Scans are cached in bench/.cache/ocr. Prints Markdown, writes JSON with machine and date.
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
    ("heavy", 200, 2.0, 20.0, 1.2, "Times-Roman", 9),
    ("small print", 300, 1.0, 8.0, 0.6, "Times-Roman", 7),
)
SCANNED_NOTE = re.compile(r"scan|ocr|no text layer", re.I)


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


def interleaved(job: dict) -> dict:
    """Seconds per page of each [dpi, detection side]: the settings take each page in turn,
    in a rotating order, so that they share the machine's load alike. One engine per side,
    swapped in for the module's own."""
    import ingest.ocr as ocr

    engines = {}
    for _, side in job["configs"]:
        ocr.DETECTION_SIDE_PX = side
        engines[side] = engines.get(side) or ocr._engine.__wrapped__()
    seconds: dict[str, list[float]] = {f"{dpi}/{side}": [] for dpi, side in job["configs"]}
    for turn, path in enumerate(job["files"]):
        data = Path(path).read_bytes()
        shift = turn % len(job["configs"])
        for dpi, side in job["configs"][shift:] + job["configs"][:shift]:
            ocr._engine = lambda engine=engines[side]: engine
            page = ocr.ocr_pdf_pages(data, None, [1], ocr.OcrBudget(dpi=dpi)).pages[1]
            seconds[f"{dpi}/{side}"].append(page.seconds)
    return {"seconds": seconds}


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
    return {"dpi": dpi, "detection_side": detection_side, "pages": len(scans)} | {
        "mean_cer": round(statistics.mean(rates.values()), 4),
        "worst_cer": round(max(rates.values()), 4),
        "mean_cer_by_condition": by_condition,
        "engine_start_s": round(reply["engine_s"], 2),
        "peak_rss_mb": round(reply["peak_rss_mb"]),
        "peak_address_space_mb": round(reply["peak_address_space_mb"] or 0),
        "skipped": reply["skipped"],
    }


def speed(scans: list[dict], runs: list[tuple[int, int]]) -> list[dict]:
    """Pages per second of each (dpi, detection side), measured side by side."""
    reply = run_child({"files": [scan["path"] for scan in scans], "configs": runs})
    if "error" in reply:
        return [{"error": reply["error"]}]
    return [
        dict(zip(("dpi", "detection_side"), map(int, key.split("/")), strict=True))
        | {"pages_per_s": round(len(seconds) / sum(seconds), 3)}
        | {"median_page_s": round(statistics.median(seconds), 2)}
        | {"slowest_page_s": round(max(seconds), 2)}
        for key, seconds in reply["seconds"].items()
    ]


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
            page = read.get(number, {"text": "", "s": None})
            row = {"file": entry["file"], "page": number, "pypdf_chars": len(text.strip())}
            row["ocr_chars"], row["ocr_s"] = len(page["text"]), page["s"]
            row["cer_vs_text_layer"] = round(cer(text, page["text"]), 4) if text.strip() else None
            row["ocr_sample"] = page["text"][:80]
            row["error"] = reply.get("error") or reply["skipped"].get(f"{path}:{number}")
            rows.append(row)
    return rows


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
    known = ["dpi", "detection_side", "mean_cer", "worst_cer", "mean_cer_by_condition"]
    known += ["engine_start_s", "peak_rss_mb", "peak_address_space_mb", "error"]
    print(table(report["known_text"], known))
    speeds = ["dpi", "detection_side", "pages_per_s", "median_page_s", "slowest_page_s"]
    print(table(report["speed"], speeds))
    corpus = ["file", "page", "pypdf_chars", "ocr_chars", "cer_vs_text_layer", "ocr_s"]
    print(table(report["corpus"], [*corpus, "ocr_sample", "error"]))
    print(table(report["address_space"], ["rlimit_as_mb", "works", "error"]))
    print(f"\nsmallest working RLIMIT_AS: {report['smallest_working_rlimit_as_mb']} MB")


def table(rows: list[dict], columns: list[str]) -> str:
    """The rows as a Markdown table of the given keys (a dict's values joined by " / ")."""
    lines = ["", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(key)) for key in columns) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, dict):
        return " / ".join(_cell(item) for item in value.values())
    if isinstance(value, float):
        return f"{value:g}"
    return "–" if value is None else str(value).replace("\n", " ").replace("|", "/")


def main() -> None:
    """Run the three parts (or, with --child, one job from stdin) and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--abstracts", type=int, default=10)
    parser.add_argument("--dpis", type=int, nargs="+", default=[150, 200, 300])
    parser.add_argument("--detection-sides", type=int, nargs="+", default=[960])
    parser.add_argument("--limits", type=int, nargs="+", default=[768, 896, 1024, 1280, 1536, 2048])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.child:
        job = json.loads(sys.stdin.read())
        sys.stdout.write(json.dumps(interleaved(job) if "configs" in job else child(job)))
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
        "speed": speed(scans, runs),
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
