"""Knowledge bases in headless Chromium: make one on the Documents page, pick it in the
sidebar, upload into it, and find the choice kept across pages and a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import pdf
from tests.support.browser import (
    app_env,
    browser,
    choose_files,
    go_to,
    new_tab,
    require_chromium,
    running_app,
)

PDF = "sf_minimal-document.pdf"

pytestmark = pytest.mark.browser


@pytest.fixture
def app_url(tmp_path):
    """`streamlit run app.py` on a free port with a temporary data folder; stopped after."""
    require_chromium()
    with running_app(app_env(tmp_path), tmp_path / "streamlit.log") as (url, _):
        yield url


def pick(tab, label: str) -> None:
    """Choose a knowledge base in the sidebar's picker."""
    tab.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").click()
    tab.get_by_role("option", name=label, exact=True).click()


def shows_library(tab, count: int) -> None:
    tab.get_by_role("heading", name=f"Library ({count})").wait_for()


def test_a_knowledge_base_made_in_the_page_gets_its_own_documents(app_url):
    with browser() as chromium:
        tab = new_tab(chromium, app_url)
        go_to(tab, "Documents")
        tab.get_by_text("Knowledge bases", exact=True).click()
        tab.get_by_label("Name", exact=True).fill("Reports")
        tab.get_by_role("button", name="Create").click()
        pick(tab, "Reports")
        expect(tab).to_have_url(re.compile(r"[?&]kb=Reports"))
        tab.get_by_text("Knowledge base: Reports (choose another in the sidebar)").wait_for()
        choose_files(tab, [pdf(PDF)])
        tab.get_by_role("button", name="Ingest").click()
        tab.get_by_text(f"{PDF}: ingested (1 page, 2 chunks)").wait_for()
        shows_library(tab, 1)

        # Another page works on the same choice, and coming back keeps it.
        go_to(tab, "Search")
        tab.get_by_role("heading", name="Search").wait_for()
        expect(tab).to_have_url(re.compile(r"[?&]kb=Reports"))
        go_to(tab, "Documents")
        shows_library(tab, 1)

        pick(tab, "documents (default)")
        shows_library(tab, 0)
        expect(tab).not_to_have_url(re.compile(r"kb="))

        # A new session opened at the URL that names it (a reload) works on it again.
        again = new_tab(chromium, f"{app_url}/documents?kb=Reports")
        again.get_by_text("Knowledge base: Reports (choose another in the sidebar)").wait_for()
        shows_library(again, 1)
