"""The chat model behind one small interface, built by one factory from the settings.

langchain-openai speaks to OpenAI, to any OpenAI-compatible server (Ollama, vLLM, LM Studio)
by base URL, and to Azure OpenAI. Every request has an explicit timeout, and every library
error is translated into the project's own LLMError family (see rag/model_errors.py), whose
message is fit to show to users and never holds a key.

Retries are ours, not the client's (its own are turned off): the client honours a
Retry-After of up to two minutes, which would freeze the page that long, and it cannot know
whether text already reached the user. Ours wait at most `MAX_RETRY_WAIT_S` between tries
and never re-send a request once part of its answer has arrived (that would repeat text).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from rag.answers import Message
from rag.config import Settings
from rag.errors import LLMError, LLMTruncatedError, SettingsError
from rag.providers.model_errors import (
    IncompleteStreamError,
    content_filter_error,
    is_retryable,
    redacted_detail,
    retry_after_s,
    translate_error,
    truncated_error,
)

log = logging.getLogger(__name__)


FIRST_RETRY_WAIT_S = 0.5
# A server that asks for a longer wait gets no retry: the user is told to wait instead.
MAX_RETRY_WAIT_S = 10.0


@dataclass(frozen=True)
class GenerationOptions:
    """Per-request choices from the UI; None keeps what the settings say."""

    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None


@dataclass(frozen=True)
class TokenUsage:
    """Tokens as the server counted them (None where it did not say)."""

    prompt: int | None = None
    completion: int | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """How often, and after how long, a request that failed before any text is re-sent."""

    retries: int
    first_wait_s: float = FIRST_RETRY_WAIT_S
    max_wait_s: float = MAX_RETRY_WAIT_S

    def wait_s(self, retry: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before retry number `retry` (from 1), or None to give up."""
        if retry > self.retries:
            return None
        if retry_after is not None:
            return max(retry_after, 0.0) if retry_after <= self.max_wait_s else None
        return min(self.first_wait_s * 2 ** (retry - 1), self.max_wait_s)

    def longest_s(self, timeout_s: float) -> float:
        """How long a request can fail for before any text, each try ending in one timeout.

        Every pause is taken at its cap. The client's timeout applies per phase, so a try
        that connects slowly and then stalls can take one timeout per phase; once text
        flows, the timeout bounds each stall, not the whole answer.
        """
        return (1 + self.retries) * timeout_s + self.retries * self.max_wait_s


class ChatModel(Protocol):
    """Streams or completes a list of messages; raises LLMError subclasses only."""

    name: str
    last_usage: TokenUsage
    last_tries: int  # requests the last call sent (1 + retries)

    def stream(self, messages: Sequence[Message]) -> Iterator[str]: ...

    def complete(self, messages: Sequence[Message]) -> str: ...


@dataclass
class _Progress:
    """What one try has received so far."""

    text_sent: bool = False
    finish_reason: str | None = None


