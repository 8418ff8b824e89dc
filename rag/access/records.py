"""What access keeps in the data folder's database: shares, the audit log, questions asked.

The tables live beside the list of knowledge bases (rag.kb.storage), so deleting a
knowledge base removes its shares in the same transaction, and every process serving the
data folder sees the same shares and counts the same questions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rag.access.people import Person, Role
from rag.kb import KnowledgeBase
from rag.kb.storage import RegistryFile

# How many audit entries a listing returns, newest first.
AUDIT_LISTED = 500
# Question times older than this are dropped as new ones are counted.
QUESTION_WINDOW_S = 60.0

Clock = Callable[[], float]


@dataclass(frozen=True)
class Share:
    """A knowledge base shared with someone ("*": everyone signed in) in a role."""

    grantee: str
    role: Role


@dataclass(frozen=True)
class AuditEntry:
    """Who did what to which knowledge base, and when (seconds since the epoch)."""

    at: float
    person: str
    action: str
    kb_name: str
    detail: str


class AccessRecords:
    """Shares, audit entries and question times in the registry's file; thread-safe."""

    def __init__(self, database: RegistryFile, clock: Clock = time.time) -> None:
        self._db = database
        self._clock = clock

    def shares(self, kb: KnowledgeBase) -> list[Share]:
        """Whom `kb` is shared with, by grantee."""
        rows = self._db.read(
            "SELECT grantee, role FROM kb_shares WHERE collection = ? ORDER BY grantee",
            (kb.collection,),
        )
        return [Share(grantee, Role.named(role)) for grantee, role in rows]

    def shared_with(self, grantees: tuple[str, ...]) -> dict[str, Role]:
        """Collection -> the highest role any of `grantees` has in it."""
        marks = ", ".join("?" * len(grantees))
        rows = self._db.read(
            f"SELECT collection, role FROM kb_shares WHERE grantee IN ({marks})", grantees
        )
        roles: dict[str, Role] = {}
        for collection, role in rows:
            roles[collection] = max(roles.get(collection, Role.READER), Role.named(role))
        return roles

    def set_share(self, kb: KnowledgeBase, share: Share, by: Person) -> None:
        """Share `kb` (or change the role), recorded in the audit log."""
        with self._db.transaction() as db:
            db.execute(
                "INSERT INTO kb_shares (collection, grantee, role) VALUES (?, ?, ?)"
                " ON CONFLICT (collection, grantee) DO UPDATE SET role = excluded.role",
                (kb.collection, share.grantee, share.role.label),
            )
            self._audit(db, by, "share", kb, f"{_grantee(share.grantee)} as {share.role.label}")

    def remove_share(self, kb: KnowledgeBase, grantee: str, by: Person) -> bool:
        """Stop sharing `kb` with `grantee`; False when it was not shared with them."""
        with self._db.transaction() as db:
            gone = db.execute(
                "DELETE FROM kb_shares WHERE collection = ? AND grantee = ?",
                (kb.collection, grantee),
            ).rowcount
            if gone:
                self._audit(db, by, "unshare", kb, _grantee(grantee))
        return bool(gone)

    def record(self, by: Person, action: str, kb: KnowledgeBase, detail: str = "") -> None:
        """Add an entry to the audit log."""
        with self._db.transaction() as db:
            self._audit(db, by, action, kb, detail)

    def audit(self, kb: KnowledgeBase, limit: int = AUDIT_LISTED) -> list[AuditEntry]:
        """`kb`'s audit entries, newest first (not those of an earlier knowledge base that
        was kept in a collection of the same name)."""
        rows = self._db.read(
            "SELECT at, person, action, kb_name, detail FROM audit_log"
            " WHERE collection = ? AND at >= ? ORDER BY at DESC, rowid DESC LIMIT ?",
            (kb.collection, kb.created_at, limit),
        )
        return [AuditEntry(*row) for row in rows]

    def count_question(self, person: Person, per_minute: int) -> float | None:
        """Count a question by `person` now, unless they asked `per_minute` in the last
        minute: then count nothing and return the seconds until they may ask again."""
        now = self._clock()
        with self._db.transaction() as db:
            db.execute("DELETE FROM question_log WHERE at <= ?", (now - QUESTION_WINDOW_S,))
            times = [
                at
                for (at,) in db.execute(
                    "SELECT at FROM question_log WHERE person = ? ORDER BY at", (person.id,)
                )
            ]
            if len(times) >= per_minute:
                return times[-per_minute] + QUESTION_WINDOW_S - now
            db.execute("INSERT INTO question_log (person, at) VALUES (?, ?)", (person.id, now))
        return None

    def _audit(self, db, by: Person, action: str, kb: KnowledgeBase, detail: str) -> None:
        db.execute(
            "INSERT INTO audit_log (at, person, action, collection, kb_name, detail)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (self._clock(), by.id, action, kb.collection, kb.name, detail),
        )


def _grantee(grantee: str) -> str:
    return "everyone signed in" if grantee == "*" else grantee
