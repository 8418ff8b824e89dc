"""Text cleaning before chunking: one normal form, no control characters, joined words."""

from __future__ import annotations

import re
import unicodedata

# Zero-width characters and the soft hyphen carry no text; private-use code points are
# glyph ids that a PDF failed to map to characters.
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200d\u2060\ufeff\ue000-\uf8ff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_HYPHENATED = re.compile(r"(\w)-\n(?=[a-z])")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def clean_text(text: str) -> str:
    """Normalise extracted text so that equal words compare and index equally.

    NFKC folds ligatures (U+FB01 becomes "fi"), full-width forms and Arabic presentation
    forms into plain letters. Line breaks are kept, since they mark paragraphs and help
    chunking cut at natural places.
    """
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub(" ", text)
    text = _HYPHENATED.sub(r"\1", text)
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def has_text(text: str) -> bool:
    """True when a page holds at least one letter or digit."""
    return any(ch.isalnum() for ch in text)
