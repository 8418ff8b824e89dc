"""The chat model's failures, told to users: which kind, whether a retry can help, and why.

Each message says what happened and what to check. None holds the server's own words (a
server may echo the key it was sent, as OpenAI does on HTTP 401); those go to the log only,
with keys masked, through `redacted_detail`.
"""

from __future__ import annotations

import math
import re
from urllib.parse import urlsplit

import openai
from langchain_core.exceptions import ContextOverflowError

from rag.config import Settings
from rag.errors import (
    LLMAuthenticationError,
    LLMConnectionError,
    LLMContentFilterError,
    LLMContextLengthError,
    LLMError,
    LLMRateLimitError,
    LLMStreamError,
    LLMTimeoutError,
    LLMTruncatedError,
)

# Phrases other OpenAI-compatible servers (vLLM, Ollama, LM Studio) use for an overflow.
_CONTEXT_PHRASES = ("context length", "context_length", "context window", "too many tokens")
_KEY_LIKE = re.compile(r"\b(sk-[A-Za-z]*-?)[A-Za-z0-9_\-]{3,}")
_DETAIL_CHARS = 500


class IncompleteStreamError(Exception):
    """The stream ended without a finish reason: the server closed it early."""


def is_retryable(exc: Exception) -> bool:
    """True when sending the same request again may succeed."""
    if isinstance(exc, IncompleteStreamError | openai.APIConnectionError):
        return True  # APITimeoutError is an APIConnectionError
    if isinstance(exc, openai.RateLimitError):
        return _code(exc) != "insufficient_quota"
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409) or exc.status_code >= 500
    return False


def retry_after_s(exc: Exception) -> float | None:
    """The wait a server asked for (Retry-After in seconds, or retry-after-ms), if any."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            seconds = float(headers[name]) / divisor
        except (KeyError, TypeError, ValueError):
            continue  # absent, or an HTTP date: fall back to our own backoff
        return seconds if math.isfinite(seconds) else None
    return None


def translate_error(
    exc: Exception, settings: Settings, model: str, *, tries: int = 1, midway: bool = False
) -> LLMError:
    """A library error as one of ours; `midway` means part of the answer had arrived."""
    where = server_label(settings)
    if midway and isinstance(exc, openai.APITimeoutError):
        return LLMStreamError(
            f"The chat model stopped sending for more than {settings.chat_timeout_s:g} s in"
            " the middle of its answer. Ask again, or raise RAG_CHAT_TIMEOUT_S if the server"
            " is slow."
        )
    if midway and isinstance(exc, openai.APIConnectionError | IncompleteStreamError):
        return LLMStreamError(
            f"The connection to the chat model at {where} broke in the middle of its answer."
            " Ask again."
        )
    if isinstance(exc, openai.APITimeoutError):
        return LLMTimeoutError(
            f"The chat model at {where} did not answer within {settings.chat_timeout_s:g} s"
            f" ({_tries(tries)}). Try again, or raise RAG_CHAT_TIMEOUT_S."
        )
    if isinstance(exc, openai.APIConnectionError):
        return LLMConnectionError(
            f"Could not reach the chat model at {where} ({_tries(tries)}): is it running, and"
            " is the address right?"
        )
    if isinstance(exc, IncompleteStreamError):
        return LLMConnectionError(
            f"The chat model at {where} closed the connection before answering"
            f" ({_tries(tries)}). Try again."
        )
    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc, settings, model, where, tries)
    if isinstance(exc, openai.APIError):  # an error event inside a stream
        when = " in the middle of its answer" if midway else ""
        return LLMError(f"The chat model at {where} reported an error{when}. Ask again.")
    return LLMError(f"The chat model's answer could not be read ({type(exc).__name__}).")


def content_filter_error(midway: bool) -> LLMContentFilterError:
    """The provider's filter stopped the answer (midway) or refused the request."""
    what = (
        "stopped the answer (finish reason content_filter)"
        if midway
        else "refused the request (HTTP 400, content_filter): the question or the retrieved"
        " sources set it off"
    )
    return LLMContentFilterError(
        f"The provider's content filter {what}. Rephrase the question, or check the content"
        " filter settings of the model's deployment."
    )


