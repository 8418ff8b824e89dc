"""What a chat turn returns: the answer, its sources and citations, and its trace."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

from rag.citations import Citation, SentenceCheck, support_summary
from rag.results import ScoredChunk
from rag.safe_text import safe_markdown

# (role, content) with role "system", "user" or "assistant".
Message = tuple[str, str]
Step = TypeVar("Step", bound="TraceStep")


class AnswerKind(StrEnum):
    """How the answer's text came about."""

    GENERATED = "generated"  # written by the chat model from the sources
    EXTRACTIVE = "extractive"  # sentences quoted from the sources, no model
    NOTHING_FOUND = "nothing found"  # retrieval returned no chunk


def answer_markdown(text: str, kind: AnswerKind) -> str:
    """Answer text (or the part streamed so far) made safe to render as Markdown.

    Model output is neutralised; quoted (extractive) and fixed texts are escaped already.
    """
    return safe_markdown(text) if kind is AnswerKind.GENERATED else text


class TraceStep:
    """One stage of answering: what it did, with its settings, numbers and timing.

    Each stage has a frozen dataclass of its own with typed fields (rag.chat.trace). A field
    with a `label` in its metadata is shown under that label; `ms` is the stage's time.
    """

    title: ClassVar[str] = ""
    ms: float | None = None

    def labelled(self) -> dict[str, object]:
        """The details by the label people read, in field order."""
        return {
            item.metadata["label"]: _plain(getattr(self, item.name))
            for item in fields(self)
            if "label" in item.metadata
        }

    def as_dict(self) -> dict:
        """JSON-friendly form."""
        return {"title": self.title, "ms": self.ms, "detail": self.labelled()}


def label(name: str, default: object = MISSING) -> Any:
    """A dataclass field of a trace step, shown under `name`."""
    return field(default=default, metadata={"label": name})


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class Answer:
    """One answered question. `sources` are the chunks the model saw, numbered from 1."""

    question: str
    query: str
    text: str
    kind: AnswerKind
    chunks: tuple[ScoredChunk, ...] = ()
    sources: tuple[ScoredChunk, ...] = ()
    citations: tuple[Citation, ...] = ()
    trace: tuple[TraceStep, ...] = ()
    incomplete: bool = False
    error: str | None = None
    notice: str | None = None
    warning: str | None = None
    model: str | None = None
    # Each sentence with its verdict against the sources it cites (rag.chat.claims).
    sentences: tuple[SentenceCheck, ...] = ()

    def markdown(self) -> str:
        """The text, safe to render as Markdown."""
        return answer_markdown(self.text, self.kind)

    def step(self, kind: type[Step]) -> Step | None:
        """The trace step of one kind (for example `SearchTrace`), or None if it did not run."""
        return next((step for step in self.trace if isinstance(step, kind)), None)

    def source_number(self, chunk: ScoredChunk) -> int | None:
        """The [n] of a retrieved chunk if it was given to the model as a source."""
        for number, source in enumerate(self.sources, start=1):
            if source.chunk_id == chunk.chunk_id:
                return number
        return None

    def is_cited(self, chunk: ScoredChunk) -> bool:
        """True when a valid citation of the answer points at this chunk."""
        return any(c.chunk and c.chunk.chunk_id == chunk.chunk_id for c in self.citations)

    @property
    def unverified(self) -> tuple[Citation, ...]:
        """Citations whose number matches no source."""
        return tuple(c for c in self.citations if not c.valid)

    @property
    def support_summary(self) -> str:
        """ "3 of 4 sentences supported by their sources" ("" when nothing was checked)."""
        return support_summary(self.sentences)

    @property
    def flagged(self) -> tuple[SentenceCheck, ...]:
        """The sentences a reader should check: unsupported or uncited."""
        return tuple(check for check in self.sentences if check.flagged)

    def as_dict(self) -> dict:
        """JSON-friendly form: everything the UI shows, for export."""
        return {
            "question": self.question,
            "query": self.query,
            "answer": self.text,
            "kind": self.kind.value,
            "model": self.model,
            "incomplete": self.incomplete,
            "error": self.error,
            "notice": self.notice,
            "warning": self.warning,
            "citations": [c.as_dict() for c in self.citations],
            "support_summary": self.support_summary,
            "sentences": [check.as_dict() for check in self.sentences],
            "sources": [chunk.chunk_id for chunk in self.sources],
            "chunks": [chunk.as_dict() for chunk in self.chunks],
            "trace": [step.as_dict() for step in self.trace],
        }
