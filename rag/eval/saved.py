"""Saved question sets and past evaluation runs of a collection, kept in the data folder.

Runs are appended to `evaluations/<collection>/runs.jsonl`, so settings can be compared
across runs; question sets are kept in `sets.json` beside it under the name the user gave.
Names are never used as paths.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.eval.runs import EvalProgress, EvalReport, evaluate_qa
from rag.eval.sets import QAItem, parse_qa
from rag.results import SearchMode, SearchOptions
from rag.search.retriever import Retriever

# Keeps one page's read-modify-write of sets.json from interleaving with another's.
_WRITE_LOCK = threading.Lock()


@dataclass(frozen=True)
class EvalStore:
    """Question sets and runs of one collection."""

    folder: Path

    @classmethod
    def of(cls, data_dir: Path, collection: str) -> EvalStore:
        """The store of a collection in a data folder."""
        return cls(data_dir / "evaluations" / collection)

    # Question sets ------------------------------------------------------------------------

    def set_names(self) -> list[str]:
        """The saved question sets, by name."""
        return sorted(self._sets())

    def load_set(self, name: str) -> list[QAItem]:
        """A saved question set; raises EvalDataError if it is no longer valid."""
        return parse_qa(self._sets()[name], name)

    def save_set(self, name: str, text: str) -> list[QAItem]:
        """Check a question file and save it under `name` (replacing one of that name)."""
        lines = text.splitlines()
        items = parse_qa(lines, name)
        with _WRITE_LOCK:
            sets = self._sets()
            sets[name] = [line for line in lines if line.strip()]
            _write_atomically(self.folder / "sets.json", json.dumps(sets, ensure_ascii=False))
        return items

    def _sets(self) -> dict[str, list[str]]:
        path = self.folder / "sets.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    # Runs ---------------------------------------------------------------------------------

    def save_run(self, report: EvalReport) -> None:
        """Append a run to the history."""
        self.folder.mkdir(parents=True, exist_ok=True)
        line = json.dumps(report.as_dict(), ensure_ascii=False)
        with _WRITE_LOCK, (self.folder / "runs.jsonl").open("a", encoding="utf-8") as runs:
            runs.write(line + "\n")

    def runs(self) -> list[EvalReport]:
        """Past runs, oldest first."""
        path = self.folder / "runs.jsonl"
        if not path.is_file():
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
        return [EvalReport.from_dict(json.loads(line)) for line in lines if line.strip()]


def run_saved_set(
    retriever: Retriever,
    store: EvalStore,
    set_name: str,
    modes: Sequence[SearchMode],
    options: SearchOptions,
    progress: EvalProgress | None = None,
) -> EvalReport:
    """Evaluate a saved question set on the retriever's collection and keep the run."""
    items = store.load_set(set_name)
    report = evaluate_qa(retriever, items, set_name, modes, options, progress)
    store.save_run(report)
    return report


def history_rows(runs: Sequence[EvalReport]) -> list[dict[str, object]]:
    """One row per run and mode, newest first: when, what, the settings and every metric."""
    rows = []
    for number, run in reversed(list(enumerate(runs, start=1))):
        for mode in run.modes:
            rows.append(
                {
                    "run": f"#{number} {run.created_at.replace('T', ' ')[:16]}",
                    "set": run.dataset,
                    "mode": mode.mode.value,
                    **mode.metrics,
                    "p95 ms": mode.p95_ms,
                    **{k: v for k, v in run.settings.items() if k != "embedder"},
                    "embedder": run.settings.get("embedder"),
                }
            )
    return rows


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
