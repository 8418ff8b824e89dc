"""API keys: a person creates them in the app, and each one acts as that person.

A key's secret is shown once, when it is made, and only its SHA-256 is kept: the secrets
are long random strings, so a plain hash is enough to make a stolen database useless (no
password-style stretching needed). A revoked key is refused from the next request on.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

from rag.access.people import LOCAL_USER, AccessDeniedError, Person
from rag.kb.storage import RegistryFile

# Every secret starts so, which tells it apart in logs and secret scanners.
PREFIX = "rag_"
NAME_MAX_CHARS = 80


@dataclass(frozen=True)
class ApiKey:
    """One key as its owner sees it listed: never its secret."""

    id: str
    person: str
    name: str
    created_at: float
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        """True until it is revoked."""
        return self.revoked_at is None


class ApiKeys:
    """The API keys of a data folder, kept in the registry's database; thread-safe."""

    def __init__(self, database: RegistryFile) -> None:
        self._db = database

    def create(self, person: Person, name: str) -> tuple[ApiKey, str]:
        """A new key acting as `person`, and its secret (shown once, never kept)."""
        name = " ".join(name.split())[:NAME_MAX_CHARS] or "API key"
        secret = PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(uuid.uuid4().hex[:12], _stored(person), name, time.time())
        with self._db.transaction() as db:
            db.execute(
                "INSERT INTO api_keys (id, person, person_name, name, secret_hash, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (key.id, key.person, person.name, name, _hash(secret), key.created_at),
            )
        return key, secret

    def of(self, person: Person) -> list[ApiKey]:
        """`person`'s keys, newest first, revoked ones included."""
        rows = self._db.read(
            "SELECT id, person, name, created_at, revoked_at FROM api_keys WHERE person = ?"
            " ORDER BY created_at DESC",
            (_stored(person),),
        )
        return [ApiKey(*row) for row in rows]

    def revoke(self, person: Person, key_id: str) -> bool:
        """Revoke one of `person`'s keys; False when they have no such active key."""
        with self._db.transaction() as db:
            changed = db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND person = ?"
                " AND revoked_at IS NULL",
                (time.time(), key_id, _stored(person)),
            ).rowcount
        return bool(changed)

    def any_active(self) -> bool:
        """Whether any key can be used (the API then asks every request for one)."""
        return bool(self._db.read("SELECT 1 FROM api_keys WHERE revoked_at IS NULL LIMIT 1"))

    def person_for(self, secret: str) -> Person:
        """The person an active key's secret acts as; AccessDeniedError for a secret that
        is unknown or revoked (the same message, so that a guess learns nothing)."""
        rows = self._db.read(
            "SELECT person, person_name FROM api_keys WHERE secret_hash = ? AND revoked_at IS NULL",
            (_hash(secret.strip()),),
        )
        if not rows:
            raise AccessDeniedError("The API key is not valid (unknown, or revoked)")
        person, name = rows[0]
        return LOCAL_USER if person == _stored(LOCAL_USER) else Person(person, name)


def _stored(person: Person) -> str:
    # The local user's keys are kept under "", which no one signed in can be called.
    return "" if person.local else person.id


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
