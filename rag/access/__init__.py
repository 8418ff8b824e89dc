"""People and what they may do: sign-in identities, roles, shares, the audit log, limits.

`Gate` holds the rules for a data folder's knowledge bases; `Workspace` is one person's use
of one knowledge base, checked on every call (open it with `Engine.workspace`);
`ask_across` and `search_across` use several at once.
"""

from rag.access.gate import Gate
from rag.access.people import (
    EVERYONE,
    LOCAL_USER,
    AccessDeniedError,
    Action,
    Person,
    Role,
    StorageLimitError,
)
from rag.access.records import AuditEntry, Share
from rag.access.workspace import Workspace, ask_across, search_across

__all__ = [
    "EVERYONE",
    "LOCAL_USER",
    "AccessDeniedError",
    "Action",
    "AuditEntry",
    "Gate",
    "Person",
    "Role",
    "Share",
    "StorageLimitError",
    "Workspace",
    "ask_across",
    "search_across",
]
