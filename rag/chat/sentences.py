"""Split an answer into sentences, each with its character span in the answer's text.

A line break always ends a sentence (answers put list items, headings and paragraphs on
lines of their own); inside a line a sentence ends at ".", "!" or "?" followed by a space.
Not at decimals ("1.6 billion": no space follows), nor after abbreviations ("U.S.",
"Inc.", "e.g."), nor where the next word starts in lower case. Citation markers right
after the end ("... rose.[1]" or "... rose. [1] Next") stay with their sentence. A list
item's bullet or number and a heading's "#" are not part of its sentence.
"""

from __future__ import annotations

import re

from rag.citations import MARKER

_LINE = re.compile(r"[^\n]+")
# Quote marks ("> "), a heading's #, a bullet or a list item's number: not the sentence's.
_LEAD = re.compile(r"\s*(?:>\s?)*\s*(?:#{1,6}\s+|[-*+•]\s+|\d{1,3}[.)]\s+)?")
_END = re.compile(
    r"[.!?…]+[\"'”’)*_]*(?:\s*\[\d{1,4}(?:\s*[,;]\s*\d{1,4})*\])*(?=\s|$)",
)
_WORD_BEFORE = re.compile(r"([\w.]+)$")
_ABBREVIATIONS = frozenset(
    re.findall(
        r"\S+",
        "mr mrs ms dr prof sr jr st inc ltd corp co plc llc vs etc e.g i.e cf al approx fig figs"
        " no nos vol pp p ed eds dept est jan feb mar apr jun jul aug sep sept oct nov dec"
        " u.s u.k u.n e.u",
    )
)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) character offsets of each sentence of `text`, in order."""
    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text):
        start = line.start() + _LEAD.match(line.group(0)).end()
        spans += _line_spans(text, start, line.end())
    return spans


def line_spans(text: str) -> list[tuple[int, int]]:
    """One span per non-empty line (without its quote mark or bullet): for texts whose
    lines are quotations, where a line is one unit however many sentences it holds."""
    spans = []
    for line in _LINE.finditer(text):
        start = line.start() + _LEAD.match(line.group(0)).end()
        span = _trimmed(text, start, line.end())
        if span:
            spans.append(span)
    return spans


def _line_spans(text: str, start: int, stop: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for end in _ends(text, start, stop):
        span = _trimmed(text, start, end)
        if span:
            spans.append(span)
        elif spans and text[start:end].strip():
            # Only markers and punctuation ('... "spermatids." [1].'): they end the last one.
            spans[-1] = (spans[-1][0], start + len(text[start:end].rstrip()))
        start = end
    return spans


def _ends(text: str, start: int, stop: int) -> list[int]:
    """Where sentences end between `start` and `stop` (always at `stop`)."""
    ends = [
        match.end()
        for match in _END.finditer(text, start, stop)
        if not _continues(text, match, stop)
    ]
    return [*ends, stop] if not ends or ends[-1] != stop else ends


def _continues(text: str, end: re.Match, stop: int) -> bool:
    """True when this "." ends an abbreviation, or the next word starts in lower case."""
    following = text[end.end() : stop].lstrip()
    if following[:1].islower():
        return True
    if end.group(0) != ".":  # "!", "?", "..." or a citation marker: a real end
        return False
    before = _WORD_BEFORE.search(text, max(0, end.start() - 40), end.start())
    word = before.group(1).lower() if before else ""
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span without surrounding spaces; None when no letter or digit is left outside
    citation markers."""
    piece = text[start:end]
    left = len(piece) - len(piece.lstrip())
    right = len(piece.rstrip())
    if not any(ch.isalnum() for ch in MARKER.sub("", piece)):
        return None
    return start + left, start + right
