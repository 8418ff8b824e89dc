"""Documents page: upload files, see what each gave, list and delete documents."""

import streamlit as st

from pages.common import engine

library, ingestor, _ = engine()
st.title("Documents")
uploads = st.file_uploader(
    "Add PDF, text or Markdown files", type=["pdf", "txt", "md"], accept_multiple_files=True
)
password = st.text_input("Password for protected PDFs (optional)", type="password")
if uploads and st.button("Ingest", type="primary"):
    for upload in uploads:
        with st.spinner(f"Ingesting {upload.name}…"):
            outcome = ingestor.ingest_bytes(upload.name, upload.getvalue(), password or None)
        message = f"{upload.name}: {outcome.status.value}"
        if outcome.ok:
            st.success(f"{message} ({outcome.pages} pages, {outcome.chunks} chunks)")
        else:
            st.error(f"{message}: {outcome.reason}")

documents = library.documents()
if not documents:
    st.info("No documents yet.")
for record in documents:
    columns = st.columns([6, 2, 2, 1])
    columns[0].text(record.name)
    columns[1].text(f"{record.pages} pages")
    columns[2].text(f"{record.chunks} chunks")
    if columns[3].button("Delete", key=f"delete-{record.doc_id}"):
        library.delete(record.doc_id)
        st.rerun()
