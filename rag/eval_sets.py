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
class BeirDocument:
    """One corpus entry; its title and text are indexed together."""

    doc_id: str
    title: str
    text: str

    def full_text(self) -> str:
        """Title and text as one passage, the way BEIR models read them."""
        return f"{self.title}\n\n{self.text}" if self.title else self.text


@dataclass(frozen=True)
class BeirSet:
    """A BEIR data set: where its corpus is, and the judged queries of one qrels file."""

    name: str
    corpus_path: Path
    queries: dict[str, str]
    qrels: Qrels

    def documents(self) -> Iterator[BeirDocument]:
        """The corpus, read lazily line by line."""
        for number, row in _json_lines(self.corpus_path):
            try:
                yield BeirDocument(str(row["_id"]), str(row.get("title") or ""), str(row["text"]))
            except KeyError as exc:
                raise EvalDataError(
                    f"{self.corpus_path.name} line {number}: missing {exc.args[0]!r}"
                ) from None


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
        for _, row in _json_lines(folder / "queries.jsonl")
        if str(row.get("_id")) in qrels
    }
    missing = sorted(set(qrels) - set(queries))
    if missing:
        raise EvalDataError(f"{qrels_path.name} judges queries not in queries.jsonl: {missing[:5]}")
    return BeirSet(folder.resolve().name, corpus, queries, qrels)


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


def _json_lines(path: Path) -> Iterator[tuple[int, dict]]:
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
