"""The chat model behind one small interface, built by one factory from the settings.

langchain-openai speaks to OpenAI, to any OpenAI-compatible server (Ollama, vLLM, LM Studio)
by base URL, and to Azure OpenAI. Every request has an explicit timeout and a bounded number
of retries, and every library error is translated into the project's own LLMError family,
whose message is fit to show to users.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from rag.config import Settings
from rag.errors import (
    LLMAuthenticationError,
    LLMConnectionError,
    LLMError,
    LLMRateLimitError,
    LLMTimeoutError,
    SettingsError,
)

# (role, content) with role "system", "user" or "assistant".
Message = tuple[str, str]


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


class ChatModel(Protocol):
    """Streams or completes a list of messages; raises LLMError subclasses only."""

    name: str
    last_usage: TokenUsage

    def stream(self, messages: Sequence[Message]) -> Iterator[str]: ...

    def complete(self, messages: Sequence[Message]) -> str: ...


class LangChainChatModel:
    """A langchain-openai chat model with errors translated for users."""

    def __init__(self, model, name: str, settings: Settings) -> None:
        self._model = model
        self._settings = settings
        self.name = name
        self.last_usage = TokenUsage()

    def stream(self, messages: Sequence[Message]) -> Iterator[str]:
        """Yield the answer's text as it arrives."""
        self.last_usage = TokenUsage()
        try:
            for chunk in self._model.stream(list(messages)):
                self._note_usage(getattr(chunk, "usage_metadata", None))
                if isinstance(chunk.content, str) and chunk.content:
                    yield chunk.content
        except LLMError:
            raise
        except Exception as exc:
            raise translate_error(exc, self._settings, self.name) from exc

    def complete(self, messages: Sequence[Message]) -> str:
        """The whole answer at once (used for short internal steps)."""
        return "".join(self.stream(messages))

    def _note_usage(self, usage: dict | None) -> None:
        if usage:
            self.last_usage = TokenUsage(usage.get("input_tokens"), usage.get("output_tokens"))


def make_chat_model(settings: Settings, options: GenerationOptions | None = None) -> ChatModel:
    """The configured chat model; raises SettingsError when none is configured."""
    options = options or GenerationOptions()
    if not settings.llm_configured:
        raise SettingsError("No chat model is configured (set RAG_CHAT_MODEL or OPENAI_API_KEY)")
    name = options.model or settings.chat_model or ""
    common = {
        "temperature": settings.chat_temperature
        if options.temperature is None
        else options.temperature,
        "max_tokens": options.max_tokens or settings.chat_max_tokens,
        "timeout": settings.chat_timeout_s,
        "max_retries": settings.chat_max_retries,
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
    return LangChainChatModel(model, name, settings)


def translate_error(exc: Exception, settings: Settings, model: str) -> LLMError:
    """A library error as one of ours, with a message that says what to check."""
    import openai

    where = settings.azure_endpoint or settings.chat_base_url or "the OpenAI API"
    retries = f"after {settings.chat_max_retries} retries"
    if isinstance(exc, openai.APITimeoutError):
        return LLMTimeoutError(
            f"The chat model did not answer within {settings.chat_timeout_s:g} s ({retries})."
            " Try again, or raise RAG_CHAT_TIMEOUT_S."
        )
    if isinstance(exc, openai.APIConnectionError):
        return LLMConnectionError(f"Could not reach the chat model at {where}: is it running?")
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return LLMAuthenticationError(
            f"{where} refused the credentials (HTTP {exc.status_code}): check OPENAI_API_KEY"
            " or AZURE_OPENAI_API_KEY."
        )
    if isinstance(exc, openai.RateLimitError):
        return LLMRateLimitError(
            f"{where} is rate limiting requests (HTTP 429, {retries}). Wait and try again."
        )
    if isinstance(exc, openai.NotFoundError):
        return LLMError(f"{where} does not know the model {model!r} (HTTP 404): check the name.")
    if isinstance(exc, openai.APIStatusError):
        return LLMError(
            f"The chat model's server failed (HTTP {exc.status_code}, {retries}). Try again."
        )
    return LLMError(f"The chat model's answer could not be read ({type(exc).__name__}).")
