"""Sign-in and sharing in headless Chromium: two people sign in through a real OpenID
Connect provider on 127.0.0.1; the second can neither see, search, cite, download nor delete
the first's private documents until they are shared with them, and then only as a reader.
"""

from __future__ import annotations

import pytest

from tests.support.browser import (
    app_env,
    browser,
    choose_files,
    go_to,
    new_tab,
    require_chromium,
    running_app,
)
from tests.support.oidc import auth_secrets, running_provider, sign_in, sign_out

ADA, BOB = ("ada@example.com", "Ada Lovelace"), ("bob@example.org", "Bob Smith")
SECRET = "The launch code of project Nightingale is amber falcon."

pytestmark = pytest.mark.browser


@pytest.fixture
def app_url(tmp_path):
    """The app with sign-in configured against a provider on 127.0.0.1; both stopped after."""
    require_chromium()
    with running_provider() as provider:
        secrets = auth_secrets(tmp_path, provider)
        env = app_env(tmp_path) | {
            "STREAMLIT_SECRETS_FILES": str(secrets),
            # Ada's whole domain, and Bob alone of his.
            "RAG_ALLOWED_PEOPLE": f"@example.com,{BOB[0]}",
        }
        with running_app(env, tmp_path / "streamlit.log") as (url, _):
            yield url


def signed_in_tab(chromium, url: str, person: tuple[str, str]):
    """A new browser session signed in as `person` (email, name)."""
    tab = new_tab(chromium, url)
    tab.get_by_role("button", name="Sign in").click()
    sign_in(tab, *person)
    tab.get_by_text(f"Signed in as {person[1]} ({person[0]})").wait_for()
    return tab


def open_page(tab, name: str) -> None:
    go_to(tab, name)
    tab.get_by_role("heading", name=name, exact=True).wait_for()


def search(tab, query: str) -> str:
    """The Search page's results for `query`, as text."""
    open_page(tab, "Search")
    tab.get_by_label("Query").fill(query)
    tab.get_by_label("Query").press("Enter")
    tab.get_by_text("BM25 (words)").wait_for()
    tab.wait_for_timeout(500)
    return tab.get_by_test_id("stMain").inner_text()


def ask(tab, question: str) -> str:
    """The Chat page's answer to `question`, as text."""
    open_page(tab, "Chat")
    box = tab.get_by_placeholder("Ask about your documents")
    box.fill(question)
    box.press("Enter")
    tab.get_by_role("button", name="Show its sources and scores").last.wait_for()
    return tab.get_by_test_id("stChatMessage").last.inner_text()


def picker_options(tab) -> list[str]:
    tab.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").click()
    options = tab.get_by_role("option").all_inner_texts()
    tab.keyboard.press("Escape")
    return options


def test_private_until_shared_then_readable_not_deletable(app_url, tmp_path):
    notes = tmp_path / "nightingale.txt"
    notes.write_text(SECRET)
    with browser() as chromium:
        ada = signed_in_tab(chromium, app_url, ADA)
        open_page(ada, "Documents")
        ada.get_by_text(f"Knowledge base: {ADA[0]} (choose another in the sidebar)").wait_for()
        choose_files(ada, [notes])
        ada.get_by_role("button", name="Ingest").click()
        ada.get_by_text("nightingale.txt: ingested").wait_for()
        ada.get_by_text("Your knowledge bases' files take 0.0 MB of your 2,048 MB.").wait_for()

        bob = signed_in_tab(chromium, app_url, BOB)
        assert picker_options(bob) == [BOB[0]]
        assert "amber falcon" not in search(bob, "launch code Nightingale")
        assert "amber falcon" not in ask(bob, "What is the launch code of Nightingale?")
        # Naming Ada's knowledge base in the URL opens Bob's own.
        bob.goto(f"{app_url}/search?kb={ADA[0]}")
        bob.get_by_text(f"Signed in as {BOB[1]}").wait_for()
        assert picker_options(bob) == [BOB[0]]

        # Ada shares hers with Bob as a reader.
        open_page(ada, "Documents")
        ada.get_by_text("Knowledge bases", exact=True).click()
        ada.get_by_role("tab", name="Sharing").click()
        ada.get_by_label("Share with (an email, or * for everyone signed in)").fill(BOB[0])
        ada.get_by_role("button", name="Share", exact=True).click()
        ada.get_by_text(f"{BOB[0]} · reader").wait_for()

        bob.reload()
        assert picker_options(bob) == [BOB[0], ADA[0]]
        bob.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").click()
        bob.get_by_role("option", name=ADA[0], exact=True).click()
        assert "nightingale.txt" in search(bob, "launch code Nightingale")
        answer = ask(bob, "What is the launch code of Nightingale?")
        assert "amber falcon" in answer and "nightingale.txt" in answer
        open_page(bob, "Documents")
        bob.get_by_text("You are a reader of this knowledge base").wait_for()
        assert bob.get_by_role("button", name="Delete this document").count() == 0
        assert bob.locator("input[type=file]").count() == 0

        # The audit log, which only the owner sees, records the upload and the share.
        ada.get_by_role("tab", name="Audit log").click()
        ada.get_by_text("Show the audit log").click()
        # The table's cells are drawn on a canvas; its accessible copy is hidden.
        audit = ada.locator("table").filter(has_text="whenwhowhatdetail")
        cells = {"include_hidden": True, "exact": True}
        for what, detail in (("add", "nightingale.txt"), ("share", f"{BOB[0]} as reader")):
            audit.get_by_role("gridcell", name=what, **cells).wait_for(state="attached")
            audit.get_by_role("gridcell", name=detail, **cells).wait_for(state="attached")

        # Someone the provider signs in but the app does not admit gets nothing.
        eve = new_tab(chromium, app_url)
        eve.get_by_role("button", name="Sign in").click()
        sign_in(eve, "eve@example.org", "Eve")
        eve.get_by_text("may not use this app (RAG_ALLOWED_PEOPLE)").wait_for()
        assert eve.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").count() == 0

        bob.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
        sign_out(bob)
        bob.get_by_role("button", name="Sign in").wait_for()
        assert bob.get_by_text("amber falcon").count() == 0
