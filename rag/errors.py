"""The project's own exceptions. Adapters translate library errors into these."""


class RagError(Exception):
    """Base of every error this project raises on purpose; its message is for users."""


class SettingsError(RagError):
    """A setting is missing or has a bad value; the message names the setting."""


class EmbedderMismatchError(RagError):
    """A collection was built with another embedding model than the one configured."""


class EmbeddingError(RagError):
    """The embedding model failed to turn texts into vectors (its API refused or failed)."""


class StoreError(RagError):
    """The vector store or the lexical index failed or could not be reached."""


class DocumentNotFoundError(RagError):
    """No document matches the given id or name."""


class IngestError(RagError):
    """A file could not be ingested; the message is the reason shown to the user."""


class LLMError(RagError):
    """The chat model failed; the message says what happened and what to check."""


class LLMTimeoutError(LLMError):
    """The chat model did not answer within the configured timeout."""


class LLMConnectionError(LLMError):
    """The chat model's server could not be reached."""


class LLMAuthenticationError(LLMError):
    """The chat model's server refused the key or the deployment."""


class LLMRateLimitError(LLMError):
    """The chat model's server asked to slow down (HTTP 429), even after retries."""


class LLMContextLengthError(LLMError):
    """The prompt (question, sources and history) is longer than the model accepts."""


class LLMContentFilterError(LLMError):
    """The provider's content filter refused the request or stopped the answer."""


class LLMStreamError(LLMError):
    """The answer stopped midway: the connection broke or the server went quiet."""


class LLMTruncatedError(LLMError):
    """The answer reached its token limit and was cut off."""


class QuestionTooLongError(RagError):
    """The question is longer than the configured limit; nothing was searched or sent."""


class QuestionLimitError(RagError):
    """This session has asked too many questions (per minute or in all)."""


class EvalDataError(RagError):
    """An evaluation set is missing or malformed; the message names the file and line."""


class DataFolderInUseError(StoreError):
    """Another process holds the embedded data folder; server mode lets processes share."""


class DataFolderReadOnlyError(StoreError):
    """The data folder cannot be written: the library opens for searching only."""
