"""The app as users reach it: `streamlit run app.py` on 127.0.0.1, and headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.helpers import ROOT, free_port, stop

OUTPUT = ROOT / "test-output"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 90_000


def require_chromium() -> None:
    """Skip, saying why, where Debian's Chromium is not installed."""
    if not Path(CHROMIUM).is_file():
        message = f"no Chromium at {CHROMIUM}: install Debian's chromium to run browser tests"
        print(message)
        pytest.skip(message)


def app_env(tmp_path: Path, chat_base_url: str | None = None) -> dict[str, str]:
    """The app's environment for a test: a temporary data folder, and the fake chat model
    at `chat_base_url` (retrieval-only answers without one)."""
    env = {**os.environ, "RAG_DATA_DIR": str(tmp_path / "data")}
    if chat_base_url is None:
        return {**env, "RAG_CHAT_MODEL": "none"}
    return {
        **env,
        "RAG_CHAT_MODEL": "fake-model",
        "OPENAI_BASE_URL": chat_base_url,
        "RAG_CHAT_MAX_RETRIES": "0",
    }


@contextmanager
def running_app(
    env: dict[str, str], log: Path, address_flag: bool = True, script: str = "app.py"
) -> Iterator[tuple[str, int]]:
    """Start the app (`script`: serve.py runs it with the HTTP service) on a free port;
    yields (url, port) once healthy, stops it after.

    Without `address_flag` the app binds where its own configuration says.
    """
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port)]
    # Files edited in the working tree while tests run must not restart the app's pages.
    command += ["--server.headless", "true", "--server.fileWatcherType", "none"]
    if address_flag:
        command += ["--server.address", "127.0.0.1"]
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log)
        yield url, port
    finally:
        stop(process)


def _wait_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"streamlit exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"streamlit did not become healthy:\n{log.read_text()}")


@contextmanager
def browser() -> Iterator[object]:
    """A headless Chromium (Playwright's Browser); new_tab() opens sessions in it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def new_tab(chromium, url: str):
    """A page in a fresh browser context (its own Streamlit session), opened at `url`.

    Dialogs (alert, confirm) are dismissed and recorded in `tab.dialogs`.
    """
    context = chromium.new_context(viewport={"width": 1600, "height": 1200})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    tab.dialogs = []
    tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    tab.goto(url)
    return tab


def choose_files(tab, paths: list) -> None:
    """Pick files in the page's file picker and wait until each has reached the server.

    The picker sits in a form: its button can be pressed before an upload is done, and
    would then send no file (the page says so), as a person clicking at once would.
    """
    arrived: list[int] = []

    def on_response(response) -> None:
        if "/_stcore/upload_file/" in response.url and response.request.method == "PUT":
            arrived.append(response.status)

    tab.on("response", on_response)
    try:
        tab.locator("input[type=file]").set_input_files(paths)
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while len(arrived) < len(paths):
            assert time.monotonic() < deadline, f"{len(arrived)} of {len(paths)} uploads arrived"
            tab.wait_for_timeout(100)
    finally:
        tab.remove_listener("response", on_response)
    assert all(200 <= status < 300 for status in arrived), arrived


def go_to(tab, page: str) -> None:
    """Open one of the app's pages from the sidebar's navigation.

    Should the link not come, the page as it was is saved (test-output/nav-<page>.png) and
    the sidebar's text is put in the failure, to tell what the browser showed instead.
    """
    link = tab.get_by_test_id("stSidebarNav").get_by_role("link", name=page, exact=True)
    try:
        link.click()
    except Exception as exc:
        OUTPUT.mkdir(exist_ok=True)
        tab.screenshot(path=str(OUTPUT / f"nav-{page.lower().replace(' ', '-')}.png"))
        sidebar = tab.get_by_test_id("stSidebar").all_inner_texts()
        raise AssertionError(f"no {page!r} link in the sidebar: {sidebar}") from exc