class LangChainChatModel:
    """A langchain-openai chat model with bounded retries and errors translated for users."""

    def __init__(
        self,
        model,
        name: str,
        settings: Settings,
        max_tokens: int,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._model = model
        self._settings = settings
        self._retry = RetryPolicy(settings.chat_max_retries)
        self._sleep = sleep
        self.name = name
        self.max_tokens = max_tokens
        self.last_usage = TokenUsage()
        self.last_tries = 0

    def stream(self, messages: Sequence[Message]) -> Iterator[str]:
        """Yield the answer's text as it arrives; retry only while none has arrived."""
        self.last_usage, self.last_tries = TokenUsage(), 0
        while True:
            self.last_tries += 1
            progress = _Progress()
            try:
                yield from self._try_once(messages, progress)
                return
            except LLMError:
                raise
            except Exception as exc:
                wait = self._wait_before_retry(exc, progress)
                if wait is None:
                    raise self._failure(exc, progress) from None
                log.info(
                    "chat model: %s; retry %d of %d in %.1f s",
                    _short(exc),
                    self.last_tries,
                    self._retry.retries,
                    wait,
                )
                self._sleep(wait)

    def complete(self, messages: Sequence[Message]) -> str:
        """The whole answer at once (used for short internal steps); a cut answer is kept."""
        parts: list[str] = []
        with contextlib.suppress(LLMTruncatedError):
            parts.extend(self.stream(messages))
        return "".join(parts)

    def _try_once(self, messages: Sequence[Message], progress: _Progress) -> Iterator[str]:
        for chunk in self._model.stream(list(messages)):
            self._note_usage(getattr(chunk, "usage_metadata", None))
            reason = (getattr(chunk, "response_metadata", None) or {}).get("finish_reason")
            progress.finish_reason = reason or progress.finish_reason
            if isinstance(chunk.content, str) and chunk.content:
                progress.text_sent = True
                yield chunk.content
        self._check_ending(progress)

    def _check_ending(self, progress: _Progress) -> None:
        if progress.finish_reason is None:
            raise IncompleteStreamError("the stream ended without a finish reason")
        if progress.finish_reason == "content_filter":
            error = content_filter_error(midway=True)
            log.warning("chat model: %s", error)
            raise error
        if progress.finish_reason == "length":
            raise truncated_error(self.max_tokens, self._settings)

    def _wait_before_retry(self, exc: Exception, progress: _Progress) -> float | None:
        if progress.text_sent or not is_retryable(exc):
            return None
        return self._retry.wait_s(self.last_tries, retry_after_s(exc))

    def _failure(self, exc: Exception, progress: _Progress) -> LLMError:
        error = translate_error(
            exc, self._settings, self.name, tries=self.last_tries, midway=progress.text_sent
        )
        log.warning(
            "chat model failed (requests sent: %d): %s [%s]",
            self.last_tries,
            error,
            redacted_detail(exc, self._settings),
        )
        return error

    def _note_usage(self, usage: dict | None) -> None:
        if usage:
            self.last_usage = TokenUsage(usage.get("input_tokens"), usage.get("output_tokens"))


def answer_token_limit(settings: Settings, options: GenerationOptions) -> int:
    """The answer's token limit: what the UI asked for, never above RAG_MAX_ANSWER_TOKENS."""
    wanted = options.max_tokens or settings.chat_max_tokens
    return max(1, min(wanted, settings.max_answer_tokens))


def clamp_options(settings: Settings, options: GenerationOptions) -> GenerationOptions:
    """The options with the answer's token limit enforced."""
    return replace(options, max_tokens=answer_token_limit(settings, options))


def make_chat_model(settings: Settings, options: GenerationOptions | None = None) -> ChatModel:
    """The configured chat model; raises SettingsError when none is configured."""
    options = clamp_options(settings, options or GenerationOptions())
    if not settings.llm_configured:
        raise SettingsError("No chat model is configured (set RAG_CHAT_MODEL or OPENAI_API_KEY)")
    name = options.model or settings.chat_model or ""
    common = {
        "temperature": settings.chat_temperature
        if options.temperature is None
        else options.temperature,
        "max_tokens": options.max_tokens,
        "timeout": settings.chat_timeout_s,
        "max_retries": 0,  # retried by LangChainChatModel, see the module's docstring
        "streaming": True,
        # Ask the server for token counts at the end of the stream.
        "stream_usage": True,
    }
    if settings.chat_provider == "azure":
        from langchain_openai import AzureChatOpenAI

        model = AzureChatOpenAI(
            azure_endpoint=settings.azure_endpoint,
            azure_deployment=name,
            api_version=settings.azure_api_version,
            api_key=settings.azure_api_key,
            **common,
        )
    else:
        from langchain_openai import ChatOpenAI

        model = ChatOpenAI(
            model=name,
            base_url=settings.chat_base_url,
            # Local servers need no key, but the client insists on one.
            api_key=settings.openai_api_key or "not-needed",
            **common,
        )
    return LangChainChatModel(model, name, settings, options.max_tokens)


def _short(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    return f"{type(exc).__name__}" + (f" (HTTP {status})" if status else "")
