"""Pages sent on while a PDF is still being read (in the parser process), so the app can
embed a long document's first chunks before its last page is read.

Each message is one JSON line before the reply: `{"document": {"title", "outline"}}` once,
before the pages; `{"page": [number, pages, text]}` for each page as extracted; and, for a
document without an outline, `{"headings": [through_page, [[page, level, text], ...]]}`,
the headings of the pages read so far. The reply is unchanged and stays the authority:
what is sent early only forecasts it (scanned pages, read later, replace their text).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ingest.pdf_layout import PageScan, headings_in

# Headings depend on the whole document's type (its body size, its running headers), so
# they are worked out over all pages read so far: after 32, 64, 128... pages, which costs
# a long document a handful of lists rather than one per page.
FIRST_HEADINGS_AT = 32


class PageStream:
    """Sends each page as it is read, and the headings found so far now and then."""

    def __init__(self, emit: Callable[[dict], None], title: str, outline: list) -> None:
        self._emit = emit
        # With an outline the sections come from it, and headings are not needed.
        self._next_headings = FIRST_HEADINGS_AT if not outline else None
        emit({"document": {"title": title, "outline": outline}})

    def page(self, number: int, pages: int, text: str, scans: Sequence[PageScan]) -> None:
        """Send page `number` of `pages`; `scans` are the pages read so far, this one last."""
        self._emit({"page": [number, pages, text]})
        if self._next_headings is not None and number >= self._next_headings:
            self._next_headings *= 2
            found = [list(heading) for heading in headings_in(scans)]
            self._emit({"headings": [number, found]})
