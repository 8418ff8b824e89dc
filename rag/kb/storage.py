"""The registry's SQLite file (the knowledge bases, their shares, the audit log and the
questions asked): opened for writing, or copied into memory when the data folder cannot be
written, and one transaction per change.

SQLite's own locking makes each change atomic for every process that opens the file
(`BEGIN IMMEDIATE` takes the write lock before reading what the change depends on), and a
lock in this object lets the threads of one process share a connection. The rollback
journal is used rather than WAL: a folder that cannot be written can then still be read.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from rag.errors import StoreError
from rag.kb.model import KnowledgeBase, settings_from_json
from rag.kb.names import name_key

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS knowledge_bases (
        collection TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        name_key TEXT NOT NULL UNIQUE,
        owner TEXT,
        created_at REAL NOT NULL,
        settings TEXT NOT NULL
    )""",
    # Who else may use a knowledge base (rag.access): a person's id, or "*" for everyone
    # signed in, as reader or editor. Deleted with the knowledge base, in one transaction.
    """CREATE TABLE IF NOT EXISTS kb_shares (
        collection TEXT NOT NULL,
        grantee TEXT NOT NULL,
        role TEXT NOT NULL,
        PRIMARY KEY (collection, grantee)
    )""",
    """CREATE TABLE IF NOT EXISTS audit_log (
        at REAL NOT NULL,
        person TEXT NOT NULL,
        action TEXT NOT NULL,
        collection TEXT NOT NULL,
        kb_name TEXT NOT NULL,
        detail TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS audit_by_kb ON audit_log (collection, at)",
    # When each person asked, for the questions-per-minute limit across sessions.
    "CREATE TABLE IF NOT EXISTS question_log (person TEXT NOT NULL, at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS questions_by_person ON question_log (person, at)",
    # API keys (rag.access.keys): only a hash of each secret is kept.
    """CREATE TABLE IF NOT EXISTS api_keys (
        id TEXT PRIMARY KEY,
        person TEXT NOT NULL,
        person_name TEXT NOT NULL,
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        revoked_at REAL
    )""",
)
COLUMNS = "collection, name, owner, created_at, settings"
_NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


class RegistryFile:
    """A connection to the registry, shared by the threads of a process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # True when the folder cannot be written: the list is read into memory, and the
        # registry refuses changes (while still registering what it finds, in memory).
        self.read_only = False
        try:
            self._db = _open_for_writing(path)
        except (OSError, sqlite3.Error) as exc:
            if not _cannot_write(exc):
                raise StoreError(f"The list of knowledge bases could not be opened: {exc}") from exc
            self._db, self.read_only = _copy_into_memory(path), True
        self._lock = threading.RLock()

    def close(self) -> None:
        """Close the connection (the list stays on disk)."""
        with self._lock:
            self._db.close()

    def read(self, sql: str, parameters: tuple = ()) -> list[tuple]:
        """The rows of one query, outside any transaction."""
        with self._lock:
            try:
                return self._db.execute(sql, parameters).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"The list of knowledge bases could not be read: {exc}") from exc

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic change: committed when the block ends, rolled back if it raises."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"The list of knowledge bases is busy: {exc}") from exc
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"The list of knowledge bases was not changed: {exc}") from exc
                raise


def from_row(row: tuple) -> KnowledgeBase:
    """A knowledge base from a row of COLUMNS."""
    collection, name, owner, created_at, stored = row
    index, search = settings_from_json(json.loads(stored))
    return KnowledgeBase(name, collection, owner, created_at, index, search)


def insert(db: sqlite3.Connection, kb: KnowledgeBase) -> None:
    """Add a knowledge base's row (inside a transaction)."""
    db.execute(
        "INSERT INTO knowledge_bases (collection, name, name_key, owner, created_at, settings)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (
            kb.collection,
            kb.name,
            name_key(kb.name),
            kb.owner,
            kb.created_at,
            json.dumps(kb.settings_json()),
        ),
    )


def collection_registered(db: sqlite3.Connection, collection: str) -> bool:
    """Whether a knowledge base is kept in this collection."""
    found = db.execute("SELECT 1 FROM knowledge_bases WHERE collection = ?", (collection,))
    return found.fetchone() is not None


def _open_for_writing(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    # SQLite opens a file it cannot write, and only fails at the first change; the folder
    # must take its journal too.
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise PermissionError(errno.EACCES, "the list of knowledge bases cannot be written")
    db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        _create_tables(db)
        db.execute("COMMIT")
    except BaseException:
        db.close()
        raise
    return db


def _create_tables(db: sqlite3.Connection) -> None:
    for statement in SCHEMA:
        db.execute(statement)


def _copy_into_memory(path: Path) -> sqlite3.Connection:
    memory = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    try:
        if path.is_file():
            source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                source.backup(memory)
            finally:
                source.close()
        _create_tables(memory)
    except sqlite3.Error as exc:
        memory.close()
        raise StoreError(f"The list of knowledge bases could not be read: {exc}") from exc
    return memory


def _cannot_write(exc: OSError | sqlite3.Error) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in _NOT_WRITABLE
    message = str(exc).lower()
    return any(words in message for words in ("readonly", "read-only", "unable to open"))
