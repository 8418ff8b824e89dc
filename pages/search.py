"""Search page: one query in the three modes side by side, and reranked, to see what fusion
and the reranker change."""

from __future__ import annotations

import streamlit as st

from pages import widgets
from pages.common import current_kb, guarded, workspace
from pages.source_view import show_on_page
from rag.results import SearchOptions, SearchResult
from rag.safe_text import escape_markdown
from rag.search.every_mode import RERANKED, search_every_mode

widgets.knowledge_base_picker()
kb = current_kb()
space = workspace(kb)
defaults = kb.search
# Top k and reranking start from the knowledge base's defaults, again when it changes.
FOLLOW_KB = ("k", "search_rerank", "search_rerank_candidates")
widgets.follow_defaults("search_follows", (kb.collection, defaults), FOLLOW_KB)
TITLES = {
    "vector": "Vector (meaning)",
    "bm25": "BM25 (words)",
    "hybrid": "Hybrid (fused)",
    RERANKED: "Hybrid, reranked",
}


def result_column(name: str, result: SearchResult) -> None:
    """One mode's ranked chunks with their scores."""
    st.subheader(TITLES[name])
    st.caption(f"{result.timings.total_ms:.0f} ms")
    if result.notice:
        st.warning(result.notice, icon="⚠️")
    if not result.chunks:
        st.info("Nothing found in this mode.")
    for chunk in result.chunks:
        with st.container(border=True):
            where = f"{escape_markdown(chunk.source)} · {escape_markdown(chunk.pages)}"
            st.markdown(f"**#{chunk.rank}** · {where}")
            widgets.score_metrics(chunk)
            show_on_page(chunk.chunk_id, f"{name}-{chunk.chunk_id}")
            with st.expander("Text"):
                widgets.chunk_header(chunk)
                st.text(chunk.text)


st.title("Search")
st.caption(
    "The same query in every mode, with ranks and scores: no language model needed. With a"
    " reranker configured, a fourth column shows hybrid search reranked."
)
query = st.text_input("Query", placeholder="Ask about your documents", key="query")
k = st.slider("Top k", 1, max(20, defaults.k), defaults.k, key="k")
rerank = widgets.rerank_choice(space.settings, "search_rerank", defaults.rerank)
if query:
    with guarded():
        results = search_every_mode(space, query, SearchOptions(k=k, **rerank))
    for column, (name, result) in zip(st.columns(len(results)), results.items(), strict=True):
        with column:
            result_column(name, result)
elif not space.documents():
    st.info("No documents yet: add some on the Documents page.")
