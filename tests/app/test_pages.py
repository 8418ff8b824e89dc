"""Each page through Streamlit's AppTest, with the engine on a temporary data folder."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from pages.common import clear_engine
from tests.app.conftest import NOTES, start, texts, upload
from tests.conftest import pdf
from tests.support import office_files
from tests.support.scans import scanned_pdf

PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def ask(app: AppTest, question: str) -> AppTest:
    app.switch_page("pages/chat.py").run()
    app.chat_input[0].set_value(question).run()
    assert not app.exception
    return app


def test_documents_page_ingests_lists_browses_and_deletes(app_env):
    app = upload(
        start(),
        ("notes.txt", NOTES, "text/plain"),
        ("minimal.pdf", pdf("sf_minimal-document.pdf").read_bytes(), "application/pdf"),
        ("broken.pdf", b"%PDF-1.4 not really", "application/pdf"),
    )
    assert texts(app.success) == [
        "notes\\.txt: ingested (1 page, 1 chunks)",
        "minimal\\.pdf: ingested (1 page, 2 chunks)",
    ]
    [failed] = texts(app.error)
    assert failed.startswith("broken\\.pdf: failed.")
    assert len(app.dataframe) == 2  # the table and the chunk browser
    table = app.dataframe[0].value
    assert sorted(table["name"]) == ["minimal.pdf", "notes.txt"]
    assert list(table.columns[:5]) == ["name", "pages", "chunks", "size (KB)", "added"]
    chunks = app.dataframe[1].value
    assert list(chunks.columns) == ["chunk", "where", "OCR", "tokens", "text"]
    assert list(table.columns[5:]) == [
        "a page is a",
        "tables",
        "pages read by OCR",
        "pages without text",
    ]
    app.button(key="delete").click().run()
    assert len(app.dataframe[0].value) == 1


def test_office_files_and_scans_are_reported_and_cited_in_their_own_terms(app_env):
    scan = scanned_pdf(["Harbour dues rose by nine percent in the spring."], seed=3, dpi=200)
    app = upload(
        start(),
        ("deck.pptx", office_files.pptx_file(), PPTX),
        ("scan.pdf", scan, "application/pdf"),
    )
    assert texts(app.success)[0].startswith("deck\\.pptx: ingested (3 slides, ")
    assert texts(app.success)[0].endswith(", 1 table)")
    assert texts(app.success)[1].endswith("; pages 1 read by OCR)")
    table = app.dataframe[0].value.set_index("name")
    assert table.loc["deck.pptx", "a page is a"] == "slide"
    assert table.loc["scan.pdf", "pages read by OCR"] == "1"
    app = ask(app, "How much did harbour dues rise?")
    assert "Text from OCR: read from a scanned page, so some words may be misread." in texts(
        app.caption
    )
    app = ask(app, "When should the hive be inspected?")
    assert any("slide 2" in text for text in texts(app.markdown))


def test_chat_without_a_model_quotes_sources_and_shows_every_score(app_env):
    app = ask(upload(start(), ("notes.txt", NOTES, "text/plain")), "What is tantivy written in?")
    assert any("No language model is configured" in text for text in texts(app.info))
    answer = next(text for text in texts(app.markdown) if text.startswith("> “"))
    assert "written in Rust\\.” [1]" in answer
    labels = [metric.label for metric in app.metric]
    assert {"Vector · rank 1", "BM25 · rank 1", "Fused · rank 1"} <= set(labels)
    captions = texts(app.caption)
    assert "cosine similarity, -1..1" in captions and "BM25, unbounded" in captions
    # Document text is escaped Markdown: the script tag shows as characters.
    assert any("\\<script\\>alert\\(1\\)" in text for text in texts(app.markdown))
    assert app.get("download_button")  # the original file, and the exports


def test_bm25_mode_says_which_scores_were_not_returned(app_env):
    app = upload(start(), ("notes.txt", NOTES, "text/plain"))
    app.switch_page("pages/chat.py").run()
    app.sidebar.radio(key="mode").set_value("bm25").run()
    app.chat_input[0].set_value("tantivy").run()
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Vector"] == "—" and metrics["Fused"] == "—"
    assert "not returned by this retriever" in texts(app.caption)


def test_chat_with_nothing_to_search_says_why(app_env):
    app = ask(start(), "anything at all")
    assert any("There are no documents yet" in text for text in texts(app.warning))
    assert "Searched for: anything at all" in texts(app.text)


def test_chat_streams_a_cited_answer_and_flags_an_unverified_number(fake_llm):
    fake_llm.reply("It is written in Rust [1]. See also [4].")
    app = ask(upload(start(), ("notes.txt", NOTES, "text/plain")), "What is tantivy?")
    marked = "It is written in Rust [1]. See also [4]. :orange-badge[⚠ unsupported]"
    assert marked in texts(app.markdown)
    assert [b.label for b in app.button if "notes" in b.label] == ["\\[1\\] notes\\.txt, p\\. 1"]
    assert "\\[4\\] unverified\\: no source has this number" in texts(app.warning)
    assert "⚠️ 1 of 2 sentences supported by their sources." in texts(app.caption)
    reasons = [text.replace("\\", "") for text in texts(app.caption)]
    assert any("cites [4], which is not a source" in reason for reason in reasons)
    assert any("cited" in text for text in texts(app.markdown))


def test_chat_shows_a_model_failure_as_a_message(fake_llm):
    fake_llm.mode = "error"
    app = ask(upload(start(), ("notes.txt", NOTES, "text/plain")), "What is tantivy?")
    [error] = texts(app.error)
    assert "The answer is incomplete" in error and "HTTP 500" in error
    assert app.metric  # the retrieved chunks are still shown


def all_text(app: AppTest) -> str:
    """Every text the page shows (chat, messages, captions, the trace's JSON)."""
    kinds = ("markdown", "error", "warning", "info", "caption", "text", "json", "exception")
    return "\n".join(str(element.value) for kind in kinds for element in app.get(kind))


def test_chat_goes_on_after_a_model_failure_and_sessions_keep_their_own_history(fake_llm):
    fake_llm.fail("error", times=1)
    app = ask(upload(start(), ("notes.txt", NOTES, "text/plain")), "What is tantivy?")
    [error] = texts(app.error)
    assert "The answer is incomplete" in error and "HTTP 500" in error
    fake_llm.reply("It is written in Rust [1].")
    app.chat_input[0].set_value("What is it written in?").run()
    assert not app.exception
    shown = texts(app.markdown)
    assert "What is tantivy?" in shown and "What is it written in?" in shown
    assert "It is written in Rust [1]." in shown
    assert texts(app.error) == [error]  # the failed turn keeps its message
    other = ask(start(), "Who made chroma?")
    assert "What is tantivy?" not in all_text(other)
    assert "Who made chroma?" in texts(other.markdown)


def test_chat_refuses_questions_over_the_limits_before_searching(app_env, fake_llm):
    app_env.setenv("RAG_MAX_QUESTION_CHARS", "100")
    app_env.setenv("RAG_SESSION_QUESTIONS_PER_MINUTE", "1")
    app_env.setenv("RAG_MAX_ANSWER_TOKENS", "1000")
    app = ask(upload(start(), ("notes.txt", NOTES, "text/plain")), "x" * 101)
    assert any("the limit is 100 (RAG_MAX_QUESTION_CHARS)" in e for e in texts(app.error))
    assert not any("xxx" in text for text in texts(app.markdown))  # no half turn is left
    assert app.sidebar.number_input(key="max_tokens").max == 1000
    app.chat_input[0].set_value("What is tantivy?").run()
    app.chat_input[0].set_value("And chroma?").run()
    assert not app.exception
    assert any("in the last minute" in e and "wait" in e for e in texts(app.error))
    assert "And chroma?" not in texts(app.markdown)
    assert len(fake_llm.requests) == 1  # neither refused question reached the model
    request = fake_llm.requests[0]
    assert request.get("max_completion_tokens", request.get("max_tokens")) == 800


def test_chat_shows_no_key_when_the_server_refuses_it(app_env, fake_llm):
    app_env.setenv("OPENAI_API_KEY", "sk-test-SENTINEL")
    fake_llm.fail("unauthorized")
    app = ask(upload(start(), ("notes.txt", NOTES, "text/plain")), "What is tantivy?")
    [error] = texts(app.error)
    assert "HTTP 401" in error and "OPENAI_API_KEY" in error
    assert fake_llm.headers[0]["authorization"] == "Bearer sk-test-SENTINEL"
    assert "SENTINEL" not in all_text(app)


def test_search_page_shows_the_three_modes_side_by_side(app_env):
    app = upload(start(), ("notes.txt", NOTES, "text/plain"))
    app.switch_page("pages/search.py").run()
    app.text_input(key="query").set_value("tantivy rust").run()
    assert not app.exception
    assert texts(app.subheader) == ["Vector (meaning)", "BM25 (words)", "Hybrid (fused)"]
    labels = [metric.label for metric in app.metric]
    assert labels.count("Vector · rank 1") == 2  # the vector and hybrid columns
    assert "Fused · rank 1" in labels


def test_show_on_page_draws_the_cited_pdf_page_with_the_passage_boxed(app_env):
    minimal = pdf("sf_minimal-document.pdf").read_bytes()
    app = ask(upload(start(), ("minimal.pdf", minimal, "application/pdf")), "Lorem ipsum")
    first = next(b for b in app.button if b.key.startswith("show-"))
    first.click().run()
    assert not app.exception
    assert "The passage is boxed in yellow." in texts(app.caption)
    assert any("page 1 of 1" in text for text in texts(app.markdown))
    [image] = app.get("image")
    assert image.value  # the drawn page, served to the browser


def test_show_on_page_marks_the_passage_of_a_text_file_in_its_text(app_env):
    app = ask(upload(start(), ("notes.txt", NOTES, "text/plain")), "What is tantivy written in?")
    next(b for b in app.button if b.key.startswith("show-")).click().run()
    assert not app.exception
    assert "The passage is marked in yellow." in texts(app.caption)
    assert any(":orange-background[Tantivy is a full" in t for t in texts(app.markdown))


def test_a_collection_built_at_fp32_opens_as_it_is_and_the_page_says_how_to_move_it(app_env):
    app_env.setenv("RAG_EMBED_PRECISION", "fp32")
    upload(start(), ("notes.txt", NOTES, "text/plain"))
    clear_engine()
    app_env.delenv("RAG_EMBED_PRECISION")  # int8, the default
    app = start()
    app.switch_page("pages/documents.py").run()
    assert not app.exception
    [notice] = [text for text in texts(app.info) if "vectors" in text]
    assert "holds **fp32** vectors" in notice
    assert "RAG_COLLECTION=documents-int8 python -m ingest reindex documents" in notice
    assert app.dataframe[0].value["name"].tolist() == ["notes.txt"]


def test_ingest_without_a_file_that_arrived_says_so(app_env):
    app = start()
    app.switch_page("pages/documents.py").run()
    app.button(key="ingest").click().run()
    assert not app.exception
    assert [w for w in texts(app.warning) if w.startswith("No file arrived")]
