"""What can go wrong with knowledge bases, each with a message for people.

A name that is bad, taken or unknown is a bad argument, like a bad setting: the command
lines exit with 2 for it (they treat SettingsError so). A refused change is a failure (1).
"""

from __future__ import annotations

from rag.errors import RagError, SettingsError


class KnowledgeBaseError(RagError):
    """A change to the knowledge bases was refused; the message says why and what to do."""


class KnowledgeBaseNameError(KnowledgeBaseError, SettingsError):
    """A name is empty, too long, unprintable, or taken by another knowledge base."""


class KnowledgeBaseNotFoundError(KnowledgeBaseError, SettingsError):
    """No knowledge base has this name; the message lists the ones there are."""


class KnowledgeBaseSettingsError(KnowledgeBaseError, SettingsError):
    """A knowledge base's setting has a bad value; the message names the setting."""


class IndexSettingsLockedError(KnowledgeBaseError):
    """An index setting (model, distance, chunking, OCR) cannot change after creation."""
