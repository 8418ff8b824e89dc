"""Knowledge bases: named sets of documents, each with its own collection and settings.

`KnowledgeBases.open(settings)` lists them (and registers, the first time, what the data
folder already holds); `settings_for(settings, kb)` gives the settings every other part of
the engine takes, so a knowledge base opens, ingests and queues like any collection.
"""

from rag.kb.applying import embedder_fits, search_options_for, settings_for
from rag.kb.errors import (
    IndexSettingsLockedError,
    KnowledgeBaseError,
    KnowledgeBaseNameError,
    KnowledgeBaseNotFoundError,
    KnowledgeBaseSettingsError,
)
from rag.kb.model import IndexSettings, KbSearchDefaults, KnowledgeBase
from rag.kb.registry import REGISTRY_FILE, KnowledgeBases

__all__ = [
    "REGISTRY_FILE",
    "IndexSettings",
    "IndexSettingsLockedError",
    "KbSearchDefaults",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "KnowledgeBaseNameError",
    "KnowledgeBaseNotFoundError",
    "KnowledgeBaseSettingsError",
    "KnowledgeBases",
    "embedder_fits",
    "search_options_for",
    "settings_for",
]
