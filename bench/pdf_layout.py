"""Headings by font and tables as rows (ingest/pdf_layout.py): their cost and what they find.

Usage: python bench/pdf_layout.py [--docs DIR] [--qa FILE] [--max-pages N]
       [--out bench/results/pdf_layout.json]

On the FinanceBench filings (8 annual reports, 1,416 pages, no bookmarks), every page is
read four ways, each way by its own reader (no reading profits from another's decoded
streams), the four taking turns in an order that rotates from page to page, so that a
machine shared with other work slows each of them alike:
- plain: `page.extract_text()`, what the parser does today;
- scan: `scan_page` (one extraction with a visitor that notes font size and weight); its
  text is compared with the plain text, page by page;
- layout: `page.extract_text(extraction_mode="layout")` on every page, then the table
  finder on its text: which pages hold tables at all (the gate's misses are counted);
- tables: `page_text_with_tables(page)`: the plain text, then layout mode only on pages
  whose plain text holds enough numbers, the tables found spliced into the plain text;
  characters of the plain text missing from the result are counted.
Then `headings_in` over each document's scans. The evidence pages of the questions (qa.jsonl)
are shown as the reader would see them: each table's header row and first rows.
Prints a summary and writes the figures, machine and date to --out.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from pypdf import PdfReader

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ingest.layout_tables import find_layout_tables, looks_tabular
from ingest.pdf_layout import headings_in, page_text_with_tables, scan_page
from ingest.tables import find_tables

ROOT = Path(__file__).resolve().parent.parent
FINANCEBENCH = ROOT.parent / "shared" / "data" / "financebench-dev"
OUT = ROOT / "bench" / "results" / "pdf_layout.json"
MODES = ("plain", "scan", "layout", "tables")
YEAR = re.compile(r"\b(?:19|20)\d\d\b")


def read(page, mode: str):
    """What one reading of the page in `mode` gives."""
    if mode == "plain":
        return page.extract_text()
    if mode == "scan":
        return scan_page(page)
    if mode == "layout":
        return page.extract_text(extraction_mode="layout")
    return page_text_with_tables(page)


def readings(path: Path, limit: int) -> dict[str, dict[str, list]]:
    """Every page read in every mode, each mode by its own reader, the modes taking turns
    in an order that rotates from page to page: seconds and results per mode."""
    readers = {mode: PdfReader(path) for mode in MODES}
    runs: dict[str, dict[str, list]] = {mode: {"seconds": [], "found": []} for mode in MODES}
    for number in range(min(limit, len(readers["plain"].pages))):
        for mode in MODES[number % 4 :] + MODES[: number % 4]:
            page = readers[mode].pages[number]
            started = time.perf_counter()
            result = read(page, mode)
            runs[mode]["seconds"].append(time.perf_counter() - started)
            runs[mode]["found"].append(result)
    return runs


def lost_characters(plain: str, spliced: str) -> int:
    """Characters (not spaces, not the table's "|") of the plain text missing in the result."""
    keep = Counter(char for char in plain if not char.isspace() and char != "|")
    have = Counter(char for char in spliced if not char.isspace() and char != "|")
    return sum((keep - have).values())


def document(path: Path, limit: int) -> dict:
    """All four readings of one document, and what they give."""
    runs = readings(path, limit)
    plain = runs["plain"]["found"]
    scans = runs["scan"]["found"]
    started = time.perf_counter()
    headings = headings_in(scans)
    headings_s = time.perf_counter() - started
    layout_tables = [len(find_layout_tables(text)) for text in runs["layout"]["found"]]
    spliced = runs["tables"]["found"]
    return {
        "pages": len(plain),
        "seconds": {mode: sum(runs[mode]["seconds"]) for mode in MODES} | {"headings": headings_s},
        "page_ms": {mode: [s * 1000 for s in runs[mode]["seconds"]] for mode in MODES},
        "scan_text_same": sum(s.text == p for s, p in zip(scans, plain, strict=True)),
        "gated_pages": sum(looks_tabular(text) for text in plain),
        "pages_with_layout_tables": sum(1 for n in layout_tables if n),
        "gate_misses": sum(
            1 for n, t in zip(layout_tables, plain, strict=True) if n and not looks_tabular(t)
        ),
        "tables_found": sum(layout_tables),
        "tables_spliced": sum(count for _, count in spliced),
        "pages_with_tables": sum(1 for _, count in spliced if count),
        "lost_characters": sum(
            lost_characters(p, s) for p, (s, _) in zip(plain, spliced, strict=True)
        ),
        "plain_characters": sum(len("".join(p.split())) for p in plain),
        "headings": [list(h) for h in headings],
        "levels": dict(Counter(h.level for h in headings)),
        "spliced_text": [text for text, _ in spliced],
    }


def evidence(qa: Path, results: dict) -> list[dict]:
    """Each evidence page's tables as the chunker will see them: header row, first rows."""
    shown, seen = [], set()
    for line in qa.read_text().splitlines():
        question = json.loads(line)
        for item in question["evidence"]:
            key = (item["source"], item["page"])
            if key in seen or item["source"] not in results:
                continue
            seen.add(key)
            texts = results[item["source"]]["spliced_text"]
            if item["page"] <= len(texts):
                shown.append(_page_tables(key, texts[item["page"] - 1], question["type"]))
    return shown


def _page_tables(key: tuple[str, int], text: str, kind: str) -> dict:
    tables = []
    for table in find_tables(text):
        rows = text[table.start : table.end].split("\n")
        body = rows[2:] if table.header else rows
        cells = [[c.strip() for c in row.strip("|").split("|")] for row in body]
        full = sum(1 for row in cells if row[0] and all(row[1:]))
        header = table.header.split("\n")[0] if table.header else ""
        tables.append(
            {
                "header": header,
                "header_years": YEAR.findall(header),
                "rows": len(body),
                "rows_with_label_and_every_value": full,
                "rows_with_label_only": sum(1 for row in cells if row[0] and not any(row[1:])),
                "first_rows": body[:4],
            }
        )
    return {"source": key[0], "page": key[1], "question_type": kind, "tables": tables}


def summary(results: dict) -> dict:
    """Totals over the documents, and milliseconds per page by mode."""
    total = {
        key: sum(r[key] for r in results.values())
        for key in (
            "pages",
            "scan_text_same",
            "gated_pages",
            "pages_with_layout_tables",
            "gate_misses",
            "tables_found",
            "tables_spliced",
            "pages_with_tables",
            "lost_characters",
            "plain_characters",
        )
    }
    seconds = {m: sum(r["seconds"][m] for r in results.values()) for m in [*MODES, "headings"]}
    per_page = {}
    for mode in MODES:
        values = sorted(v for r in results.values() for v in r["page_ms"][mode])
        per_page[mode] = {
            "mean": statistics.fmean(values),
            "median": statistics.median(values),
            "p95": values[int(0.95 * (len(values) - 1))],
            "max": values[-1],
        }
    ratios = {
        f"{m}_over_plain": seconds[m] / seconds["plain"] for m in ("scan", "layout", "tables")
    }
    return total | {"seconds": seconds, "page_ms": per_page, "ratios": ratios}


def main() -> None:
    """Measure, print the summary, write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=FINANCEBENCH / "pdfs")
    parser.add_argument("--qa", type=Path, default=FINANCEBENCH / "qa.jsonl")
    parser.add_argument("--max-pages", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    load = os.getloadavg()[0]
    results = {}
    for path in sorted(args.docs.glob("*.pdf")):
        results[path.name] = document(path, args.max_pages)
        print(path.name, json.dumps(results[path.name]["seconds"]), flush=True)
    report = {
        "script": "bench/pdf_layout.py",
        "command": " ".join([".venv/bin/python", *sys.argv]),
        "machine": f"{platform.platform()}, {os.cpu_count()} cores (shared), "
        f"Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "load_average_at_start": load,
        "summary": summary(results),
        "documents": {
            name: {k: v for k, v in r.items() if k not in ("page_ms", "spliced_text", "headings")}
            | {"first_headings": r["headings"][:15], "headings_count": len(r["headings"])}
            for name, r in results.items()
        },
        "evidence_pages": evidence(args.qa, results),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps(report["summary"], indent=1))


if __name__ == "__main__":
    main()
