"""Make untrusted text safe to show as Markdown: documents, file names and model output.

Nothing here produces HTML. Document text and file names are escaped so that no Markdown
construct in them takes effect; model output keeps its Markdown, but images (which would
load a URL) and links to anything but http(s) are turned into plain text, and raw HTML is
escaped so it shows literally.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Every ASCII punctuation character may be backslash-escaped in CommonMark; these are the
# ones that start Markdown, HTML, LaTeX ($) or Streamlit directives (:).
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])")
_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~$:&])")
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)]*)\)")
_LINK = re.compile(r"(?<!!)\[([^\]]*)\]\(\s*([^)\s]*)[^)]*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S+.*$", re.MULTILINE)
_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.-]*:[^>\s]*)>")
_SAFE_SCHEME = re.compile(r"^https?://", re.IGNORECASE)
_WORD = re.compile(r"\w+", re.UNICODE)
_STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "a an and are as at be by can could did do does for from had has have how i in is it its"
        " me my of on or our so that the their them then there these they this to was we were"
        " what when where which who why will with would you your",
    )
)


def escape_markdown(text: str) -> str:
    """Text that Markdown shows literally (no formatting, links, HTML or LaTeX)."""
    return _SPECIAL.sub(r"\\\1", text)


def unescape_markdown(text: str) -> str:
    """The inverse of `escape_markdown`: the text as written, for plain-text output."""
    return _ESCAPED.sub(r"\1", text)


ELLIPSIS = "…"


def shorten(text: str, limit: int) -> str:
    """`text`, or its start cut at a word with "…" when it is longer than `limit` characters."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ›") + ELLIPSIS


def display_name(name: str, limit: int = 80) -> str:
    """A file name fit to show: one line, at most `limit` characters, Markdown escaped.

    Names come from users' uploads and are only ever shown, never used as paths; a long
    name keeps its start and its extension.
    """
    name = " ".join(name.split()) or "(no name)"
    if len(name) > limit:
        _, dot, suffix = name.rpartition(".")
        tail = f"{dot}{suffix}" if dot and len(suffix) <= 8 else ""
        name = name[: limit - len(tail) - 1] + "…" + tail
    return escape_markdown(name)


def safe_markdown(text: str) -> str:
    """Model output with images, non-http(s) links and raw HTML neutralised."""
    text = _IMAGE.sub(lambda m: f"(image: {escape_markdown(m.group(1))})", text)
    text = _LINK.sub(_link_or_text, text)
    text = _REFERENCE.sub("", text)
    text = _AUTOLINK.sub(lambda m: escape_markdown(m.group(1)), text)
    # Whatever "<" remains could start HTML: show it as a character.
    return text.replace("<", r"\<")


def _link_or_text(match: re.Match) -> str:
    label, target = match.group(1), match.group(2)
    if _SAFE_SCHEME.match(target):
        return match.group(0)
    return label


def query_terms(query: str) -> list[str]:
    """The words of a query worth highlighting: no stop words, nothing under 3 letters."""
    words = {w.lower() for w in _WORD.findall(query)}
    return sorted(w for w in words if len(w) >= 3 and w not in _STOPWORDS)


def highlight_terms(text: str, terms: Iterable[str]) -> str:
    """Escaped Markdown of `text` with words that start with a query term in bold."""
    terms = [re.escape(t) for t in terms if t]
    if not terms:
        return escape_markdown(text)
    pattern = re.compile(r"\b(?:" + "|".join(terms) + r")\w*", re.IGNORECASE)
    parts: list[str] = []
    position = 0
    for match in pattern.finditer(text):
        parts.append(escape_markdown(text[position : match.start()]))
        parts.append(f"**{escape_markdown(match.group(0))}**")
        position = match.end()
    parts.append(escape_markdown(text[position:]))
    return "".join(parts)
