"""What a data folder held before it had knowledge bases, registered without re-embedding.

The first time the registry opens on a data folder, each collection found there becomes a
knowledge base under its own name ("documents", "documents-int8" made by `ingest
reindex`, ...), with the model, precision, distance and prefixes the collection recorded,
so that its vectors stay valid, and the chunking and OCR of the current settings (which a
collection does not record). Its documents, chunks and vectors are not touched. After
that, only the default knowledge base is checked for: the settings' collection, registered
from what it recorded, or empty with the current settings when there is none yet.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from functools import cache

from rag.config import Settings
from rag.errors import StoreError
from rag.kb.errors import KnowledgeBaseSettingsError
from rag.kb.model import IndexSettings, KbSearchDefaults, KnowledgeBase
from rag.kb.names import unique_name
from rag.kb.storage import collection_registered, insert
from rag.providers.embeddings import EmbedderIdentity
from rag.stores.collections import CollectionInfo, list_collections

log = logging.getLogger(__name__)

# PRAGMA user_version once the collections found in the data folder are registered.
REGISTERED_FOUND = 1


def register_found(
    db: sqlite3.Connection, settings: Settings, found: Callable[[], Sequence[CollectionInfo]]
) -> None:
    """Inside a transaction: register the collections `found` lists, the first time, then
    the default knowledge base if it is missing. `found` is called only when needed."""
    found = cache(found)
    if db.execute("PRAGMA user_version").fetchone()[0] < REGISTERED_FOUND:
        for info in found():
            if info.identity is not None:
                _register(db, settings, info.name, info.identity)
        db.execute(f"PRAGMA user_version = {REGISTERED_FOUND}")
    if not collection_registered(db, settings.collection):
        recorded = [i.identity for i in found() if i.name == settings.collection]
        _register(db, settings, settings.collection, next(iter(recorded), None))


def found_collections(settings: Settings, read_only: bool) -> list[CollectionInfo]:
    """The collections of the data folder (or server), with the embedder each recorded."""
    try:
        return list_collections(settings)
    except StoreError:
        # Embedded Chroma cannot open a read-only folder, even to read: the default
        # knowledge base is then registered from the settings, in memory only.
        if read_only:
            return []
        raise


def _register(
    db: sqlite3.Connection,
    settings: Settings,
    collection: str,
    identity: EmbedderIdentity | None,
) -> None:
    if collection_registered(db, collection):
        return
    try:
        index = (
            IndexSettings.from_identity(identity, settings)
            if identity is not None
            else IndexSettings.from_settings(settings)
        )
    except KnowledgeBaseSettingsError as exc:
        log.warning("Collection %r is not registered as a knowledge base: %s", collection, exc)
        return
    keys = {row[0] for row in db.execute("SELECT name_key FROM knowledge_bases")}
    name = unique_name(collection, keys)
    search = KbSearchDefaults.from_settings(settings)
    insert(db, KnowledgeBase(name, collection, None, time.time(), index, search))
