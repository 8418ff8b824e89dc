"""Limits on what one browser session may ask: how long a question, and how many questions.

Both are checked before any retrieval or model call. The limiter holds no global state: the
page keeps one per browser session, and tests give it their own clock.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from rag.config import Settings
from rag.errors import QuestionLimitError, QuestionTooLongError

WINDOW_S = 60.0

Clock = Callable[[], float]


@dataclass(frozen=True)
class Allowance:
    """Whether a question may be asked now; if not, why, and how long to wait (if that helps)."""

    allowed: bool
    message: str | None = None
    wait_s: int | None = None


def check_question(question: str, settings: Settings) -> None:
    """Raise QuestionTooLongError when the question is over RAG_MAX_QUESTION_CHARS."""
    limit = settings.max_question_chars
    if len(question) > limit:
        raise QuestionTooLongError(
            f"The question is {len(question):,} characters long; the limit is {limit:,}"
            " (RAG_MAX_QUESTION_CHARS). Shorten it, or upload the long text as a document"
            " and ask about it."
        )


class QuestionLimiter:
    """At most `per_minute` questions in any 60 s, and `total` in all, for one session."""

    def __init__(self, per_minute: int, total: int, clock: Clock = time.monotonic) -> None:
        self.per_minute = per_minute
        self.total = total
        self._clock = clock
        self._recent: deque[float] = deque()
        self._asked = 0
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = time.monotonic) -> QuestionLimiter:
        """A limiter with RAG_SESSION_QUESTIONS_PER_MINUTE and RAG_SESSION_MAX_QUESTIONS."""
        return cls(settings.session_questions_per_minute, settings.session_max_questions, clock)

    @property
    def asked(self) -> int:
        """Questions counted so far in this session."""
        return self._asked

    def check(self) -> Allowance:
        """Whether a question may be asked now; counts nothing."""
        with self._lock:
            return self._allowance(self._clock())

    def admit(self) -> None:
        """Count a question now, or raise QuestionLimitError saying why it may not be asked."""
        with self._lock:
            now = self._clock()
            allowance = self._allowance(now)
            if not allowance.allowed:
                raise QuestionLimitError(allowance.message)
            self._recent.append(now)
            self._asked += 1

    def _allowance(self, now: float) -> Allowance:
        if self._asked >= self.total:
            return Allowance(
                False,
                f"This session has asked the maximum of {self.total:,} questions; start a new"
                " session (reload the page) to ask more.",
            )
        while self._recent and self._recent[0] <= now - WINDOW_S:
            self._recent.popleft()
        if len(self._recent) >= self.per_minute:
            wait = max(1, math.ceil(self._recent[0] + WINDOW_S - now))
            return Allowance(
                False,
                f"You have asked {self.per_minute} questions in the last minute, the most this"
                f" app allows; wait {wait} s and ask again.",
                wait,
            )
        return Allowance(True)
