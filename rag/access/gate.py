"""Who may do what: the rules, applied to the knowledge bases of one data folder.

- The owner of a knowledge base may do everything with it, sharing included.
- A knowledge base without an owner (the default one, and every one that existed before
  sign-in was turned on) is owned by the administrators (RAG_ADMINS), and by the local user
  of an instance without sign-in, who owns every knowledge base.
- Anyone else has the highest role it is shared with them in, directly or through
  "everyone signed in"; without a share they can neither use nor see it.
"""

from __future__ import annotations

from rag.access.people import (
    EVERYONE,
    AccessDeniedError,
    Action,
    Person,
    Role,
    StorageLimitError,
    person_key,
)
from rag.access.records import AccessRecords, AuditEntry, Share
from rag.errors import DataFolderReadOnlyError, QuestionLimitError
from rag.kb import IndexSettings, KnowledgeBase, KnowledgeBases
from rag.stores.collections import stored_bytes

MB = 1024 * 1024


class Gate:
    """Applies the rules for the knowledge bases of `registry`; thread-safe.

    `admins` are the ids (folded emails) of the people who own the ownerless knowledge
    bases; `questions_per_minute` is how many questions one person may ask in any minute,
    across all their sessions and knowledge bases; `storage_mb` how much room the original
    files of the knowledge bases a person owns may take (None: no limit).
    """

    def __init__(
        self,
        registry: KnowledgeBases,
        admins: tuple[str, ...] = (),
        questions_per_minute: int = 20,
        storage_mb: int | None = None,
        records: AccessRecords | None = None,
    ) -> None:
        self.registry = registry
        self.records = records or AccessRecords(registry.database)
        self._admins = frozenset(person_key(a) for a in admins)
        self._per_minute = questions_per_minute
        self._storage_mb = storage_mb

    @classmethod
    def of(cls, registry: KnowledgeBases) -> Gate:
        """The gate with the limits and administrators of the registry's settings."""
        settings = registry.settings
        return cls(
            registry,
            settings.admins,
            settings.person_questions_per_minute,
            settings.person_storage_mb or None,
        )

    def role(self, kb: KnowledgeBase, person: Person) -> Role | None:
        """What `person` is to `kb`; None when they have no access at all."""
        if self._owns(kb, person):
            return Role.OWNER
        return self._shared_roles(person).get(kb.collection)

    def require(self, kb: KnowledgeBase, person: Person, action: Action) -> Role:
        """`person`'s role in `kb` if it allows `action`; AccessDeniedError saying why not.

        To a stranger the knowledge base is as good as missing: the message does not say
        whether one of that name exists.
        """
        role = self.role(kb, person)
        if role is None:
            raise AccessDeniedError(f"No knowledge base named {kb.name!r} is shared with you")
        if role < action.needs:
            raise AccessDeniedError(_refusal(kb, role, action))
        return role

    def visible(self, person: Person) -> list[tuple[KnowledgeBase, Role]]:
        """The knowledge bases `person` may use, with their role, as the app and the
        service list them: the default one first where they may, then their own, then
        those shared with them, each group by name."""
        shared = self._shared_roles(person)
        listed = []
        for kb in self.registry.list():
            role = Role.OWNER if self._owns(kb, person) else shared.get(kb.collection)
            if role is not None:
                listed.append((kb, role))
        default = self.registry.settings.collection
        return sorted(
            listed, key=lambda it: (it[0].collection != default, it[0].owner != person.id)
        )

    def sign_in_required(self) -> bool:
        """Whether no one may act as the local user here: RAG_REQUIRE_SIGN_IN, or by itself
        once people own knowledge bases (their private documents would all be open)."""
        required = self.registry.settings.require_sign_in
        if required is not None:
            return required
        return any(kb.owner is not None for kb in self.registry.list())

    def find(self, name: str, person: Person, action: Action) -> KnowledgeBase:
        """The knowledge base of this name that `person` may do `action` with; the same
        AccessDeniedError for one that does not exist and one they cannot see."""
        kb = self.registry.find(name)
        if kb is None or self.role(kb, person) is None:
            # Named as typed, whether it exists or not (a stored name would tell).
            raise AccessDeniedError(f"No knowledge base named {name!r} is shared with you")
        self.require(kb, person, action)
        return kb

    def create(self, name: str, by: Person, index: IndexSettings | None = None) -> KnowledgeBase:
        """A new knowledge base owned by `by`, written to its audit log; one the local user
        creates has no owner (it is the administrators' once sign-in is on)."""
        kb = self.registry.create(name, index, owner=None if by.local else by.id)
        self.record(by, "create", kb, kb.index.describe())
        return kb

    def create_first(self, by: Person) -> KnowledgeBase | None:
        """A private knowledge base for someone signed in who owns none yet, named after
        them (see KnowledgeBases.create_first); None when they own one already."""
        kb = self.registry.create_first(by.id, by.id)
        if kb is not None:
            self.record(by, "create", kb, "their first, private knowledge base")
        return kb

    def rename(self, kb: KnowledgeBase, by: Person, new_name: str) -> KnowledgeBase:
        """Rename `kb`; only its owner may."""
        self.require(kb, by, Action.RENAME)
        renamed = self.registry.rename(kb, new_name)
        self.record(by, "rename", renamed, f"{kb.name} to {renamed.name}")
        return renamed

    def update(self, kb: KnowledgeBase, by: Person, **changes: object) -> KnowledgeBase:
        """Change `kb`'s search defaults (see KnowledgeBases.update); only its owner may."""
        self.require(kb, by, Action.CHANGE_SETTINGS)
        updated = self.registry.update(kb, **changes)
        self.record(by, "settings", updated, ", ".join(f"{k}={v}" for k, v in changes.items()))
        return updated

    def delete(self, kb: KnowledgeBase, by: Person) -> None:
        """Delete `kb` with its documents (see KnowledgeBases.delete); only its owner may."""
        self.require(kb, by, Action.DELETE_KB)
        self.registry.delete(kb)
        self.record(by, "delete knowledge base", kb, kb.name)

    def share(self, kb: KnowledgeBase, by: Person, grantee: str, role: Role) -> Share:
        """Share `kb` with `grantee` (an email, or "*" for everyone signed in) as reader or
        editor; only its owner may."""
        self.require(kb, by, Action.SHARE)
        self._refuse_if_read_only()
        grantee = person_key(grantee)
        if not grantee or any(c.isspace() for c in grantee):
            raise AccessDeniedError("Share with a person's email, or * for everyone signed in")
        if role is Role.OWNER:
            raise AccessDeniedError("A knowledge base has one owner; share as reader or editor")
        share = Share(grantee, role)
        self.records.set_share(kb, share, by)
        return share

    def unshare(self, kb: KnowledgeBase, by: Person, grantee: str) -> bool:
        """Stop sharing `kb` with `grantee`; False when it was not shared with them."""
        self.require(kb, by, Action.SHARE)
        self._refuse_if_read_only()
        return self.records.remove_share(kb, person_key(grantee), by)

    def shares(self, kb: KnowledgeBase, by: Person) -> list[Share]:
        """Whom `kb` is shared with; only its owner may see."""
        self.require(kb, by, Action.SHARE)
        return self.records.shares(kb)

    def audit(self, kb: KnowledgeBase, by: Person) -> list[AuditEntry]:
        """`kb`'s audit log, newest first; only its owner may read it."""
        self.require(kb, by, Action.READ_AUDIT)
        return self.records.audit(kb)

    def record(self, by: Person, action: str, kb: KnowledgeBase, detail: str = "") -> None:
        """Add `by` doing `action` to `kb` to the audit log."""
        self.records.record(by, action, kb, detail)

    def admit_question(self, person: Person) -> None:
        """Count a question by `person`; QuestionLimitError past their limit per minute."""
        if person.local:
            return  # the session's own limiter applies; there is nobody else
        wait = self.records.count_question(person, self._per_minute)
        if wait is not None:
            raise QuestionLimitError(
                f"You have asked {self._per_minute} questions in the last minute, the most"
                f" one person may (RAG_PERSON_QUESTIONS_PER_MINUTE, counted across all your"
                f" tabs); wait {max(1, round(wait))} s and ask again."
            )

    def storage(self, owner: str) -> tuple[int, int | None]:
        """(bytes, limit in MB or None) of the files in the knowledge bases `owner` owns."""
        data_dir = self.registry.settings.data_dir
        used = sum(
            stored_bytes(data_dir, kb.collection)
            for kb in self.registry.list()
            if kb.owner == owner
        )
        return used, self._storage_mb

    def check_storage(self, kb: KnowledgeBase, adding: int) -> None:
        """StorageLimitError if `adding` more bytes would take `kb`'s owner past their
        storage limit; the knowledge bases without an owner have none."""
        if self._storage_mb is None or kb.owner is None:
            return
        used, limit = self.storage(kb.owner)
        if used + adding > limit * MB:
            raise StorageLimitError(
                f"Adding {adding / MB:.1f} MB would take {kb.owner}'s documents past their"
                f" {limit:,} MB (RAG_PERSON_STORAGE_MB; {used / MB:.1f} MB used)."
                " Delete documents they no longer need first."
            )

    def _refuse_if_read_only(self) -> None:
        # Shares written to the in-memory copy of a read-only folder's list would be lost.
        if self.registry.read_only:
            raise DataFolderReadOnlyError(
                "The data folder is read-only: knowledge bases can be searched, not shared"
            )

    def _owns(self, kb: KnowledgeBase, person: Person) -> bool:
        if person.local:
            return True
        if kb.owner is None:
            return person.id in self._admins
        return kb.owner == person.id

    def _shared_roles(self, person: Person) -> dict[str, Role]:
        return self.records.shared_with((person.id, EVERYONE))


def _refusal(kb: KnowledgeBase, role: Role, action: Action) -> str:
    """Why someone with `role` in `kb` may not do `action`, and whom to ask."""
    owner = kb.owner or "an administrator"
    if action.needs is Role.EDITOR:
        return (
            f"You may not {action.verb} {kb.name!r}: you are a {role.label} of it, and that"
            f" takes an editor. Ask its owner ({owner})."
        )
    return (
        f"You may not {action.verb} {kb.name!r}: only its owner ({owner}) may; you are a"
        f" {role.label} of it."
    )
