"""Knowledge bases in the app: the sidebar's picker, the pages on the chosen one, the
management area on the Documents page, the search defaults, and the queues of every
knowledge base, including files the command line queues while the app runs."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest

from ingest.queue import JobStore
from rag.config import load_settings
from rag.kb import KnowledgeBase, KnowledgeBases
from tests.app.conftest import APP, NOTES, TIMEOUT, start, texts, upload
from tests.conftest import pdf
from tests.support.helpers import run_cli

MINIMAL = ("minimal.pdf", pdf("sf_minimal-document.pdf").read_bytes(), "application/pdf")


def add_kb(name: str, **search: object) -> KnowledgeBase:
    """A knowledge base made as the command line makes it, with these search defaults."""
    with KnowledgeBases.open(load_settings(env_file=None)) as registry:
        kb = registry.create(name)
        return registry.update(name, **search) if search else kb


def listed() -> dict[str, KnowledgeBase]:
    """The knowledge bases of the app's data folder, by name."""
    with KnowledgeBases.open(load_settings(env_file=None)) as registry:
        return {kb.name: kb for kb in registry.list()}


def picker(app: AppTest):
    return app.sidebar.selectbox(key="kb_picker")


def wait_for(collection: str, timeout: float = 300) -> list:
    """Wait until the queue of this collection has no unfinished job; its jobs."""
    store = JobStore(load_settings(env_file=None).with_overrides(collection=collection))
    deadline = time.monotonic() + timeout
    try:
        while store.jobs(limit=0) or not store.jobs():
            assert time.monotonic() < deadline, store.jobs()
            time.sleep(0.1)
        return store.jobs()
    finally:
        store.close()


def upload_into(app: AppTest, kb: KnowledgeBase, *files: tuple[str, bytes, str]) -> AppTest:
    """Ingest files through the Documents page into the chosen knowledge base `kb`."""
    app.switch_page("pages/documents.py").run()
    app.file_uploader(key="uploads").set_value(list(files))
    app.button(key="ingest").click().run()
    assert not app.exception
    wait_for(kb.collection)
    app.run()
    assert not app.exception
    return app


def documents_listed(app: AppTest) -> list[str]:
    app.switch_page("pages/documents.py").run()
    assert not app.exception
    return sorted(app.dataframe[0].value["name"]) if app.dataframe else []


def plain(elements) -> list[str]:
    """Texts of elements with Markdown's escapes taken out."""
    return [text.replace("\\", "") for text in texts(elements)]


def test_the_picker_lists_the_default_first_and_the_pages_work_on_the_chosen_one(app_env):
    reports = add_kb("Reports")
    app = upload(start(), ("notes.txt", NOTES, "text/plain"))  # into the default one
    assert picker(app).options == ["documents (default)", "Reports"]
    assert picker(app).value == "documents"
    picker(app).set_value(reports.collection).run()
    assert app.query_params["kb"] == "Reports"
    app = upload_into(app, reports, MINIMAL)
    assert "Knowledge base: Reports (choose another in the sidebar)" in plain(app.caption)
    assert documents_listed(app) == ["minimal.pdf"]
    app.switch_page("pages/search.py").run()
    app.text_input(key="query").set_value("tantivy rust").run()
    assert not app.exception
    assert not any("notes" in text for text in texts(app.markdown))  # another one's document
    picker(app).set_value("documents").run()
    assert "kb" not in app.query_params
    assert documents_listed(app) == ["notes.txt"]


def test_a_reload_keeps_the_knowledge_base_the_url_names(app_env):
    reports = add_kb("Reports")
    app = AppTest.from_file(APP, default_timeout=TIMEOUT)
    app.query_params["kb"] = "REPORTS"  # names are compared without regard to case
    app.run()
    assert not app.exception
    assert picker(app).value == reports.collection
    assert app.query_params["kb"] == "Reports"
    unknown = AppTest.from_file(APP, default_timeout=TIMEOUT)
    unknown.query_params["kb"] = "nothing of that name"
    unknown.run()
    assert picker(unknown).value == "documents"
    assert "kb" not in unknown.query_params


