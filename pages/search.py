"""Search page: one query, ranked chunks with every score."""

import streamlit as st

from pages.common import engine
from rag.results import NOT_RETURNED, SearchMode
from rag.retrieval import SearchOptions

library, _, retriever = engine()
st.title("Search")
query = st.text_input("Query", placeholder="Ask about your documents")
mode = st.radio("Mode", [m.value for m in SearchMode], index=2, horizontal=True)
k = st.slider("Top k", 1, 20, 5)
if query:
    result = retriever.search(query, SearchOptions(mode=SearchMode(mode), k=k))
    if not result.chunks:
        st.info("Nothing found. Add documents on the Documents page, or try other words.")
    for chunk in result.chunks:
        with st.container(border=True):
            st.markdown(f"**#{chunk.rank}** · {chunk.source} · {chunk.pages}")
            columns = st.columns(3)
            for column, (name, score) in zip(columns, chunk.scores().items(), strict=True):
                if score is None:
                    column.metric(name, "—", help=NOT_RETURNED)
                else:
                    column.metric(
                        f"{name} (rank {score.rank})",
                        f"{score.value:.3f}",
                        help=score.kind.describe(),
                    )
            st.text(chunk.text)
