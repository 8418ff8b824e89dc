"""A retrieval-only answer: the most relevant sentences of the top chunks, quoted and cited.

Used when no chat model is configured. Nothing is generated: every sentence is quoted as it
stands in a source, with that source's [n] number, and the answer says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.results import ScoredChunk
from rag.safe_text import escape_markdown, query_terms, shorten

EXTRACTIVE_NOTICE = (
    "Retrieval-only answer: no language model is configured, so these are the most relevant"
    " sentences of the top sources, quoted as they stand."
)
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")
_WORD = re.compile(r"\w+", re.UNICODE)
# Sentences longer than this are cut, so one run-on "sentence" cannot fill the answer.
MAX_SENTENCE_CHARS = 400
# Word prefixes of this length stand in for stems: "indexing" matches "indexes".
_STEM = 5


def extractive_answer(
    query: str, sources: Sequence[ScoredChunk], max_sentences: int = 3, max_sources: int = 3
) -> str:
    """Markdown (already escaped): up to `max_sentences` quoted sentences with [n] markers."""
    terms = {t[:_STEM] for t in query_terms(query)}
    candidates = [
        (_overlap(sentence, terms), -number, number, sentence)
        for number, chunk in enumerate(sources[:max_sources], start=1)
        for sentence in _sentences(chunk.text)
    ]
    if not candidates:
        return ""
    best = [c for c in sorted(candidates, reverse=True) if c[0] > 0][:max_sentences]
    if not best:
        # No word in common (a purely semantic match): quote the top chunk's opening.
        best = [c for c in candidates if c[2] == 1][:max_sentences]
    lines = [f"> “{escape_markdown(sentence)}” [{number}]" for *_, number, sentence in best]
    return "\n>\n".join(lines)


def _sentences(text: str) -> list[str]:
    parts = (" ".join(p.split()) for p in _SENTENCE_END.split(text))
    return [shorten(p, MAX_SENTENCE_CHARS) for p in parts if len(p) > 1]


def _overlap(sentence: str, terms: set[str]) -> int:
    return len(terms & {w.lower()[:_STEM] for w in _WORD.findall(sentence)})
