"""The registry's checks before a change: a name not taken, a setting that may change, the
default knowledge base kept."""

from __future__ import annotations

import sqlite3

from rag.config import Settings
from rag.kb.errors import (
    IndexSettingsLockedError,
    KnowledgeBaseNameError,
    KnowledgeBaseSettingsError,
)
from rag.kb.model import KnowledgeBase, index_fields, search_fields
from rag.kb.names import name_key


def refuse_taken(db: sqlite3.Connection, name: str, own_collection: str | None = None) -> None:
    row = db.execute(
        "SELECT name, collection FROM knowledge_bases WHERE name_key = ?", (name_key(name),)
    ).fetchone()
    if row is not None and row[1] != own_collection:
        raise KnowledgeBaseNameError(
            f"A knowledge base named {row[0]!r} already exists (names are compared without"
            " regard to case)"
        )


def check_changes(kb: KnowledgeBase, changes: dict[str, object]) -> None:
    locked = sorted(set(changes) & index_fields())
    if locked:
        it = "it shapes" if len(locked) == 1 else "they shape"
        raise IndexSettingsLockedError(
            f"{', '.join(locked)} cannot change: {it} the index of {kb.name!r}, whose"
            " documents were cut and embedded with it. Create a new knowledge base with the"
            " settings you want and re-index into it (python -m ingest kb create NEW ...,"
            f" then python -m ingest reindex {kb.collection} --kb NEW)"
        )
    unknown = sorted(set(changes) - search_fields())
    if unknown:
        raise KnowledgeBaseSettingsError(
            f"No such setting of a knowledge base: {', '.join(unknown)}; the ones that may"
            f" change are {', '.join(sorted(search_fields()))}"
        )


def default_kept(kb: KnowledgeBase, settings: Settings) -> str:
    return (
        f"{kb.name!r} is the default knowledge base (RAG_COLLECTION={settings.collection}),"
        " which the app and the command lines open when none is chosen, so it cannot be"
        " deleted. Delete its documents instead, or set RAG_COLLECTION to another knowledge"
        " base's collection first"
    )
