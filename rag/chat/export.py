"""Export a conversation as Markdown (to read) or JSON (to process): questions, answers,
citations, each sentence's claim check, sources with every score, and the trace; and one
answer as JSON, the object `python -m rag.ask --json` prints and the HTTP service returns."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from rag.answers import Answer, AnswerKind
from rag.citations import SentenceCheck, Verdict
from rag.safe_text import unescape_markdown

FORMAT_VERSION = 1
# The answer's "mode": written by the chat model, or sentences quoted without one.
MODES = {True: "generated", False: "retrieval-only"}


def conversation_json(answers: Sequence[Answer], exported_at: datetime | None = None) -> str:
    """The conversation as indented JSON text."""
    document = {
        "format_version": FORMAT_VERSION,
        "exported_at": (exported_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        "turns": [answer.as_dict() for answer in answers],
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


def conversation_markdown(answers: Sequence[Answer], exported_at: datetime | None = None) -> str:
    """The conversation as a Markdown document."""
    when = (exported_at or datetime.now(UTC)).isoformat(timespec="seconds")
    lines = ["# Conversation", "", f"Exported {when}.", ""]
    for number, answer in enumerate(answers, start=1):
        lines += _turn(number, answer)
    return "\n".join(lines).rstrip() + "\n"


def _turn(number: int, answer: Answer) -> list[str]:
    lines = [f"## {number}. {answer.question}", ""]
    if answer.query != answer.question:
        lines += [f"*Searched for:* {answer.query}", ""]
    lines += [answer.text or "(no answer)", ""]
    if answer.incomplete:
        lines += [f"**Incomplete:** {answer.error}", ""]
    if answer.notice:
        lines += [f"*{answer.notice}*", ""]
    if answer.citations:
        lines += ["**Citations**", ""]
        lines += [f"- {citation.label()}" for citation in answer.citations]
        lines.append("")
    lines += _claims(answer)
    if answer.chunks:
        lines += ["**Retrieved chunks**", ""]
        lines += [_chunk_line(chunk) for chunk in answer.chunks]
        lines.append("")
    lines += ["**Trace**", ""]
    lines += [
        f"- {step.title}: {json.dumps(step.labelled(), ensure_ascii=False)}"
        for step in answer.trace
    ]
    lines.append("")
    return lines


def _claims(answer: Answer) -> list[str]:
    """The claim check's summary, then each sentence to check twice with its reason."""
    if not answer.sentences:
        return []
    lines = [f"**Claim check:** {answer.support_summary}.", ""]
    for check in answer.flagged:
        lines.append(f"- *{check.verdict.value}:* “{check.text}” ({check.reason})")
    return [*lines, ""] if answer.flagged else lines


def _chunk_line(chunk) -> str:
    scores = []
    for name, score in chunk.scores().items():
        if name == "rerank" and score is None:
            continue  # not reranked: the search ran without the stage
        shown = f"{score.value:.4f} (rank {score.rank})" if score else "not returned"
        scores.append(f"{name} {shown}")
    return f"- #{chunk.rank} {chunk.source}, {chunk.pages}: {'; '.join(scores)}"


def answer_json(answer: Answer, generated: bool) -> dict:
    """One answer as `python -m rag.ask --json` prints it: text, mode, citations,
    per-sentence verdicts, every retrieved chunk with its scores (as `rag.search --json`),
    and the trace. `generated`: a chat model is configured."""
    claims = [s for s in answer.sentences if s.verdict is not Verdict.NO_CLAIM]
    return {
        "question": answer.question,
        "answer": plain_text(answer.text, answer.kind),
        "mode": MODES[generated and answer.kind is not AnswerKind.EXTRACTIVE],
        "kind": answer.kind.value,
        "model": answer.model,
        "error": answer.error,
        "notice": answer.notice,
        "warning": answer.warning,
        "citations": citations_json(answer),
        "unverified_citations": [c.number for c in answer.unverified],
        "sentences": [_sentence(s, answer.kind) for s in claims],
        # Sentences that state nothing to check ("The sources do not say ..."), apart.
        "no_claim": [_sentence(s, answer.kind) for s in answer.sentences if s not in claims],
        "support": answer.support_summary,
        "chunks": [chunk.as_dict() for chunk in answer.chunks],
        "trace": [step.as_dict() for step in answer.trace],
    }


def citations_json(answer: Answer) -> list[dict]:
    """The answer's citations that point at a source, as `answer_json` lists them."""
    return [
        {
            "n": c.number,
            "source": c.chunk.source,
            "page_start": c.chunk.page_start,
            "page_end": c.chunk.page_end,
            "location": c.chunk.pages,
            "chunk_id": c.chunk.chunk_id,
        }
        for c in answer.citations
        if c.chunk is not None
    ]


def plain_text(text: str, kind: AnswerKind) -> str:
    """The answer's text (or a piece of it) as written: quotes (retrieval-only answers)
    are kept escaped for Markdown, which a terminal or a JSON reader does not want."""
    return unescape_markdown(text) if kind is AnswerKind.EXTRACTIVE else text


def _sentence(check: SentenceCheck, kind: AnswerKind) -> dict:
    return {
        "text": plain_text(check.text, kind),
        "citations": list(check.citations),
        "verdict": check.verdict.value,
        "reason": check.reason,
        "support": check.support,
    }
