"""The knowledge bases of a data folder, listed in `<data>/knowledge_bases.sqlite`.

One row per knowledge base: its name, the collection behind it, its owner, when it was
made, and its settings as JSON. A rename changes the row only: the collection, its files
and its lexical index keep their names, so it is instant and cannot lose anything.

The first open of a data folder registers what is already there (see `register_found`),
with no re-embedding. The default knowledge base is the one whose collection the settings
name (RAG_COLLECTION, "documents" unless set): the app and the command lines open it when
no other is chosen, so it always exists and cannot be deleted; it may be renamed or
emptied.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from rag.config import Settings
from rag.errors import DataFolderReadOnlyError, StoreError
from rag.kb.applying import settings_for
from rag.kb.checks import check_changes, default_kept, refuse_taken
from rag.kb.errors import (
    KnowledgeBaseError,
    KnowledgeBaseNotFoundError,
)
from rag.kb.found import found_collections, register_found
from rag.kb.model import (
    IndexSettings,
    KbSearchDefaults,
    KnowledgeBase,
)
from rag.kb.names import NAME_MAX_CHARS, clean_name, name_key, new_collection_name, unique_name
from rag.kb.removal import remove_collection
from rag.kb.storage import COLUMNS, RegistryFile, from_row, insert
from rag.stores.collections import CollectionInfo
from rag.stores.folder_lock import lock_folder

REGISTRY_FILE = "knowledge_bases.sqlite"
# A knowledge base by name (case ignored), or the knowledge base itself, found by its
# collection whatever it is called now (a rename meanwhile cannot redirect the change).
Which = str | KnowledgeBase


class KnowledgeBases:
    """The list of knowledge bases of a data folder; safe to share between threads.

    `KnowledgeBases.open(settings)` also registers what the data folder already holds.
    """

    def __init__(self, settings: Settings, path: Path | None = None) -> None:
        self.settings = settings
        self._file = RegistryFile(path or settings.data_dir / REGISTRY_FILE)

    @classmethod
    def open(cls, settings: Settings) -> KnowledgeBases:
        """The registry of the settings' data folder, with every collection found there
        registered and the default knowledge base present."""
        registry = cls(settings)
        try:
            registry.register_found(lambda: found_collections(settings, registry.read_only))
        except BaseException:
            registry.close()
            raise
        return registry

    @property
    def database(self) -> RegistryFile:
        """The data folder's small database, which also keeps who may do what (rag.access)."""
        return self._file

    @property
    def read_only(self) -> bool:
        """True when the data folder cannot be written: the list is read, never changed."""
        return self._file.read_only

    def close(self) -> None:
        """Close the registry's file."""
        self._file.close()

    def __enter__(self) -> KnowledgeBases:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    # Reading ------------------------------------------------------------------------------

    def list(self) -> list[KnowledgeBase]:
        """Every knowledge base, by name (case ignored)."""
        rows = self._file.read(f"SELECT {COLUMNS} FROM knowledge_bases ORDER BY name_key")
        return [from_row(row) for row in rows]

    def find(self, name: str) -> KnowledgeBase | None:
        """The knowledge base of this name (case ignored), or None."""
        rows = self._file.read(
            f"SELECT {COLUMNS} FROM knowledge_bases WHERE name_key = ?", (name_key(name),)
        )
        return from_row(rows[0]) if rows else None

    def get(self, name: str) -> KnowledgeBase:
        """The knowledge base of this name (case ignored); KnowledgeBaseNotFoundError,
        listing the names there are, if none."""
        found = self.find(name)
        if found is None:
            names = ", ".join(repr(kb.name) for kb in self.list()) or "none"
            raise KnowledgeBaseNotFoundError(
                f"No knowledge base named {name!r}. Knowledge bases: {names}"
            )
        return found

    def default(self) -> KnowledgeBase:
        """The knowledge base of the settings' collection (RAG_COLLECTION)."""
        rows = self._file.read(
            f"SELECT {COLUMNS} FROM knowledge_bases WHERE collection = ?",
            (self.settings.collection,),
        )
        if not rows:
            raise StoreError("The default knowledge base is not registered; open the registry")
        return from_row(rows[0])

    def is_default(self, kb: KnowledgeBase) -> bool:
        """Whether `kb` is the one the app and the command lines open by default."""
        return kb.collection == self.settings.collection

    def settings_of(self, kb: KnowledgeBase) -> Settings:
        """The settings `kb` opens with. The default one opens with the settings as they
        are, as the command lines open it when no --kb is given, so that they and the app
        ingest its queue alike."""
        return self.settings if self.is_default(kb) else settings_for(self.settings, kb)

    def deletion_refused(self, kb: KnowledgeBase) -> str | None:
        """Why `kb` cannot be deleted (it is the default one), or None when it can."""
        return default_kept(kb, self.settings) if self.is_default(kb) else None

    # Changing -----------------------------------------------------------------------------

    def create(
        self,
        name: str,
        index: IndexSettings | None = None,
        search: KbSearchDefaults | None = None,
        owner: str | None = None,
    ) -> KnowledgeBase:
        """A new, empty knowledge base; by default with the settings' index settings and
        the app's search defaults. KnowledgeBaseNameError if the name is bad or taken."""
        self._refuse_if_read_only()
        name = clean_name(name)
        with self._file.transaction() as db:
            refuse_taken(db, name)
            kb = self._insert_new(db, name, owner, index, search)
        return kb

    def create_first(self, owner: str, name: str) -> KnowledgeBase | None:
        """A first knowledge base for `owner`, under `name` or the first free `name (2)`,
        `name (3)`...; None when they own one already. One transaction: two sessions of
        one person make one, and a name someone else took cannot stop it."""
        self._refuse_if_read_only()
        with self._file.transaction() as db:
            if db.execute("SELECT 1 FROM knowledge_bases WHERE owner = ?", (owner,)).fetchone():
                return None
            taken = {row[0] for row in db.execute("SELECT name_key FROM knowledge_bases")}
            free = unique_name(clean_name(name[:NAME_MAX_CHARS]), taken)
            return self._insert_new(db, free, owner)

    def _insert_new(
        self,
        db: sqlite3.Connection,
        name: str,
        owner: str | None,
        index: IndexSettings | None = None,
        search: KbSearchDefaults | None = None,
    ) -> KnowledgeBase:
        taken = {row[0] for row in db.execute("SELECT collection FROM knowledge_bases")}
        kb = KnowledgeBase(
            name=name,
            collection=new_collection_name(name, taken),
            owner=owner,
            created_at=time.time(),
            index=index or IndexSettings.from_settings(self.settings),
            search=search or KbSearchDefaults.from_settings(self.settings),
        )
        insert(db, kb)
        return kb

    def rename(self, name: Which, new_name: str) -> KnowledgeBase:
        """Give a knowledge base another name; its documents and collection stay as they are."""
        self._refuse_if_read_only()
        new_name = clean_name(new_name)
        with self._file.transaction() as db:
            kb = self._get_in(db, name)
            refuse_taken(db, new_name, kb.collection)
            db.execute(
                "UPDATE knowledge_bases SET name = ?, name_key = ? WHERE collection = ?",
                (new_name, name_key(new_name), kb.collection),
            )
        return replace(kb, name=new_name)

    def update(self, name: Which, **changes: object) -> KnowledgeBase:
        """Change search defaults (mode, fusion, weights, k, rerank, chat_model,
        answer_language). IndexSettingsLockedError for a setting that shapes the index."""
        self._refuse_if_read_only()
        with self._file.transaction() as db:
            kb = self._get_in(db, name)
            check_changes(kb, changes)
            updated = replace(kb, search=replace(kb.search, **changes))
            db.execute(
                "UPDATE knowledge_bases SET settings = ? WHERE collection = ?",
                (json.dumps(updated.settings_json()), kb.collection),
            )
        return updated

    def delete(self, name: Which) -> KnowledgeBase:
        """Remove a knowledge base: its row first (so that a crash part-way never leaves a
        listed knowledge base with half its data), then its collection, lexical index,
        original files and queue. The default one cannot be deleted.

        The data folder is taken for the time it takes, so a knowledge base is never
        deleted under another process (DataFolderInUseError); in this process, close its
        engine first.
        """
        self._refuse_if_read_only()
        with self._file.transaction() as db:
            kb = self._get_in(db, name)
        refused = self.deletion_refused(kb)
        if refused is not None:
            raise KnowledgeBaseError(refused)
        folder = lock_folder(self.settings.data_dir)
        try:
            with self._file.transaction() as db:
                db.execute("DELETE FROM knowledge_bases WHERE collection = ?", (kb.collection,))
                # A later knowledge base may get the same collection name: never its shares.
                db.execute("DELETE FROM kb_shares WHERE collection = ?", (kb.collection,))
            remove_collection(self.settings.with_overrides(collection=kb.collection))
        finally:
            folder.release()
        return kb

    def register_found(self, found: Callable[[], Sequence[CollectionInfo]]) -> None:
        """Register what the data folder holds, once, and the default knowledge base
        (see rag.kb.found); `found` lists the collections, called only when needed."""
        with self._file.transaction() as db:
            register_found(db, self.settings, found)

    def _get_in(self, db: sqlite3.Connection, which: Which) -> KnowledgeBase:
        if isinstance(which, KnowledgeBase):
            row = db.execute(
                f"SELECT {COLUMNS} FROM knowledge_bases WHERE collection = ?", (which.collection,)
            ).fetchone()
            if row is None:
                raise KnowledgeBaseNotFoundError(f"The knowledge base {which.name!r} was deleted")
            return from_row(row)
        row = db.execute(
            f"SELECT {COLUMNS} FROM knowledge_bases WHERE name_key = ?", (name_key(which),)
        ).fetchone()
        if row is None:
            return self.get(which)  # raises, listing the names there are
        return from_row(row)

    def _refuse_if_read_only(self) -> None:
        if self.read_only:
            raise DataFolderReadOnlyError(
                "The data folder is read-only: knowledge bases can be searched, not created,"
                " renamed, changed or deleted"
            )