def test_create_rename_and_change_a_knowledge_base_through_the_page(app_env):
    app = start()
    app.switch_page("pages/documents.py").run()
    app.text_input(key="kb_new_name").set_value("Papers")
    app.number_input(key="kb_new_chunk_tokens").set_value(120)
    app.number_input(key="kb_new_chunk_overlap").set_value(10)
    app.selectbox(key="kb_new_distance").set_value("dot")
    app.toggle(key="kb_new_ocr").set_value(False)
    app.button(key="kb_create").click().run()
    assert not app.exception
    assert picker(app).options == ["documents (default)", "Papers"]
    papers = listed()["Papers"]
    assert (papers.index.chunk_tokens, papers.index.chunk_overlap) == (120, 10)
    assert (papers.index.distance, papers.index.ocr) == ("dot", False)
    # The registry's refusals show as their message, never a traceback.
    app.text_input(key="kb_new_name").set_value("PAPERS")
    app.button(key="kb_create").click().run()
    assert not app.exception
    [taken] = texts(app.error)
    assert "A knowledge base named 'Papers' already exists" in taken
    app.text_input(key="kb_new_name").set_value("Overlapping")
    app.number_input(key="kb_new_chunk_tokens").set_value(100)
    app.number_input(key="kb_new_chunk_overlap").set_value(50)
    app.button(key="kb_create").click().run()
    assert not app.exception
    [overlap] = texts(app.error)
    assert "The chunk overlap must be at least 0 and less than half the chunk size" in overlap
    assert set(listed()) == {"documents", "Papers"}

    picker(app).set_value(papers.collection).run()
    app.text_input(key="kb_rename_to").set_value("Articles")
    app.button(key="kb_rename").click().run()
    assert not app.exception
    assert picker(app).options == ["documents (default)", "Articles"]
    assert picker(app).value == papers.collection  # still the chosen one
    assert listed()["Articles"].collection == papers.collection

    app.selectbox(key="kb_mode").set_value("bm25")
    app.number_input(key="kb_k").set_value(9)
    app.text_input(key="kb_chat_model").set_value("gpt-test")
    app.button(key="kb_save").click().run()
    assert not app.exception
    search = listed()["Articles"].search
    assert (search.mode, search.k, search.chat_model) == ("bm25", 9, "gpt-test")
    assert app.number_input(key="kb_k").value == 9
    app.number_input(key="kb_vw").set_value(0.0)
    app.number_input(key="kb_bw").set_value(0.0)
    app.button(key="kb_save").click().run()
    assert "The vector and BM25 weights cannot both be 0" in texts(app.error)
    assert listed()["Articles"].search.k == 9


def test_delete_is_refused_for_the_default_and_asks_for_the_name(app_env):
    app = start()
    app.switch_page("pages/documents.py").run()
    delete = app.button(key="kb_delete")
    assert delete.disabled
    assert any(
        "'documents' is the default knowledge base" in text and "cannot be deleted" in text
        for text in plain(app.caption)
    )
    old = add_kb("Old")
    app.run()
    picker(app).set_value(old.collection).run()
    app = upload_into(app, old, ("notes.txt", NOTES, "text/plain"))  # its worker runs
    data = load_settings(env_file=None).data_dir
    assert (data / "lexical" / old.collection).exists()
    app.text_input(key="kb_delete_confirm").set_value("old")
    app.button(key="kb_delete").click().run()
    assert not app.exception
    assert any("Type Old exactly to delete it" in text for text in texts(app.error))
    assert "Old" in listed()
    app.text_input(key="kb_delete_confirm").set_value("Old")
    app.button(key="kb_delete").click().run()
    assert not app.exception
    assert set(listed()) == {"documents"}
    assert picker(app).options == ["documents (default)"]
    assert picker(app).value == "documents"
    assert not (data / "lexical" / old.collection).exists()
    assert not (data / "queue" / f"{old.collection}.sqlite").exists()
    assert documents_listed(app) == []


