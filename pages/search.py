"""Search page: one query in the three modes side by side, to see what fusion changes."""

from __future__ import annotations

import streamlit as st

from pages import widgets
from pages.common import engine
from rag.results import SearchMode, SearchOptions, SearchResult
from rag.safe_text import escape_markdown
from rag.search.every_mode import search_every_mode

library, _, retriever = engine()
TITLES = {
    SearchMode.VECTOR: "Vector (meaning)",
    SearchMode.BM25: "BM25 (words)",
    SearchMode.HYBRID: "Hybrid (fused)",
}


def result_column(result: SearchResult) -> None:
    """One mode's ranked chunks with their scores."""
    st.subheader(TITLES[result.mode])
    st.caption(f"{result.timings.total_ms:.0f} ms")
    if not result.chunks:
        st.info("Nothing found in this mode.")
    for chunk in result.chunks:
        with st.container(border=True):
            st.markdown(f"**#{chunk.rank}** · {escape_markdown(chunk.source)} · {chunk.pages}")
            widgets.score_metrics(chunk)
            with st.expander("Text"):
                widgets.chunk_header(chunk)
                st.text(chunk.text)


st.title("Search")
st.caption("The same query in every mode, with ranks and scores: no language model needed.")
query = st.text_input("Query", placeholder="Ask about your documents", key="query")
k = st.slider("Top k", 1, 20, 5, key="k")
if query:
    results = search_every_mode(retriever, query, SearchOptions(k=k))
    for column, result in zip(st.columns(3), results.values(), strict=True):
        with column:
            result_column(result)
elif not library.documents():
    st.info("No documents yet: add some on the Documents page.")
