"""Check each sentence of an answer against the sources it cites.

A sentence is "supported" when every number it states is in one of its cited sources
(rag.chat.numbers says when two numbers are the same) and at least SUPPORT_THRESHOLD of
its content words are in them (`word_support`). It is "unsupported" when a number or too
many of its words are missing, or when it cites a number that is no source; "uncited"
when it cites nothing yet states a number or a fact.

Not every sentence is a claim. A sentence gets "no claim" and stays out of the summary's
counts when it says the sources do not cover something ("The sources do not say ..."),
asks a question, introduces a list (ends with ":"), or is an uncited connective with fewer
than MIN_CLAIM_WORDS content words and no number ("In summary:", "I hope this helps.").

This is a lexical check, not entailment: a sentence that reuses a source's words to say
the opposite passes, and a faithful paraphrase in other words may not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rag.answers import TraceStep, label
from rag.chat.numbers import Number, find_numbers, without_numbers
from rag.chat.sentences import line_spans, sentence_spans
from rag.chat.trace import ms_since
from rag.chat.words import content_words, word_support
from rag.citations import SentenceCheck, Verdict, cited_numbers, support_summary
from rag.results import ScoredChunk

__all__ = [
    "SUPPORT_THRESHOLD",
    "ClaimsTrace",
    "SentenceCheck",
    "Verdict",
    "check_claims",
    "claim_words",
    "claims_trace",
    "quoted",
    "support_summary",
]

# Measured on SciFact claims against their evidence abstracts and against the best-matching
# other abstract by BM25 (bench/claim_support.py, BENCHMARKS.md): best F1 at 0.59, best
# Youden's J at 0.63. At 0.60 the check passes 76% of evidence and 47% of those look-alikes;
# a lower threshold passes nearly every look-alike (0.40: 91%), a higher one flags too much
# real evidence (0.70: 42%).
SUPPORT_THRESHOLD = 0.6
# Fewer content words than this, and no number: a connective, not a claim.
MIN_CLAIM_WORDS = 3
# "The sources do not say ...", "not mentioned", "no information", "I cannot determine":
# the answer talks about what its sources lack. The sources must be the subject ("the
# company did not provide guidance" is a claim).
_NO_INFORMATION = re.compile(
    r"\b(?:sources?|documents?|context|excerpts?|passages?|texts?|information)\s+(?:\w+\s+)?"
    r"(?:do|does|did|is|are)(?:\s+not|n['’]t)\b"
    r"|\bnot\s+(?:mentioned|stated|specified|discussed)\b"
    r"|\bno\s+(?:information|mention|details?)\b"
    r"|\b(?:cannot|can['’]t|could\s+not|unable\s+to)\s+(?:find|determine|answer|tell|confirm)\b"
    r"|\b(?:don['’]t|do\s+not)\s+know\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Source:
    """A source's content words and numbers, read once for all sentences that cite it."""

    words: frozenset[str]
    numbers: tuple[Number, ...]

    @classmethod
    def of(cls, chunk: ScoredChunk) -> _Source:
        text = f"{chunk.header}\n{chunk.text}"
        return cls(frozenset(content_words(text)), tuple(find_numbers(text)))


def check_claims(
    text: str, sources: Sequence[ScoredChunk], threshold: float = SUPPORT_THRESHOLD
) -> tuple[SentenceCheck, ...]:
    """Each sentence of `text` with its citations, span, verdict and reason; `sources` are
    the chunks the answer was given, cited as [1], [2], ... in this order."""
    read = [_Source.of(chunk) for chunk in sources]
    checks = []
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        verdict, reason, support = _judge(sentence, read, threshold)
        checks.append(
            SentenceCheck(
                sentence, start, end, tuple(cited_numbers(sentence)), verdict, reason, support
            )
        )
    return tuple(checks)


def quoted(text: str, sources: Sequence[ScoredChunk]) -> tuple[SentenceCheck, ...]:
    """The lines of a retrieval-only answer, each a quote of the sources it cites: supported
    by construction, since nothing was written, only copied."""
    checks = []
    for start, end in line_spans(text):
        line = text[start:end]
        numbers = tuple(cited_numbers(line))
        where = _markers(numbers) if numbers else "the sources"
        checks.append(
            SentenceCheck(
                line, start, end, numbers, Verdict.QUOTE, f"quoted as it stands in {where}"
            )
        )
    return tuple(checks)


