"""The whole app in headless Chromium: `streamlit run` on 127.0.0.1 with the fake model."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.conftest import pdf
from tests.support.browser import (
    OUTPUT,
    TIMEOUT_MS,
    app_env,
    browser,
    choose_files,
    go_to,
    new_tab,
    require_chromium,
    running_app,
)
from tests.support.fake_llm import FakeLLM

BOOK, OTHER = "pdfminer_irs_i1040nr.pdf", "sf_multicolumn.pdf"
SCRIPT_TEXT = "Beware of the warning: <script>alert(1)</script> must show as text."

pytestmark = pytest.mark.browser


@pytest.fixture
def fake_llm(fake_llm: FakeLLM) -> FakeLLM:
    """The shared fake server with slow chunks, so the answer visibly streams."""
    fake_llm.chunk_delay_s = 0.04
    return fake_llm


@pytest.fixture
def app_url(tmp_path, fake_llm):
    """`streamlit run app.py` on a free port with a temporary data folder; stopped after."""
    require_chromium()
    with running_app(app_env(tmp_path, fake_llm.base_url), tmp_path / "streamlit.log") as (url, _):
        yield url


@pytest.fixture
def page(app_url):
    with browser() as chromium:
        yield new_tab(chromium, app_url)


def upload(page, tmp_path: Path) -> None:
    script = tmp_path / "warning.txt"
    script.write_text(SCRIPT_TEXT)
    go_to(page, "Documents")
    choose_files(page, [pdf("sf_minimal-document.pdf"), script])
    page.get_by_role("button", name="Ingest").click()
    page.get_by_text("sf_minimal-document.pdf: ingested (1 page, 2 chunks)").wait_for()
    page.get_by_text("warning.txt: ingested (1 page, 1 chunks)").wait_for()


def ask_and_watch_it_stream(page, question: str, final_text: str) -> bool:
    """Ask; True if a partial answer (with the typing cursor) was seen before the end."""
    box = page.get_by_placeholder("Ask about your documents")
    box.fill(question)
    box.press("Enter")
    partial_seen = False
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        body = page.locator("[data-testid=stChatMessage]").all_inner_texts()
        if any("▌" in text for text in body):
            partial_seen = True
        if any(final_text in text and "▌" not in text for text in body):
            return partial_seen
        time.sleep(0.05)
    pytest.fail(f"the answer {final_text!r} did not appear")


def test_upload_ask_see_citations_scores_and_script_as_text(page, fake_llm, tmp_path):
    upload(page, tmp_path)
    go_to(page, "Chat")
    answer = "The document is Lorem ipsum placeholder text in Latin, set in one page [1]."
    fake_llm.reply(answer, "warning script alert", "It warns about a script tag [1].")
    assert ask_and_watch_it_stream(page, "What is Lorem ipsum?", answer)
    citation = page.get_by_text("[1] sf_minimal-document.pdf, p. 1")
    citation.wait_for()
    page.get_by_text("Sources and scores", exact=True).wait_for()
    fused_kind = "relative score, 0..1, weighted mean of min-max scores"
    for kind in ("cosine similarity, -1..1", "BM25, unbounded", fused_kind):
        page.get_by_text(kind, exact=True).first.wait_for()
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "chat-with-panel.png"), full_page=True)

    ask_and_watch_it_stream(page, "And the warning?", "It warns about a script tag [1].")
    page.get_by_role("button", name="[1] warning.txt, p. 1").click()
    # The citation opens the file's text with the passage marked, the script tag as text.
    source = page.get_by_role("dialog")
    source.get_by_text("The passage is marked in yellow.").wait_for()
    source.get_by_text(SCRIPT_TEXT).wait_for()
    assert page.dialogs == []
    assert page.locator("script:text('alert(1)')").count() == 0
    page.screenshot(path=str(OUTPUT / "chat-script-as-text.png"), full_page=True)


def test_evaluation_page_runs_a_saved_question_set(page, tmp_path):
    upload(page, tmp_path)
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        '{"question": "What is Lorem ipsum?", "evidence":'
        ' [{"source": "sf_minimal-document.pdf", "page": 1}]}\n'
    )
    go_to(page, "Evaluation")
    page.get_by_text("Question file (JSON lines)").wait_for()
    page.locator("input[type=file]").set_input_files([questions])
    page.get_by_role("button", name="Save question set").click()
    page.get_by_text("1 question", exact=True).wait_for()
    page.get_by_role("button", name="Run evaluation").click()
    page.get_by_text("Results: questions.jsonl").wait_for()
    page.get_by_text("Past runs (1)").wait_for()
    page.locator("[data-testid=stVegaLiteChart] .marks").first.wait_for()
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "evaluation.png"), full_page=True)


def test_a_citation_opens_its_page_drawn_with_the_passage_boxed(page, fake_llm, tmp_path):
    go_to(page, "Documents")
    choose_files(page, [pdf("pdfjs_tracemonkey.pdf")])
    page.get_by_role("button", name="Ingest").click()
    page.get_by_text("pdfjs_tracemonkey.pdf: ingested (14 pages, ").wait_for()
    go_to(page, "Chat")
    answer = "Trace trees record hot loops and specialise them by type [1]."
    fake_llm.reply(answer)
    ask_and_watch_it_stream(page, "How do trace trees handle type specialization?", answer)
    page.get_by_role("button", name="[1] pdfjs_tracemonkey.pdf, p.").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("The passage is boxed in yellow.").wait_for()
    heading = dialog.get_by_text(" of 14", exact=False).first
    cited = int(heading.inner_text().split("page ")[1].split(" of")[0])
    image = dialog.locator("img").first
    image.wait_for()
    assert image.evaluate("img => img.naturalWidth") > 500  # the page, drawn
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "viewer-cited-page.png"), full_page=True)

    other = cited + 1 if cited < 14 else cited - 1
    name = "Next ▶" if other > cited else "◀ Previous"
    dialog.get_by_role("button", name=name).click()
    dialog.get_by_text(f"page {other} of 14").wait_for()
    dialog.get_by_text("not on this page").wait_for()
    dialog.get_by_role("button", name="Back to the passage").click()
    dialog.get_by_text(f"page {cited} of 14").wait_for()
    dialog.get_by_text("The passage is boxed in yellow.").wait_for()


def test_the_queue_shows_progress_and_cancels_while_another_tab_chats(app_url, fake_llm, tmp_path):
    with browser() as chromium:
        documents, chat = new_tab(chromium, app_url), new_tab(chromium, app_url)
        upload(documents, tmp_path)  # something to chat about
        choose_files(documents, [pdf(BOOK), pdf(OTHER)])
        documents.get_by_role("button", name="Ingest").click()
        # The book's chunks are embedded in the background: its progress moves.
        documents.get_by_text(
            re.compile(r"pdfminer_irs_i1040nr\.pdf: 50 pages read, \d+ of")
        ).wait_for()
        documents.get_by_text(re.compile(r"Queue \(2 files; about .* left\)")).wait_for()
        documents.screenshot(path=str(OUTPUT / "queue-progress.png"), full_page=True)
        # Meanwhile another tab chats, and gets its answer.
        box = chat.get_by_placeholder("Ask about your documents")
        box.fill("What does the warning say?")
        box.press("Enter")
        chat.get_by_text("The sources say so").first.wait_for()
        # Cancel the book part-way: it ends as cancelled and never reaches the library.
        documents.get_by_role("button", name="Cancel", exact=True).first.click()
        documents.get_by_text("pdfminer_irs_i1040nr.pdf: cancelled").wait_for()
        documents.get_by_text(f"{OTHER}: ingested (").wait_for()
        documents.get_by_text("Library (3)").wait_for()
        # The table's cells are drawn on a canvas: hidden from the accessibility tree.
        documents.get_by_role("gridcell", name=OTHER, include_hidden=True, exact=True).wait_for(
            state="attached"
        )
        assert documents.get_by_role("gridcell", name=BOOK, include_hidden=True).count() == 0
        for tab in (documents, chat):
            assert tab.locator("[data-testid=stException]").count() == 0
