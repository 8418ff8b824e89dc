"""Fit sources and chat history into the model's token budget, counted with tiktoken.

The encoder is built on first use, never at import time: on a cold cache tiktoken downloads
its file, and importing this module must not touch the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rag.answers import Message
from rag.results import ScoredChunk

# Tokens the chat format adds around each message (role, separators); OpenAI's own guide
# counts 3-4, so 4 keeps the estimate on the safe side.
MESSAGE_OVERHEAD = 4
# History may take at most this share of what is left after the fixed parts.
HISTORY_SHARE = 0.25


@lru_cache(maxsize=1)
def _encoding():
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str) -> int:
    """Tokens in `text` by cl100k_base (the model's own count may differ slightly)."""
    return len(_encoding().encode(text, disallowed_special=()))


@dataclass(frozen=True)
class FittedContext:
    """What goes into the prompt, what was left out, and the estimated prompt size."""

    sources: tuple[ScoredChunk, ...]
    history: tuple[Message, ...]
    dropped_sources: tuple[ScoredChunk, ...]
    dropped_messages: int
    prompt_tokens: int
    budget: int


def fit_context(
    fixed_text: str,
    source_texts: Sequence[tuple[ScoredChunk, str]],
    history: Sequence[Message],
    budget: int,
) -> FittedContext:
    """Keep the newest history within its share, then sources in rank order until full.

    `fixed_text` is what is always sent (instructions and the question); `source_texts`
    pairs each chunk with its formatted text. A source too large for what is left is
    dropped and smaller ones after it may still fit, so one huge chunk cannot crowd out all.
    """
    used = count_tokens(fixed_text) + 2 * MESSAGE_OVERHEAD
    kept_history = _newest_within(history, int(max(budget - used, 0) * HISTORY_SHARE))
    used += sum(count_tokens(text) + MESSAGE_OVERHEAD for _, text in kept_history)
    kept: list[ScoredChunk] = []
    dropped: list[ScoredChunk] = []
    for chunk, text in source_texts:
        cost = count_tokens(text) + 2  # the blank line between sources
        if used + cost <= budget:
            kept.append(chunk)
            used += cost
        else:
            dropped.append(chunk)
    return FittedContext(
        sources=tuple(kept),
        history=tuple(kept_history),
        dropped_sources=tuple(dropped),
        dropped_messages=len(history) - len(kept_history),
        prompt_tokens=used,
        budget=budget,
    )


def _newest_within(history: Sequence[Message], budget: int) -> list[Message]:
    """The longest suffix of whole question/answer pairs that fits `budget`."""
    kept: list[Message] = []
    used = 0
    for start in range(len(history) - 2, -1, -2):
        pair = list(history[start : start + 2])
        cost = sum(count_tokens(text) + MESSAGE_OVERHEAD for _, text in pair)
        if used + cost > budget:
            break
        kept[:0] = pair
        used += cost
    return kept
