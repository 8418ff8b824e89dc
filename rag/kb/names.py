"""Names of knowledge bases, and the Chroma collection names made from them.

People see the name, in any script; Chroma needs a collection name of 3-63 ASCII letters,
digits, '.', '_' or '-'. A new collection name is `kb-<slug>-<6 hex digits>`: the slug
keeps it recognisable in the data folder, the random part makes it new each time, so a
knowledge base made again under a deleted one's name never meets anything the old one
left behind (a lexical folder in another process's data folder, say).
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Callable, Container

from rag.kb.errors import KnowledgeBaseNameError

NAME_MAX_CHARS = 64
COLLECTION_PREFIX = "kb-"
# The catalog beside a collection adds "-catalog" (rag.stores.chroma), and Chroma's
# strictest versions take 63 characters, so a collection name stays within 55.
_SLUG_MAX_CHARS = 40
_HEX_BYTES = 3
# Chroma's rule, at its strictest (some versions allow 512 characters).
CHROMA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]$")


def clean_name(name: str) -> str:
    """The name as kept: Unicode NFC, spaces at either end removed. KnowledgeBaseNameError
    when it is empty, longer than 64 characters, or holds unprintable characters."""
    cleaned = unicodedata.normalize("NFC", name).strip()
    if not cleaned:
        raise KnowledgeBaseNameError("A knowledge base needs a name")
    if len(cleaned) > NAME_MAX_CHARS:
        raise KnowledgeBaseNameError(
            f"A knowledge base's name has at most {NAME_MAX_CHARS} characters;"
            f" this one has {len(cleaned)}"
        )
    if not cleaned.isprintable():
        raise KnowledgeBaseNameError(
            "A knowledge base's name cannot hold tabs, line breaks or other control characters"
        )
    return cleaned


def name_key(name: str) -> str:
    """What makes two names the same: "Reports", "REPORTS" and "reports" are one name."""
    return unicodedata.normalize("NFC", name).strip().casefold()


def slug(name: str) -> str:
    """ASCII letters and digits of a name, lower case, joined by '-' ("" for a name in a
    script without ASCII letters, such as Chinese)."""
    ascii_only = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_only.lower()).strip("-")
    return words[:_SLUG_MAX_CHARS].rstrip("-")


def new_collection_name(
    name: str,
    taken: Container[str],
    random_hex: Callable[[int], str] = secrets.token_hex,
) -> str:
    """A collection name for a new knowledge base called `name`, not in `taken`."""
    stem = f"{COLLECTION_PREFIX}{slug(name)}-" if slug(name) else COLLECTION_PREFIX
    for _ in range(100):
        candidate = stem + random_hex(_HEX_BYTES)
        if candidate not in taken:
            return candidate
    raise KnowledgeBaseNameError(f"No free collection name for {name!r}; try another name")


def unique_name(name: str, taken_keys: Container[str]) -> str:
    """`name`, or `name (2)`, `name (3)` ... : the first whose key is not taken (for
    collections found in a data folder, whose names may differ only in case)."""
    candidate, number = name, 2
    while name_key(candidate) in taken_keys:
        suffix = f" ({number})"
        candidate = name[: NAME_MAX_CHARS - len(suffix)] + suffix
        number += 1
    return candidate