def truncated_error(max_tokens: int, settings: Settings) -> LLMTruncatedError:
    """The answer hit its token limit."""
    return LLMTruncatedError(
        f"The answer reached its limit of {max_tokens} tokens and was cut off. Raise"
        f' "Maximum answer tokens" (at most {settings.max_answer_tokens}) or ask for a shorter'
        " answer."
    )


def server_label(settings: Settings) -> str:
    """Where the chat model lives, without any user name, password or query string."""
    url = settings.azure_endpoint if settings.chat_provider == "azure" else settings.chat_base_url
    if not url:
        return "the OpenAI API"
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or '?'}{port}{parts.path}".rstrip("/")


def redacted_detail(exc: Exception, settings: Settings) -> str:
    """The library's own description of a failure, for the log, with keys masked."""
    text = f"{type(exc).__name__}: {exc}"
    root = _root_cause(exc)
    if str(root) != str(exc):
        text += f" (caused by {type(root).__name__}: {root})"
    return redact(text, settings)[:_DETAIL_CHARS]


def redact(text: str, settings: Settings) -> str:
    """The text with the configured keys, and anything shaped like a key, masked."""
    for secret in (settings.openai_api_key, settings.azure_api_key):
        if secret:
            text = text.replace(secret, "***")
    return _KEY_LIKE.sub(r"\1***", text)


def _root_cause(exc: BaseException) -> BaseException:
    seen = {id(exc)}
    while (cause := _cause(exc)) is not None and id(cause) not in seen:
        seen.add(id(cause))
        exc = cause
    return exc


def _cause(exc: BaseException) -> BaseException | None:
    return exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)


def _status_error(
    exc: openai.APIStatusError, settings: Settings, model: str, where: str, tries: int
) -> LLMError:
    status = exc.status_code
    if status in (401, 403):
        return _auth_error(status, settings, model, where)
    if status == 429:
        return _rate_limit_error(exc, where, tries)
    if _is_context_overflow(exc):
        return LLMContextLengthError(
            f"The question, its sources and the chat history are longer than the model"
            f" {model!r} accepts (HTTP {status}, context length exceeded). Lower"
            f" RAG_CONTEXT_TOKENS (now {settings.context_tokens}), choose a smaller Top k,"
            " or start a new chat."
        )
    if _code(exc) == "content_filter":
        return content_filter_error(midway=False)
    if status == 404:
        return LLMError(
            f"The chat model at {where} has no model {model!r} (HTTP 404): check RAG_CHAT_MODEL"
            " (or the Azure deployment name)."
        )
    if status < 500 and status not in (408, 409):
        return LLMError(
            f"The chat model at {where} rejected the request (HTTP {status}): check the model"
            " name and the RAG_CHAT_* settings."
        )
    return LLMError(
        f"The chat model's server failed (HTTP {status}, {_tries(tries)}). Try again in a moment."
    )


def _auth_error(status: int, settings: Settings, model: str, where: str) -> LLMError:
    variable = "AZURE_OPENAI_API_KEY" if settings.chat_provider == "azure" else "OPENAI_API_KEY"
    check = variable if status == 401 else f"that the key in {variable} may use {model!r}"
    return LLMAuthenticationError(
        f"The chat model at {where} refused the credentials (HTTP {status}): check {check}."
    )


def _rate_limit_error(exc: openai.APIStatusError, where: str, tries: int) -> LLMError:
    if _code(exc) == "insufficient_quota":
        return LLMRateLimitError(
            f"The chat model at {where} says the account has no quota left (HTTP 429,"
            " insufficient_quota): check the plan and billing of the API key's account."
        )
    wait = retry_after_s(exc)
    if wait is not None:
        advice = f" and asks to wait {max(1, math.ceil(wait))} s. Wait that long and ask again."
    else:
        advice = ". Wait a minute and ask again, or check the rate limits of your plan."
    return LLMRateLimitError(
        f"The chat model at {where} is rate limiting requests (HTTP 429, {_tries(tries)}){advice}"
    )


def _is_context_overflow(exc: openai.APIStatusError) -> bool:
    if _code(exc) == "context_length_exceeded" or isinstance(exc, ContextOverflowError):
        return True
    message = str(getattr(exc, "message", "")).lower()
    return exc.status_code == 400 and any(phrase in message for phrase in _CONTEXT_PHRASES)


def _code(exc: Exception) -> str | None:
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) else None


def _tries(count: int) -> str:
    return "tried once" if count == 1 else f"tried {count} times"
