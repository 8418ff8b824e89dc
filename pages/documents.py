"""Documents page: queue uploads and follow them (progress, time left, cancel), then list,
inspect and delete the documents."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from ingest.files import FileStatus, IngestOutcome, found_in
from ingest.parsing import SUPPORTED_SUFFIXES
from pages import widgets
from pages.common import current_kb, guarded, registry, settings, uploads, workspace
from pages.kb_view import knowledge_base_area
from pages.queue_view import queue_panel
from pages.source_view import show_on_page
from rag.access import Action
from rag.access.gate import MB
from rag.documents import page_list, page_span
from rag.safe_text import display_name, escape_markdown

widgets.knowledge_base_picker()
kb = current_kb()
space = workspace(kb)
# The queue, for those who may add documents (None when the data folder is read-only).
queue = uploads() if space.may(Action.ADD) else None


def upload_files() -> None:
    """Queue the chosen files; the queue below ingests them in the background."""
    if queue is None:
        return
    # In a form, chosen files stay on the server until the form is sent, whatever the
    # queue's own refreshes rerun meanwhile; sending it empties the picker.
    with st.form("upload", clear_on_submit=True, border=False):
        uploads = st.file_uploader(
            "Add PDF, Word, PowerPoint, Excel, CSV, HTML, EPUB, OpenDocument, text or Markdown"
            " files",
            type=[suffix.lstrip(".") for suffix in SUPPORTED_SUFFIXES],
            accept_multiple_files=True,
            key="uploads",
        )
        password = st.text_input("Password for protected PDFs (optional)", type="password")
        sent = st.form_submit_button("Ingest", type="primary", key="ingest")
    if sent and uploads:
        with guarded():
            for upload in uploads:
                queue.add(upload.name, upload.getvalue(), password or None)
    elif sent:
        st.warning("No file arrived: choose files, wait until they are uploaded, then Ingest.")
    queue_panel(queue, show_outcome, kb.collection)


def show_outcome(outcome: IngestOutcome) -> None:
    """One file's result: what happened, and anything the user should know."""
    name = display_name(outcome.path)
    if outcome.status is FileStatus.FAILED:
        st.error(f"{name}: failed. {escape_markdown(outcome.reason or '')}", icon="❌")
        return
    message = f"{name}: {outcome.status.value} ({escape_markdown(found_in(outcome))})"
    if outcome.status is FileStatus.UNCHANGED:
        st.info(f"{message}; the same file is already in the library.", icon="ℹ️")
    else:
        st.success(message, icon="✅")
    junk = set(outcome.pages_with_junk_text)
    empty = [n for n in outcome.pages_without_text if n not in junk]
    if empty:
        st.warning(
            f"{name}: no text on page(s) {page_list(empty, 20)}: blank, or pictures without"
            " words that text recognition (OCR) could read."
        )
    if junk:
        st.warning(
            f"{name}: the text on page(s) {page_list(sorted(junk), 20)} looks like junk, not words"
            " (a bad OCR?), and was left out."
        )


def access_notice() -> None:
    """What the person may do here: nothing in a read-only folder, only search and ask as
    a reader, and how much room their own documents take."""
    if space.read_only:
        st.warning(
            "The data folder is read-only: documents can be searched, not added or deleted.",
            icon="🔒",
        )
    elif not space.may(Action.ADD):
        owner = kb.owner or "an administrator"
        st.info(
            f"You are a {space.role.label} of this knowledge base: you can search it and ask"
            f" about it, not add or delete documents. Its owner is {owner}.",
            icon="🔒",
        )
    elif kb.owner is not None and kb.owner == space.person.id:
        used, limit = space.gate.storage(kb.owner)
        room = f" of your {limit:,} MB" if limit else ""
        st.caption(f"Your knowledge bases' files take {used / MB:,.1f} MB{room}.")


def precision_notice() -> None:
    """Say so when the default collection was built at another precision than the one
    configured, and how to move it (the library searches it with the model that built it).
    Another knowledge base's precision is its own, chosen when it was made."""
    built, wanted = space.settings.embed_precision, settings().embed_precision
    if built == wanted or space.settings.embed_provider != "fastembed":
        return
    if not registry().is_default(kb):
        return
    collection = space.settings.collection
    gain = (
        "1.5x faster, nearly the same results"
        if wanted == "int8"
        else "slower, a little more exact"
    )
    st.info(
        f"This collection holds **{built}** vectors, so it is searched with the {built} model,"
        f" while `RAG_EMBED_PRECISION` asks for {wanted} ({gain}). To move it, re-index it into"
        f" a new collection, then set `RAG_COLLECTION` to that name:"
        f" `RAG_COLLECTION={collection}-{wanted} python -m ingest reindex {collection}`.",
        icon="ℹ️",
    )


def document_table(documents) -> None:
    """Name, what was found (pages or slides or sheets, tables, pages read by OCR), chunks,
    size and when each document was added."""
    rows = [
        {
            "name": d.name,
            "pages": d.pages,
            "chunks": d.chunks,
            "size (KB)": round(d.size_bytes / 1024, 1),
            "added": datetime.fromtimestamp(d.added_at).strftime("%Y-%m-%d %H:%M"),
            "a page is a": d.unit,
            "tables": d.tables,
            "pages read by OCR": ", ".join(map(str, d.pages_ocr)),
            "pages without text": ", ".join(map(str, d.pages_without_text)),
        }
        for d in documents
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def manage(documents) -> None:
    """Pick a document to delete or to browse its chunks."""
    names = {d.doc_id: d.name for d in documents}
    doc_id = st.selectbox("Document", list(names), format_func=names.get, key="document")
    if doc_id is None:
        return
    if space.may(Action.DELETE) and st.button("Delete this document", key="delete", icon="🗑️"):
        with guarded():
            space.delete(doc_id)
        st.session_state.pop("outcomes", None)
        st.toast(f"Deleted {display_name(names[doc_id])}")
        st.rerun()
    with guarded():
        chunks = space.chunks_of(doc_id)
    st.subheader(f"Chunks ({len(chunks)})")
    frame = pd.DataFrame(
        {
            "chunk": [c.index for c in chunks],
            "where": [_where(c) for c in chunks],
            "OCR": [c.ocr for c in chunks],
            "tokens": [c.tokens for c in chunks],
            "text": [c.text for c in chunks],
        }
    )
    st.dataframe(frame, hide_index=True, width="stretch")
    chunk_on_page(chunks)


def _where(chunk) -> str:
    return chunk.location or page_span(chunk.page_start, chunk.page_end)


def chunk_on_page(chunks) -> None:
    """Pick a chunk of the document and open it on its page, the passage marked."""
    if not chunks:
        return
    by_id = {c.chunk_id: c for c in chunks}
    column, button = st.columns([3, 1], vertical_alignment="bottom")
    chunk_id = column.selectbox(
        "Chunk",
        list(by_id),
        format_func=lambda c: f"chunk {by_id[c].index} · {_where(by_id[c])}",
        key=f"browse_chunk-{chunks[0].doc_id}",
    )
    with button:
        show_on_page(chunk_id, "browser")


st.title("Documents")
st.caption(f"Knowledge base: {escape_markdown(kb.name)} (choose another in the sidebar)")
knowledge_base_area()
access_notice()
precision_notice()
upload_files()
with guarded():
    documents = space.documents()
st.header(f"Library ({len(documents)})")
if not documents:
    st.info("No documents yet: add some above.")
else:
    document_table(documents)
    manage(documents)