def test_the_sidebar_starts_from_the_knowledge_bases_search_defaults(app_env):
    tuned = add_kb("Tuned", mode="bm25", k=8, fusion="rrf", vector_weight=2.0, chat_model="m2")
    app = start()
    sidebar = app.sidebar
    assert (sidebar.radio(key="mode").value, sidebar.slider(key="k").value) == ("hybrid", 5)
    picker(app).set_value(tuned.collection).run()
    assert not app.exception
    sidebar = app.sidebar
    assert (sidebar.radio(key="mode").value, sidebar.slider(key="k").value) == ("bm25", 8)
    assert sidebar.radio(key="fusion").value == "rrf"
    assert sidebar.slider(key="vw").value == 2.0
    assert sidebar.text_input(key="model").value == "m2"
    sidebar.slider(key="k").set_value(3).run()
    assert app.sidebar.slider(key="k").value == 3  # this session's change stays
    other = AppTest.from_file(APP, default_timeout=TIMEOUT)
    other.query_params["kb"] = "Tuned"
    other.run()
    assert other.sidebar.slider(key="k").value == 8  # and is this session's only
    picker(app).set_value("documents").run()
    assert (app.sidebar.radio(key="mode").value, app.sidebar.slider(key="k").value) == (
        "hybrid",
        5,
    )
    app.switch_page("pages/search.py").run()
    picker(app).set_value(tuned.collection).run()
    assert app.slider(key="k").value == 8


def test_files_the_command_line_queues_for_any_knowledge_base_are_ingested_by_the_app(
    app_env, tmp_path
):
    app = start()  # the app holds the data folder: the command line only queues
    notes = tmp_path / "inbox-notes.txt"
    notes.write_bytes(NOTES)
    data = load_settings(env_file=None).data_dir
    done = run_cli("ingest", "add", "--kb", "Inbox", str(notes), data_dir=data, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "created knowledge base 'Inbox'" in done.stderr
    assert "another process (the app?) has the data folder open" in done.stderr
    inbox = listed()["Inbox"]
    # No page of the app shows Inbox: its queue's worker is started by the app itself.
    [job] = wait_for(inbox.collection)
    assert job.state.value == "done", job
    app.run()
    picker(app).set_value(inbox.collection).run()
    assert documents_listed(app) == ["inbox-notes.txt"]


def test_the_chat_searches_several_knowledge_bases_and_labels_each_chunk(app_env):
    reports = add_kb("Reports", mode="bm25")
    app = upload(start(), ("notes.txt", NOTES, "text/plain"))  # into the default one
    picker(app).set_value(reports.collection).run()
    upload_into(app, reports, MINIMAL)
    app.switch_page("pages/chat.py").run()
    also = app.sidebar.multiselect(key="also_kbs")
    assert also.options == ["documents"]  # every other knowledge base, by name

    also.set_value(["documents"]).run()
    app.chat_input[0].set_value("Tantivy search engine lorem ipsum").run()
    assert not app.exception
    cards = [text for text in plain(app.markdown) if text.startswith("**#")]
    assert any("notes.txt" in card and "blue-badge[documents]" in card for card in cards)
    assert any("minimal.pdf" in card and "blue-badge[Reports]" in card for card in cards)

    # Alone again, the chosen knowledge base's chunks carry no label.
    app.sidebar.multiselect(key="also_kbs").set_value([]).run()
    app.chat_input[0].set_value("lorem ipsum").run()
    cards = [text for text in plain(app.markdown) if text.startswith("**#")]
    assert cards and not any("blue-badge" in card for card in cards)


def test_a_folder_people_own_knowledge_bases_in_is_not_opened_without_sign_in(app_env):
    with KnowledgeBases.open(load_settings(env_file=None)) as registry:
        registry.create("Ada's notes", owner="ada@example.com")
    app = start()
    [error] = texts(app.error)
    assert error.startswith("Sign-in is required")
    assert "RAG_REQUIRE_SIGN_IN=off" in error and not app.sidebar.selectbox

    app_env.setenv("RAG_REQUIRE_SIGN_IN", "off")  # the local user, who owns everything
    app = start()
    assert not app.error
    assert picker(app).options == ["documents (default)", "Ada's notes"]


def test_sign_in_can_be_required_from_the_start(app_env):
    app_env.setenv("RAG_REQUIRE_SIGN_IN", "on")
    assert texts(start().error)[0].startswith("Sign-in is required")