def _judge(
    sentence: str, sources: list[_Source], threshold: float
) -> tuple[Verdict, str, float | None]:
    cited = cited_numbers(sentence)
    numbers = find_numbers(sentence)
    words = claim_words(sentence)
    why_not = _why_no_claim(sentence, numbers, words, cited)
    if why_not:
        return Verdict.NO_CLAIM, why_not, None
    if not cited:
        stated = f"states {numbers[0].text}" if numbers else "states a fact"
        return Verdict.UNCITED, f"{stated} but cites no source", None
    missing = [n for n in cited if not 1 <= n <= len(sources)]
    if missing:
        return Verdict.UNSUPPORTED, _not_sources(missing), None
    chosen = [sources[n - 1] for n in cited]
    return _compare(numbers, words, chosen, _markers(cited), threshold)


def claim_words(sentence: str) -> list[str]:
    """The content-word stems a sentence's support is measured on: its numbers, with their
    scale words and units ("billion", "percent"), are checked on their own, so left out."""
    return content_words(without_numbers(sentence))


def _why_no_claim(
    sentence: str, numbers: list[Number], words: list[str], cited: list[int]
) -> str | None:
    """Why the sentence states nothing to check, or None when it is a claim. A sentence
    that states a number is always a claim, whatever else it says."""
    if numbers:
        return None
    if _NO_INFORMATION.search(sentence):
        return "says what the sources do not cover; there is nothing in them to check"
    if sentence.rstrip().endswith("?"):
        return "a question, not a claim"
    if not cited and sentence.rstrip().endswith(":"):
        return "introduces what follows"
    if not words or (not cited and len(set(words)) < MIN_CLAIM_WORDS):
        return "a short connecting sentence, not a claim"
    return None


def _compare(
    numbers: list[Number], words: list[str], sources: list[_Source], where: str, threshold: float
) -> tuple[Verdict, str, float | None]:
    """The verdict on a sentence against the sources it cites."""
    known = [number for source in sources for number in source.numbers]
    absent = [number.text for number in numbers if not number.found_in(known)]
    support = word_support(words, frozenset().union(*(s.words for s in sources)))
    if absent:
        return Verdict.UNSUPPORTED, f"{_and(absent)} not found in {where}", support
    if support is None:
        return Verdict.SUPPORTED, f"its numbers are in {where}", None
    score = f"support {support:.2f}"
    if support < threshold:
        reason = f"few of its words are in {where} ({score} < {threshold:.2f})"
        return Verdict.UNSUPPORTED, reason, support
    what = "its numbers and most of its words" if numbers else "most of its words"
    return Verdict.SUPPORTED, f"{what} are in {where} ({score} ≥ {threshold:.2f})", support


def _not_sources(missing: list[int]) -> str:
    if len(missing) == 1:
        return f"cites [{missing[0]}], which is not a source"
    return f"cites {_and([f'[{n}]' for n in missing])}, which are not sources"


def _markers(cited: Sequence[int]) -> str:
    """ "[2]" or "[1] or [3]": where a number or word may be found."""
    marks = [f"[{n}]" for n in cited]
    return marks[0] if len(marks) == 1 else f"{', '.join(marks[:-1])} or {marks[-1]}"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


@dataclass(frozen=True)
class ClaimsTrace(TraceStep):
    """How the answer's sentences fared against the sources they cite."""

    title: ClassVar[str] = "Claim check"

    sentences: int = label("sentences")
    supported: int = label("supported")
    unsupported: int = label("unsupported")
    uncited: int = label("uncited")
    no_claim: int = label("no claim (not counted)")
    threshold: float = label("word support threshold")
    ms: float | None = None


def claims_trace(
    checks: Sequence[SentenceCheck], started: float, threshold: float = SUPPORT_THRESHOLD
) -> ClaimsTrace:
    """The step for `checks`, timed since `started` (a `time.perf_counter()` reading)."""
    count = dict.fromkeys(Verdict, 0)
    for check in checks:
        count[check.verdict] += 1
    return ClaimsTrace(
        sentences=len(checks),
        supported=count[Verdict.SUPPORTED] + count[Verdict.QUOTE],
        unsupported=count[Verdict.UNSUPPORTED],
        uncited=count[Verdict.UNCITED],
        no_claim=count[Verdict.NO_CLAIM],
        threshold=threshold,
        ms=ms_since(started),
    )
