"""Typed reading of raw setting values (strings from the environment or `.env`).

`rag.config` reads the environment and passes the strings here; every error names the
variable so a bad setting stops the program at start-up with a message that says which.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

from rag.errors import SettingsError

T = TypeVar("T")

# RAG_EMBED_QUERY_PREFIX=none (or RAG_EMBED_PASSAGE_PREFIX=none) turns a known prefix off.
NO_PREFIX = "none"
# Chroma's own rule for collection names.
COLLECTION_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{1,510})[A-Za-z0-9]$")
_TRUE, _FALSE = ("1", "true", "on", "yes"), ("0", "false", "off", "no")


class Values:
    """Typed access to raw string values; each error names the variable."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values

    def optional_text(self, name: str) -> str | None:
        value = self._values.get(name, "").strip()
        return value or None

    def prefix(self, name: str) -> str | None:
        """Kept exactly, spaces included ("query: "); `none` means no prefix at all."""
        value = self._values.get(name, "")
        if not value.strip():
            return None
        return "" if value.strip().lower() == NO_PREFIX else value

    def flag(self, name: str, default: bool) -> bool:
        """On or off: true/false, on/off, yes/no or 1/0."""
        raw = self.optional_text(name)
        if raw is None:
            return default
        if raw.lower() in _TRUE + _FALSE:
            return raw.lower() in _TRUE
        raise SettingsError(f"{name} must be on or off (true/false, 1/0), got {raw!r}")

    def optional_flag(self, name: str) -> bool | None:
        """On, off, or None when not set."""
        return None if self.optional_text(name) is None else self.flag(name, False)

    def names(self, name: str) -> tuple[str, ...]:
        """A comma-separated list, each entry stripped; an email or "@domain" folded to lower
        case (anything else, such as a provider's subject, kept as it is)."""
        entries = (e.strip() for e in (self.optional_text(name) or "").split(","))
        return tuple(e.lower() if "@" in e else e for e in entries if e)

    def text(self, name: str, default: str) -> str:
        return self.optional_text(name) or default

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.text(name, default).lower()
        if value not in allowed:
            raise SettingsError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
        return value

    def number(
        self, name: str, default: T, minimum: float | None = None, maximum: float | None = None
    ) -> T:
        """The value as the default's type (int or float), within the bounds given."""
        raw = self.optional_text(name)
        if raw is None:
            return default
        try:
            value = type(default)(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number, got {raw!r}") from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            bounds = (
                f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
            )
            raise SettingsError(f"{name} must be {bounds}, got {raw!r}")
        return value

    def optional_number(self, name: str, minimum: int) -> int | None:
        if self.optional_text(name) is None:
            return None
        return self.number(name, 0, minimum=minimum)

    def directory(self, name: str) -> Path | None:
        raw = self.optional_text(name)
        if raw is None:
            return None
        path = Path(raw).expanduser()
        if not path.is_dir():
            raise SettingsError(f"{name} must be an existing folder, got {raw!r}")
        return path

    def url(self, name: str) -> str | None:
        raw = self.optional_text(name)
        if raw is not None and not raw.startswith(("http://", "https://")):
            raise SettingsError(f"{name} must start with http:// or https://, got {raw!r}")
        return raw

    def collection_name(self, name: str, default: str) -> str:
        value = self.text(name, default)
        if not COLLECTION_NAME.match(value) or ".." in value:
            raise SettingsError(
                f"{name} must be 3-512 letters, digits, '.', '_' or '-', starting and ending"
                f" with a letter or digit; got {value!r}"
            )
        return value
