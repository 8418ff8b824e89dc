"""Numbers in text, normalised so that the same quantity written two ways compares equal.

"$1.6 billion", "1,600 million", "USD 1.6bn" and a table's bare "1,600" (in millions) are
one quantity; "12.5%" and "12.5 percent" are one; "(1,234)" is a negative. Numbers are
compared by magnitude: a loss is written "(3)" in a table and "a loss of 3" in prose, so a
sign must not decide whether a number is in a source.

A number stated with less precision than its source ("1.6 billion" for "1,577 million")
matches when the source's value rounds to it at the precision stated (here 0.1 billion):
writers and models round, and a rounded figure says no more than its source does. The
reverse does not match: "1,577 million" is not supported by a source that says only
"1.6 billion", because the sentence then states more than the source.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from rag.citations import MARKER

# Values a written-out or abbreviated scale multiplies by.
_SCALES = {
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "mn": 1e6,
    "m": 1e6,
    "billion": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "trillion": 1e12,
    "tn": 1e12,
}
# Thousands separators: commas, apostrophes ("1'600"), no-break and thin spaces. A plain
# space is not one: "in 2023 1 600" would read as one number.
_SEPARATORS = re.compile("[,'\u00a0\u202f]")
# A bare number in a table is often in thousands, millions or billions (said once, in a
# heading the chunk may not even hold); any of those units is accepted for it.
_TABLE_UNITS = (1.0, 1e3, 1e6, 1e9)
_NUMBER = re.compile(
    r"""
    (?<![\w.,])                                     # not inside a word or another number
    (?P<open>\()?
    (?P<sign>[-−–](?=[$€£¥\d]))?
    (?P<currency>(?:US)?[$€£¥]|(?:USD|EUR|GBP|JPY)\s?)?
    (?P<digits>\d{1,3}(?:[,'\u00a0\u202f]\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)
    (?:
        \s?(?P<percent>%|percent(?:age\ points?)?\b|per\ cent\b)
      | \s?(?P<word>thousand|million|billion|trillion|bn|mn|tn)\b
      | (?P<short>[kKmMbB])\b                       # only attached: "1.6m", "$2B"
      | (?:st|nd|rd|th)\b                           # ordinals: "3rd"
    )?
    (?P<close>\))?
    """,
    re.VERBOSE | re.IGNORECASE,
)


@dataclass(frozen=True)
class Number:
    """A number as written (`text`), its magnitude, the place value of its last digit
    (`step`), and whether a unit (a scale word or %) fixes its size."""

    text: str
    value: float
    step: float
    negative: bool = False
    fixed: bool = False

    def candidates(self) -> tuple[float, ...]:
        """The magnitudes this number may stand for: itself, or for a bare number also the
        same figure in thousands, millions and billions."""
        return tuple(self.value * unit for unit in self._units())

    def found_in(self, others: Iterable[Number]) -> bool:
        """True when some number of `others` is this one, or rounds to it at this number's
        precision. A bare number of `others` (a source's table) may be in any of the table
        units; this one (the sentence's) is taken as written: tried in millions, a bare "5"
        would match any source's "$4.7 million"."""
        others = [candidate for other in others for candidate in other.candidates()]
        tolerance = self.step / 2 * (1 + 1e-9) + 1e-12 * self.value
        return any(abs(other - self.value) <= tolerance for other in others)

    def _units(self) -> tuple[float, ...]:
        return (1.0,) if self.fixed else _TABLE_UNITS


def find_numbers(text: str) -> list[Number]:
    """Every number in `text` except the digits of [n] citation markers, in order."""
    text = MARKER.sub(lambda match: " " * len(match.group(0)), text)
    numbers = (_number(match) for match in _NUMBER.finditer(text))
    # A run of hundreds of digits overflows to infinity, which would equal anything.
    return [number for number in numbers if math.isfinite(number.value)]


def without_numbers(text: str) -> str:
    """`text` with its numbers (and their units: "billion", "percent") blanked out."""
    return _NUMBER.sub(lambda match: " " * len(match.group(0)), text)


def _number(match: re.Match) -> Number:
    digits = _SEPARATORS.sub("", match["digits"])
    _, _, decimals = digits.partition(".")
    scale = _scale(match)
    value = float(digits) * scale
    negative = bool(match["sign"]) or bool(match["open"] and match["close"])
    fixed = scale != 1.0 or bool(match["percent"])
    text = match.group(0).strip("() ")
    return Number(text, value, 10.0 ** -len(decimals) * scale, negative, fixed)


def _scale(match: re.Match) -> float:
    word = match["word"] or match["short"]
    return _SCALES[word.lower()] if word else 1.0
