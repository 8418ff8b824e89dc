"""Find [n] citation markers in an answer and check each against the numbered sources; the
verdict on each sentence of an answer (the checking itself is in rag.chat.claims)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from rag.results import ScoredChunk

# [1], [2, 3] and [2; 3]; [1][2] is two markers.
MARKER = re.compile(r"\[(\d{1,4}(?:\s*[,;]\s*\d{1,4})*)\]")


@dataclass(frozen=True)
class Citation:
    """A number the answer cites, and the source it points to (None: no such source)."""

    number: int
    chunk: ScoredChunk | None

    @property
    def valid(self) -> bool:
        """True when the number matches a source that was given to the model."""
        return self.chunk is not None

    def label(self) -> str:
        """ "[2] report.pdf, p. 3", or a plain warning for an unverified number."""
        if self.chunk is None:
            return f"[{self.number}] unverified: no source has this number"
        return f"[{self.number}] {self.chunk.source}, {self.chunk.pages}"

    def as_dict(self) -> dict:
        """JSON-friendly form."""
        chunk = self.chunk
        return {
            "number": self.number,
            "valid": self.valid,
            "source": chunk.source if chunk else None,
            "doc_id": chunk.doc_id if chunk else None,
            "chunk_id": chunk.chunk_id if chunk else None,
            "page_start": chunk.page_start if chunk else None,
            "page_end": chunk.page_end if chunk else None,
        }


def cited_numbers(text: str) -> list[int]:
    """The numbers cited in `text`, each once, in order of first appearance."""
    seen: dict[int, None] = {}
    for match in MARKER.finditer(text):
        for part in re.split(r"[,;]", match.group(1)):
            seen.setdefault(int(part), None)
    return list(seen)


def check_citations(text: str, sources: Sequence[ScoredChunk]) -> tuple[Citation, ...]:
    """Each cited number with its source (1-based), or marked unverified."""
    return tuple(
        Citation(n, sources[n - 1] if 1 <= n <= len(sources) else None) for n in cited_numbers(text)
    )


class Verdict(StrEnum):
    """What checking a sentence against the sources it cites found."""

    SUPPORTED = "supported"  # its numbers and enough of its words are in its cited sources
    UNSUPPORTED = "unsupported"  # a number or too many words missing, or a cited [n] missing
    UNCITED = "uncited"  # states a number or a fact and cites nothing
    QUOTE = "quote"  # quoted from a source as it stands (retrieval-only answers)
    NO_CLAIM = "no claim"  # nothing to check: a connective, or "the sources do not say"


# Verdicts that ask the reader to look twice.
FLAGGED = frozenset({Verdict.UNSUPPORTED, Verdict.UNCITED})


@dataclass(frozen=True)
class SentenceCheck:
    """One sentence of an answer, where it is in the text ([start, end) character offsets),
    the source numbers it cites, the verdict and the reason for it in plain words."""

    text: str
    start: int
    end: int
    citations: tuple[int, ...]
    verdict: Verdict
    reason: str
    # The share of its content words found in its cited sources; None where not measured.
    support: float | None = None

    @property
    def flagged(self) -> bool:
        """True when the reader should check this sentence: unsupported or uncited."""
        return self.verdict in FLAGGED

    def as_dict(self) -> dict:
        """JSON-friendly form."""
        return {
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "citations": list(self.citations),
            "verdict": self.verdict.value,
            "reason": self.reason,
            "support": self.support,
        }


def support_summary(checks: Sequence[SentenceCheck]) -> str:
    """One line on the whole answer: "3 of 4 sentences supported by their sources", or "All 3
    sentences are quoted from the sources"; "" when there is no sentence at all.

    Sentences with no claim ("no claim") are left out of the counts.
    """
    if not checks:
        return ""
    claims = [check for check in checks if check.verdict is not Verdict.NO_CLAIM]
    if not claims:
        return "No sentence states a claim to check"
    if all(check.verdict is Verdict.QUOTE for check in claims):
        if len(claims) == 1:
            return "The sentence is quoted from the sources"
        return f"All {len(claims)} sentences are quoted from the sources"
    supported = sum(check.verdict in (Verdict.SUPPORTED, Verdict.QUOTE) for check in claims)
    noun = "sentence" if len(claims) == 1 else "sentences"
    return f"{supported} of {len(claims)} {noun} supported by their sources"
