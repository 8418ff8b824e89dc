"""Who is asking, what they may be to a knowledge base, and what each action needs.

A person signed in through OpenID Connect is known by their email (or the provider's
subject when it gives none), folded to lower case. Without sign-in the app and the command
lines act for the one local user, who owns every knowledge base: whoever runs them can read
the data folder anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum

from rag.errors import RagError

# The grantee that stands for everyone signed in.
EVERYONE = "*"


class AccessDeniedError(RagError):
    """The person may not do this with this knowledge base; the message says why."""


class StorageLimitError(RagError):
    """A file would take the owner of a knowledge base past their storage limit."""


@dataclass(frozen=True)
class Person:
    """Someone asking: `id` their folded email, `name` for display; `local` only for the
    one local user of an instance without sign-in."""

    id: str
    name: str = ""
    local: bool = False

    @classmethod
    def signed_in(
        cls,
        email: str | None,
        subject: str | None,
        name: str | None,
        email_verified: bool | None = None,
    ) -> Person:
        """The person a sign-in names: by email, else by the provider's subject (see
        `person_key`). An email the provider says it has not verified is refused: anyone
        could have registered it."""
        email = (email or "").strip()
        if email and email_verified is False:
            raise AccessDeniedError(
                f"Your identity provider has not verified your email ({email}): verify it"
                " there, then sign in again."
            )
        key = person_key(email or subject or "")
        if not key:
            raise AccessDeniedError("The sign-in gave neither an email nor a subject")
        return cls(key, (name or "").strip() or key)

    @property
    def label(self) -> str:
        """How messages name them: "Ada Lovelace (ada@example.com)"."""
        if self.local or self.name in ("", self.id):
            return self.name or self.id
        return f"{self.name} ({self.id})"


LOCAL_USER = Person("local", "the local user", local=True)


def person_key(text: str) -> str:
    """How a person is known: an email folded to lower case, a provider's subject as it is
    (subjects are case-sensitive)."""
    text = text.strip()
    return text.lower() if "@" in text else text


def admit(person: Person, allowed: tuple[str, ...]) -> None:
    """AccessDeniedError unless `allowed` names the person: their email, or "@domain" for
    everyone of that domain; an empty `allowed` admits everyone the provider signs in."""
    if person.local or not allowed:
        return
    domain = "@" + person.id.rpartition("@")[2] if "@" in person.id else None
    if person.id in allowed or (domain is not None and domain in allowed):
        return
    raise AccessDeniedError(
        f"{person.label} may not use this app (RAG_ALLOWED_PEOPLE): ask its administrator."
    )


class Role(IntEnum):
    """What someone is to a knowledge base; each role may do what the ones below may."""

    READER = 1
    EDITOR = 2
    OWNER = 3

    @property
    def label(self) -> str:
        """ "reader", "editor" or "owner"."""
        return self.name.lower()

    @classmethod
    def named(cls, name: str) -> Role:
        """The role called `name` ("reader", "editor"); AccessDeniedError for another."""
        try:
            return cls[name.strip().upper()]
        except KeyError:
            raise AccessDeniedError(
                f"No role {name!r}: a knowledge base is shared as reader or editor"
            ) from None


class Action(Enum):
    """What can be done with a knowledge base: (the least role it needs, how to say it)."""

    SEARCH = (Role.READER, "search")
    ANSWER = (Role.READER, "ask questions of")
    READ = (Role.READER, "read the documents of")
    DOWNLOAD = (Role.READER, "download the documents of")
    EVALUATE = (Role.READER, "evaluate")
    ADD = (Role.EDITOR, "add documents to")
    DELETE = (Role.EDITOR, "delete documents of")
    CANCEL = (Role.EDITOR, "cancel the uploads of")
    SHARE = (Role.OWNER, "share")
    RENAME = (Role.OWNER, "rename")
    CHANGE_SETTINGS = (Role.OWNER, "change the settings of")
    DELETE_KB = (Role.OWNER, "delete")
    READ_AUDIT = (Role.OWNER, "read the audit log of")

    @property
    def needs(self) -> Role:
        """The least role that may do it."""
        return self.value[0]

    @property
    def verb(self) -> str:
        """The action in a sentence: "delete documents of"."""
        return self.value[1]
