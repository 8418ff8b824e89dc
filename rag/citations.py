"""Find [n] citation markers in an answer and check each against the numbered sources."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.results import ScoredChunk

# [1], [2, 3] and [2; 3]; [1][2] is two markers.
_MARKER = re.compile(r"\[(\d{1,4}(?:\s*[,;]\s*\d{1,4})*)\]")


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
    for match in _MARKER.finditer(text):
        for part in re.split(r"[,;]", match.group(1)):
            seen.setdefault(int(part), None)
    return list(seen)


def check_citations(text: str, sources: Sequence[ScoredChunk]) -> tuple[Citation, ...]:
    """Each cited number with its source (1-based), or marked unverified."""
    return tuple(
        Citation(n, sources[n - 1] if 1 <= n <= len(sources) else None) for n in cited_numbers(text)
    )
