"""Evaluation sets: BEIR folders and question files over PDFs, read and checked.

A BEIR folder holds `corpus.jsonl`, `queries.jsonl` and `qrels/<split>.tsv`. A question
file holds one JSON object a line: {"question": ..., "answer": ... (optional),
"evidence": [{"source": "<file name>", "page": <1-based page>}]}.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.errors import EvalDataError

# qrels: query id -> {document id -> graded relevance}
Qrels = dict[str, dict[str, float]]


@dataclass(frozen=True)
class BeirSet:
    """A BEIR data set's judged queries of one qrels file (`ingest` loads its corpus)."""

    name: str
    queries: dict[str, str]
    qrels: Qrels


@dataclass(frozen=True)
class Evidence:
    """Where the answer to a question is: a file name and a 1-based page."""

    source: str
    page: int


@dataclass(frozen=True)
class QAItem:
    """One question of a question file, with the pages that answer it."""

    question: str
    evidence: tuple[Evidence, ...]
    answer: str | None = None


def read_beir(folder: Path, split: str = "test", qrels_path: Path | None = None) -> BeirSet:
    """Read a BEIR folder; only queries with at least one relevant document are kept."""
    corpus = folder / "corpus.jsonl"
    qrels_path = qrels_path or folder / "qrels" / f"{split}.tsv"
    for path in (corpus, folder / "queries.jsonl", qrels_path):
        if not path.is_file():
            raise EvalDataError(
                f"{path} not found: a BEIR folder needs corpus.jsonl,"
                " queries.jsonl and qrels/<split>.tsv"
            )
    qrels = read_qrels(qrels_path)
    queries = {
        str(row["_id"]): str(row["text"])
        for _, row in json_lines(folder / "queries.jsonl")
        if str(row.get("_id")) in qrels
    }
    missing = sorted(set(qrels) - set(queries))
    if missing:
        raise EvalDataError(f"{qrels_path.name} judges queries not in queries.jsonl: {missing[:5]}")
    return BeirSet(folder.resolve().name, queries, qrels)


def read_qrels(path: Path) -> Qrels:
    """A qrels TSV (query-id, corpus-id, score; a header line is allowed); zero scores drop."""
    qrels: Qrels = {}
    with path.open(newline="", encoding="utf-8") as lines:
        for number, row in enumerate(csv.reader(lines, delimiter="\t"), start=1):
            if not row or (number == 1 and row[0] == "query-id"):
                continue
            if len(row) < 3:
                raise EvalDataError(f"{path.name} line {number}: expected 3 columns, got {row}")
            try:
                score = float(row[2])
            except ValueError:
                raise EvalDataError(f"{path.name} line {number}: bad score {row[2]!r}") from None
            if score > 0:
                qrels.setdefault(row[0], {})[row[1]] = score
    if not qrels:
        raise EvalDataError(f"{path.name} has no relevance judgements")
    return qrels


def read_qa(path: Path) -> list[QAItem]:
    """Read a question file; every error names its line."""
    if not path.is_file():
        raise EvalDataError(f"{path} not found")
    return parse_qa(path.read_text(encoding="utf-8").splitlines(), path.name)


def parse_qa(lines: Iterable[str], name: str = "questions") -> list[QAItem]:
    """Questions from JSON lines (blank lines are skipped)."""
    items = [_qa_item(row, f"{name} line {n}") for n, row in _parsed(lines, name)]
    if not items:
        raise EvalDataError(f"{name} has no questions")
    return items


def _qa_item(row: object, where: str) -> QAItem:
    if not isinstance(row, dict) or not str(row.get("question") or "").strip():
        raise EvalDataError(f'{where}: needs a non-empty "question"')
    evidence = row.get("evidence")
    if not isinstance(evidence, list) or not evidence:
        raise EvalDataError(f'{where}: needs "evidence": [{{"source": ..., "page": ...}}]')
    answer = row.get("answer")
    return QAItem(
        str(row["question"]).strip(),
        tuple(_evidence(e, where) for e in evidence),
        None if answer is None else str(answer),
    )


def _evidence(entry: object, where: str) -> Evidence:
    if not isinstance(entry, dict) or not isinstance(entry.get("source"), str):
        raise EvalDataError(f'{where}: each evidence needs a "source" file name')
    page = entry.get("page")
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise EvalDataError(f'{where}: "page" must be a page number from 1, got {page!r}')
    return Evidence(entry["source"], page)


def json_lines(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-empty line of a JSON-lines file."""
    with path.open(encoding="utf-8") as lines:
        yield from _parsed(lines, path.name)


def _parsed(lines: Iterable[str], name: str) -> Iterator[tuple[int, dict]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalDataError(f"{name} line {number}: not JSON ({exc.msg})") from None
