"""The streamed answer: a generator that yields the text as it arrives and returns the Answer.

`write_answer` is the flow's last stages (generate, then finish: citations checked, timings
summed). A model error never escapes: the answer keeps what arrived, is marked incomplete
and carries the error's message. `AnswerStream` wraps such a generator for a page that reads
the text first and the final `Answer` after.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from dataclasses import replace

from rag.answers import Answer, AnswerKind, answer_markdown
from rag.chat.claims import check_claims, claims_trace
from rag.chat.context import count_tokens
from rag.chat.stages import Prompt
from rag.chat.trace import AnswerTrace, CondenseTrace, SearchTrace, TimingsTrace, ms_since
from rag.citations import check_citations
from rag.errors import LLMError
from rag.providers.chat_model import ChatModel

# Yields pieces of the answer's text; returns the final Answer.
AnswerGenerator = Generator[str, None, Answer]


def write_answer(
    model: ChatModel,
    draft: Answer,
    prompt: Prompt,
    searched: tuple[CondenseTrace, SearchTrace],
    started: float,
) -> AnswerGenerator:
    """Stream the model's answer to `prompt`, then return it finished.

    `draft` holds the trace so far; `searched` are the condense and search steps, whose
    times go into the timings; `started` is when the question came in (a
    `time.perf_counter()` reading).
    """
    text, answered = yield from generate(model, prompt)
    timings = timings_trace(*searched, answered, started)
    return finish(draft, prompt, text, (answered, timings))


def generate(model: ChatModel, prompt: Prompt) -> Generator[str, None, tuple[str, AnswerTrace]]:
    """Yield the model's text as it arrives; return all of it and the answer's step.

    A model error ends the stream: what arrived is kept and the error goes in the step.
    """
    parts: list[str] = []
    error: str | None = None
    first_token_ms: float | None = None
    started = time.perf_counter()
    try:
        for delta in model.stream(prompt.messages):
            if first_token_ms is None:
                first_token_ms = ms_since(started)
            parts.append(delta)
            yield delta
    except LLMError as exc:
        error = str(exc)
    text = "".join(parts)
    return text, _answer_trace(model, text, error, first_token_ms, started)


def _answer_trace(
    model: ChatModel, text: str, error: str | None, first_token_ms: float | None, started: float
) -> AnswerTrace:
    usage = model.last_usage
    return AnswerTrace(
        model=model.name,
        prompt_tokens=usage.prompt,
        answer_tokens=usage.completion if usage.completion is not None else count_tokens(text),
        first_token_ms=first_token_ms,
        requests_sent=model.last_tries,
        error=error,
        ms=ms_since(started),
    )


def timings_trace(
    condensed: CondenseTrace, searched: SearchTrace, answered: AnswerTrace, started: float
) -> TimingsTrace:
    """Each stage's time side by side, and the total since `started`."""
    search = searched.timings
    return TimingsTrace(
        condense_ms=condensed.ms,
        embed_ms=search.embed_ms,
        vector_ms=search.vector_ms,
        bm25_ms=search.bm25_ms,
        fusion_ms=search.fusion_ms,
        rerank_ms=search.rerank_ms,
        first_token_ms=answered.first_token_ms,
        total_ms=ms_since(started),
    )


def finish(
    draft: Answer, prompt: Prompt, text: str, steps: tuple[AnswerTrace, TimingsTrace]
) -> Answer:
    """The final answer: its text, the sources it was given, its citations and then each
    sentence checked against them, and the answer, timings and claim-check steps added to
    the trace (the claim check runs after the last token, so outside the timings' total)."""
    answered = steps[0]
    started = time.perf_counter()
    sentences = check_claims(text, prompt.sources)
    return replace(
        draft,
        text=text,
        sources=prompt.sources,
        citations=check_citations(text, prompt.sources),
        sentences=sentences,
        trace=(*draft.trace, *steps, claims_trace(sentences, started)),
        incomplete=answered.error is not None,
        error=answered.error,
    )


def replay(answer: Answer) -> AnswerGenerator:
    """A finished answer as a stream: its whole text at once (if any), then the answer."""
    if answer.text:
        yield answer.text
    return answer


class AnswerStream:
    """Iterate for the text as it arrives; then `.answer` is the final Answer."""

    def __init__(self, answer: AnswerGenerator, kind: AnswerKind = AnswerKind.GENERATED) -> None:
        self.kind = kind
        self._answer: Answer | None = None
        self._deltas = self._keep_answer(answer)

    @classmethod
    def of(cls, answer: Answer) -> AnswerStream:
        """The stream of an answer that is already complete (no model involved)."""
        return cls(replay(answer), answer.kind)

    def _keep_answer(self, answer: AnswerGenerator) -> Iterator[str]:
        self._answer = yield from answer

    def __iter__(self) -> Iterator[str]:
        return self._deltas

    def markdown(self, text_so_far: str) -> str:
        """What has arrived so far, safe to render as Markdown."""
        return answer_markdown(text_so_far, self.kind)

    @property
    def answer(self) -> Answer:
        """The final answer; finishes the stream first if it was not read to the end."""
        for _ in self._deltas:
            pass
        if self._answer is None:
            raise RuntimeError("the answer stream ended without an answer")
        return self._answer
