"""A BEIR corpus as text documents: `corpus.jsonl`, one passage a line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ingest.files import TextDocument
from rag.errors import EvalDataError
from rag.eval.sets import json_lines


def read_beir_corpus(folder: Path) -> Iterator[TextDocument]:
    """The corpus read lazily; each entry's title and text are one passage, as BEIR reads them."""
    path = folder / "corpus.jsonl"
    if not path.is_file():
        raise EvalDataError(f"{path} not found: a BEIR folder needs corpus.jsonl")
    for number, row in json_lines(path):
        try:
            yield TextDocument(str(row["_id"]), _passage(str(row.get("title") or ""), row["text"]))
        except KeyError as exc:
            raise EvalDataError(f"{path.name} line {number}: missing {exc.args[0]!r}") from None


def _passage(title: str, text: object) -> str:
    return f"{title}\n\n{text}" if title else str(text)
