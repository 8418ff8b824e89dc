"""Embedding lab: the chunks as points in the model's space, a query among them, and why.

The charts are drawn by `pages.lab_views`; file names reach Markdown only escaped.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages import widgets
from pages.common import guarded, workspace
from pages.lab_views import METHOD_NAMES, short, show_map, show_spread
from rag.access import Action
from rag.lab.compression import measure_library_compression
from rag.lab.projection import available_methods
from rag.lab.vector_space import (
    DEFAULT_SAMPLE,
    MapPoint,
    explore,
    measure_results,
    nearest_neighbours,
)
from rag.safe_text import display_name, escape_markdown

widgets.knowledge_base_picker()
library = workspace().library(Action.READ)


def chunk_label(point: MapPoint) -> str:
    """A chunk in the select box (plain text): result rank, file, pages, start of text."""
    rank = f"#{point.rank} · " if point.rank else ""
    return f"{rank}{short(point.chunk.source)} · {point.chunk.pages} · {point.chunk.preview[:60]}"


@st.fragment
def show_neighbours(points: tuple[MapPoint, ...]) -> None:
    """The nearest chunks to one picked from the map (re-runs alone when the pick changes)."""
    st.header("Nearest neighbours")
    ordered = sorted(points, key=lambda p: (p.rank is None, p.rank or 0))
    by_id = {point.chunk.chunk_id: point for point in ordered}
    chosen = st.selectbox(
        "Chunk", list(by_id), format_func=lambda i: chunk_label(by_id[i]), key="lab_chunk"
    )
    if chosen is None:
        return
    point = by_id[chosen]
    st.markdown(f"**{display_name(point.chunk.source)}** · {escape_markdown(point.chunk.pages)}")
    st.text(point.chunk.preview)
    with guarded():
        neighbours = nearest_neighbours(library, chosen, n=10)
    if not neighbours:
        st.info("This chunk is no longer in the library, or it has no neighbours.")
        return
    rows = [
        {
            "rank": n.rank,
            "similarity": round(n.similarity, 3),
            "file": n.chunk.source,
            "pages": n.chunk.pages,
            "text": n.chunk.preview,
        }
        for n in neighbours
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def distances(query: str, k: int) -> None:
    """The top results measured by cosine, dot product and Euclidean distance."""
    st.header("Distance")
    distance = library.distance
    st.caption(
        f"This collection ranks by {distance.kind.label}, chosen when it was created"
        " (RAG_DISTANCE: cosine, dot or euclidean). The embedding vectors are unit length"
        " (norm 1), so the dot product equals the cosine, and the Euclidean distance is"
        " √(2 − 2·cosine): all three put the results in the same order."
    )
    with guarded():
        results = measure_results(library, query, k)
    if not results:
        st.info("Type a query to measure its results all three ways.")
        return
    rows = [
        {
            "rank": r.rank,
            "file": r.chunk.source,
            "cosine": round(r.measured.cosine, 4),
            "dot product": round(r.measured.dot, 4),
            "Euclidean distance": round(r.measured.euclidean, 4),
            "√(2 − 2·cosine)": round(r.measured.euclidean_from_cosine, 4),
            "vector norm": round(r.measured.norm, 4),
        }
        for r in results
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def compression(query: str, k: int) -> None:
    """Float32 against int8 and binary vectors, with and without rescoring, on demand."""
    st.header("Compression")
    st.caption(
        "How much memory each vector takes when stored as float32, as int8 (one byte per"
        " dimension) or as bits (one per dimension), how long an exact scan takes, and how"
        " many of the float32 top-k each finds (recall@k). Rescoring fetches k × oversampling"
        " candidates by the compressed score, then ranks them by the float32 vectors."
    )
    oversample = st.select_slider("Oversampling", [1, 2, 4, 10, 20], 10, key="lab_oversample")
    if not st.button("Measure", key="lab_measure"):
        return
    with guarded(), st.spinner("Measuring every method…"):
        report = measure_library_compression(library, [query], k, oversample)
    st.caption(f"{report.vectors_source}; queries: {report.query_source}")
    st.dataframe(pd.DataFrame(report.rows()), hide_index=True, width="stretch")


st.title("Embedding lab")
st.caption(
    "Why does vector search return what it does? Each chunk of your documents is a point in"
    f" the embedding model's space ({escape_markdown(library.identity.describe())});"
    " see where a query lands among them, how its scores spread, and which chunks are close."
)
if not library.documents():
    st.info("No documents yet: add some on the Documents page to see them mapped here.")
    st.stop()
query = st.text_input("Query", placeholder="Ask about your documents", key="lab_query")
left, middle, right, far = st.columns(4)
with left:
    k = st.slider("Top k", 1, 20, 5, key="lab_k")
with middle:
    dimensions = st.radio("Map", [2, 3], format_func="{}-D".format, horizontal=True, key="lab_dims")
with right:
    method = st.radio(
        "Projection",
        available_methods(),
        format_func=METHOD_NAMES.get,
        horizontal=True,
        key="lab_method",
    )
with far:
    limit = st.number_input(
        "Most chunks on the map", 100, 20_000, DEFAULT_SAMPLE, 100, key="lab_limit"
    )
with guarded(), st.spinner("Reading the vectors…"):
    exploration = explore(library, query, k, dimensions, method, int(limit))
show_map(exploration.vector_map)
show_spread(exploration.spread)
show_neighbours(exploration.vector_map.points)
distances(query, k)
compression(query, k)
