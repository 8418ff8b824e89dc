"""Content words, stemmed, and how many of a sentence's content words a source holds.

Content words are the words left once numbers and stop words are out: lower case, what
follows an apostrophe dropped, a suffix stripped ("studies" -> "study"), then cut to their
first STEM_CHARS letters, so "reduced", "reduces" and "reduction" are one word. The cut
merges some unrelated words ("interest", "internal"); bench/claim_support.py measures the
support score this gives.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Letters only: numbers are checked on their own (rag.chat.numbers).
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)
STEM_CHARS = 5
_SUFFIXES = (("ies", "y"), ("ied", "y"), ("sses", "ss"), ("s", ""))
_APOSTROPHE = re.compile(r"['’].*")
STOPWORDS = frozenset(
    re.findall(
        r"\S+",
        """
    a about above after again against all also although am among an and any are as at be
    because been before being below between both but by can could did do does doing done
    down during each either else even ever every few for from further had has have having
    he her here hers herself him himself his how however i if in into is it its itself just
    least less like many may me might more most much must my myself neither no nor not now
    of off often on once one only onto or other others our ours ourselves out over own per
    perhaps quite rather same shall she should since so some such than that the their
    theirs them themselves then there therefore these they this those though through thus
    to too toward towards under until up upon us very was we well were what whatever when
    where whereas whether which while who whom whose why will with within without would
    yet you your yours yourself aren couldn didn doesn don hadn hasn haven isn shouldn
    wasn weren wouldn
    according answer based context document documents excerpt mention mentioned mentions
    note noted notes passage provided report reported says said show shows shown source
    sources stated states text
    """,
    )
)
# The last group above is how answers talk about their sources ("according to the
# report"), not what they claim; requiring those words in a chunk would only add noise.


def stem(word: str) -> str:
    """A word's crude stem: lower case, one suffix stripped, cut to STEM_CHARS letters."""
    word = word.lower()
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                break
            word = word[: -len(suffix)] + replacement
            break
    return word[:STEM_CHARS]


def content_words(text: str) -> list[str]:
    """The stems of `text`'s content words, in order (repeats kept)."""
    # "company's" -> "company", "doesn't" -> "doesn" (a stop word).
    words = (_APOSTROPHE.sub("", w.lower()) for w in _WORD.findall(text))
    return [stem(w) for w in words if len(w) > 1 and w not in STOPWORDS]


def word_support(words: Iterable[str], source_words: frozenset[str]) -> float | None:
    """The share of the distinct stems in `words` that `source_words` holds; None when
    there are none to look for."""
    distinct = set(words)
    if not distinct:
        return None
    return len(distinct & source_words) / len(distinct)
