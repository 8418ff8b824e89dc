"""A BEIR corpus as text documents: `corpus.jsonl`, one passage a line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ingest.files import TextDocument
from rag.errors import EvalDataError
from rag.eval.sets import json_lines


def read_beir_corpus(folder: Path) -> Iterator[TextDocument]:
    """The corpus read lazily; an entry's title becomes the title of its chunks' header."""
    path = folder / "corpus.jsonl"
    if not path.is_file():
        raise EvalDataError(f"{path} not found: a BEIR folder needs corpus.jsonl")
    for number, row in json_lines(path):
        try:
            yield TextDocument(str(row["_id"]), str(row["text"]), str(row.get("title") or ""))
        except KeyError as exc:
            raise EvalDataError(f"{path.name} line {number}: missing {exc.args[0]!r}") from None
