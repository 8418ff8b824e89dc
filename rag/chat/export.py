"""Export a conversation as Markdown (to read) or JSON (to process): questions, answers,
citations, each sentence's claim check, sources with every score, and the trace."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from rag.answers import Answer

FORMAT_VERSION = 1


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
