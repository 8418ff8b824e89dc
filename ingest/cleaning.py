"""Text cleaning before chunking: one normal form, no control characters, joined words."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rag.errors import IngestError

# Zero-width characters and the soft hyphen carry no text; private-use code points are
# glyph ids that a PDF failed to map to characters.
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200d\u2060\ufeff\ue000-\uf8ff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_HYPHENATED = re.compile(r"(\w)-\n(?=[a-z])")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


# Byte order marks of UTF-16 text, as Windows Notepad saves "Unicode".
UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")
BINARY_WINDOW = 8192


def decode_text(data: bytes, what: str = "text file") -> str:
    """A text file's bytes as text: UTF-16 by its byte order mark, else UTF-8 (a mark
    dropped), else Windows-1252; IngestError when it holds binary data instead."""
    if data.startswith(UTF16_MARKS):
        return data.decode("utf-16", errors="replace")
    # A NUL byte in the first few kilobytes marks a binary file, as git and `file` judge.
    if b"\x00" in data[:BINARY_WINDOW]:
        raise IngestError(f"not a {what}: it holds binary data (a program, an image?)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Not UTF-8: cp1252 covers most older Western text files and never fails on a byte.
        return data.decode("cp1252", errors="replace")


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


# --- junk text layers -----------------------------------------------------------------
# A failed OCR or a font without a character map leaves a text layer that is there but is
# not words: ":., dP . . i, . . ? » 14 e. :" or glyphs from a dozen scripts in one "word".
# Such a page is treated like a page without text. The test is the share of characters
# that sit in word-like tokens; it is deliberately lenient, since a false alarm loses a
# real page while a missed one only adds a useless chunk.

# Below this many characters a page is too short to judge ("Page 3", a title).
JUNK_MIN_CHARS = 40
# Measured share of word-like characters: prose 0.9 and above (every SciFact abstract, every
# page of the shared PDFs in Spanish, Japanese, Chinese, Arabic), tables of numbers 1.0, code
# 0.8, formulas and printers' crop marks 0.6; a failed OCR (pypdf's issue-301) 0.38, glyphs
# without a character map (pdfminer's jo.pdf) 0.003.
WORDLIKE_MIN_SHARE = 0.45
# Dot leaders of a table of contents (". . . . ."), one lone dot after another.
_LEADER = re.compile(r"(?:(?<!\S)[.…·_](?!\S)\s*){3,}")
# Stand-alone symbols that real text uses between words: dashes, bullets, operators, bars.
_SEPARATORS = frozenset("|-–—•·*&/\\=+#><×~§¶()[]{}%$€£")
_CJK_FAMILY = frozenset(
    ("CJK", "HIRAGANA", "KATAKANA", "IDEOGRAPHIC", "HALFWIDTH", "FULLWIDTH", "HANGUL")
)


def looks_like_junk(text: str) -> bool:
    """True when a page's text is mostly not words (a failed OCR, unmapped glyphs).

    Short texts are never junk: there is too little to judge. Numbers, code and every
    script count as words; only symbol soup and letters of many scripts mixed inside one
    word do not.
    """
    share = wordlike_share(text)
    return share is not None and share < WORDLIKE_MIN_SHARE


def wordlike_share(text: str) -> float | None:
    """The share of characters in word-like tokens, 0..1; None for too little text."""
    tokens = _LEADER.sub(" ", text).split()
    judged = [token for token in tokens if not _is_separator(token)]
    total = sum(map(len, judged))
    if total < JUNK_MIN_CHARS:
        return None
    return sum(len(token) for token in judged if _is_wordlike(token)) / total


def _is_separator(token: str) -> bool:
    """A symbol between words, or a rule or leader (".......", "-----", "____")."""
    if any(ch.isalnum() for ch in token):
        return False
    return (len(token) == 1 and token in _SEPARATORS) or (len(token) >= 3 and len(set(token)) <= 2)


def _is_wordlike(token: str) -> bool:
    core = _strip_symbols(token)
    if not core:
        return False
    if len(core) == 1:
        return core.isdigit()  # a lone letter is as likely OCR noise as a word
    alnum = sum(ch.isalnum() for ch in core)
    return alnum * 2 >= len(core) and len(_scripts(core)) <= 2


def _strip_symbols(token: str) -> str:
    start, end = 0, len(token)
    while start < end and not token[start].isalnum():
        start += 1
    while end > start and not token[end - 1].isalnum():
        end -= 1
    return token[start:end]


def _scripts(word: str) -> set[str]:
    """The writing systems of a word's letters; Chinese, Japanese and Korean count as one."""
    return {_script(ch) for ch in word if ch.isalpha() and not ch.isascii()} | (
        {"LATIN"} if any(ch.isascii() and ch.isalpha() for ch in word) else set()
    )


@lru_cache(maxsize=4096)
def _script(ch: str) -> str:
    family = unicodedata.name(ch, "UNKNOWN").split(" ", 1)[0]
    return "CJK" if family in _CJK_FAMILY else family


@dataclass(frozen=True)
class PageCheck:
    """Pages that give nothing to index: without text, or with text that looks like junk."""

    without_text: tuple[int, ...]
    junk_text: tuple[int, ...]

    @property
    def unusable(self) -> tuple[int, ...]:
        """Every page that gives nothing to index, in page order."""
        return tuple(sorted(self.without_text + self.junk_text))


def check_pages(pages: Sequence[str]) -> PageCheck:
    """Which of the cleaned pages (page n is `pages[n - 1]`) have no text or junk text."""
    empty = tuple(n for n, page in enumerate(pages, start=1) if not has_text(page))
    junk = tuple(
        n for n, page in enumerate(pages, start=1) if n not in empty and looks_like_junk(page)
    )
    return PageCheck(empty, junk)


def no_text_reason(
    check: PageCheck,
    pages: int,
    unreadable: Sequence[int] = (),
    page_error: str | None = None,
    recognition: str | None = None,
) -> str:
    """Why a document none of whose `pages` can be indexed is refused, in the user's terms;
    `recognition` says what text recognition did, for a document that could be scanned."""
    if check.junk_text:
        junk = len(check.junk_text)
        where = (
            "on every page"
            if junk == pages
            else f"on {junk:,} of {pages:,} pages, and the others have no text"
        )
        return (
            f"the text layer looks like junk, not words, {where}: for example a bad OCR,"
            " or a font without a character map"
        )
    if unreadable and len(unreadable) == pages:
        return f"no page could be read: {page_error}"
    if recognition is None:
        return "no text found"
    return f"no text found: {recognition}"


def ocr_note(enabled: bool, skipped: dict[int, str]) -> str:
    """What text recognition did for a document in which it found no text."""
    if not enabled:
        return "the pages may be scanned images, and text recognition (OCR) is turned off (RAG_OCR)"
    if skipped:
        return f"text recognition (OCR) could not read every page: {next(iter(skipped.values()))}"
    return "text recognition (OCR) found no words either: the pages may be blank or pictures"
