"""The ingestion queue in headless Chromium across a reload and a trip to another page.

The queue lives in the server process and on disk, not in the browser session: a reloaded
tab, or one that comes back from the Chat page, must show the same job still moving, and
its Cancel button must still reach it.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import pdf
from tests.support.browser import (
    TIMEOUT_MS,
    app_env,
    browser,
    choose_files,
    go_to,
    new_tab,
    require_chromium,
    running_app,
)

BOOK, OTHER = "pdfminer_irs_i1040nr.pdf", "sf_multicolumn.pdf"
# The book's progress line; its numbers are grouped with commas past 999.
PROGRESS = re.compile(
    rf"{re.escape(BOOK)}: (?P<pages>[\d,]+) pages read, (?P<done>[\d,]+) of"
    r" (?P<total>[\d,]+) chunks embedded"
)

pytestmark = pytest.mark.browser


@pytest.fixture
def app(tmp_path, fake_llm):
    """`streamlit run app.py` on a free port with a temporary data folder: (url, its log)."""
    require_chromium()
    log = tmp_path / "streamlit.log"
    with running_app(app_env(tmp_path, fake_llm.base_url), log) as (url, _):
        yield url, log


def book_chunks_embedded(tab, above: int = -1) -> int:
    """Wait until the book's progress line shows more than `above` chunks embedded; that
    count. Read from the page's progress bars as a whole, since the queue redraws them
    every second."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    seen = "nothing"
    while time.monotonic() < deadline:
        texts = tab.locator("[data-testid=stProgress]").all_inner_texts()
        found = [m for m in map(PROGRESS.search, texts) if m]
        if found:
            seen = found[0].group(0)
            done = int(found[0]["done"].replace(",", ""))
            if done > above:
                assert done < int(found[0]["total"].replace(",", "")), seen
                return done
        tab.wait_for_timeout(100)
    pytest.fail(f"the book's progress never passed {above} chunks; last seen: {seen}")


def assert_no_exception(tab, log: Path) -> None:
    """Neither the page nor the server's log shows an exception."""
    assert tab.locator("[data-testid=stException]").count() == 0
    assert "Traceback" not in log.read_text(errors="replace"), log.read_text(errors="replace")


def visit_chat(tab, log: Path) -> None:
    """Open the Chat page and stay there while the queue's refresh comes due twice: the
    Documents page's queue must neither be drawn there nor fail."""
    go_to(tab, "Chat")
    tab.get_by_placeholder("Ask about your documents").wait_for()
    expect(tab.locator("[data-testid=stProgress]")).to_have_count(0)
    tab.wait_for_timeout(2500)
    assert_no_exception(tab, log)


def test_the_queue_survives_a_reload_and_a_trip_to_another_page(app):
    url, log = app
    with browser() as chromium:
        tab = new_tab(chromium, url)
        go_to(tab, "Documents")
        choose_files(tab, [pdf(BOOK), pdf(OTHER)])
        tab.get_by_role("button", name="Ingest").click()
        before = book_chunks_embedded(tab)

        # A reload opens a new session: the queue is the server's, so it is shown again,
        # the same job further on, the small file still waiting behind it.
        tab.reload()
        tab.get_by_role("heading", name="Documents").wait_for()
        after_reload = book_chunks_embedded(tab, above=before)
        tab.get_by_text(re.compile(r"Queue \(2 files; about .* left\)")).wait_for()
        # The small file waits behind it (or is already being read, ahead of its turn).
        tab.locator("[data-testid=stProgress]").filter(has_text=f"{OTHER}: ").wait_for()
        assert_no_exception(tab, log)

        # To the Chat page and back: the queue is still there and still moving.
        visit_chat(tab, log)
        go_to(tab, "Documents")
        book_chunks_embedded(tab, above=after_reload)
        assert_no_exception(tab, log)

        # Cancel the book from its own row: it ends cancelled, never reaches the library,
        # and the small file queued behind it is ingested.
        row = tab.locator("[data-testid=stHorizontalBlock]").filter(has_text=f"{BOOK}: ")
        row.get_by_role("button", name="Cancel", exact=True).click()
        tab.get_by_text(f"{BOOK}: cancelled").wait_for()
        tab.get_by_text(f"{OTHER}: ingested (").wait_for()
        tab.get_by_text("Library (1)").wait_for()
        # The table's cells are drawn on a canvas; its accessible copy is hidden.
        cells = {"include_hidden": True, "exact": True}
        tab.get_by_role("gridcell", name=OTHER, **cells).wait_for(state="attached")
        assert tab.get_by_role("gridcell", name=BOOK, **cells).count() == 0
        assert tab.get_by_text("Queue (").count() == 0
        assert_no_exception(tab, log)
