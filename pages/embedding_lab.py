"""Embedding lab: the chunks as points in the model's space, a query among them, and why.

Document text and file names reach the charts as data (tooltips and legends show plain
text; Plotly's are HTML-escaped, as Plotly reads a few tags) and Markdown only escaped.
"""

from __future__ import annotations

import html

import altair as alt
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pages.common import engine, stop_with_error
from rag.errors import RagError
from rag.lab.compression import measure_library_compression
from rag.lab.projection import available_methods
from rag.lab.vector_space import (
    DEFAULT_SAMPLE,
    MapPoint,
    ScoreSpread,
    SpaceMap,
    explore,
    measure_results,
    nearest_neighbours,
)
from rag.safe_text import display_name, escape_markdown

library, _, _ = engine()
METHOD_NAMES = {"pca": "PCA", "umap": "UMAP"}
SCALE_NOTE = (
    "A similarity means something only next to other similarities from the same model. Each"
    " model spreads its scores its own way: with MiniLM most chunks score near 0 against a"
    " query and a close match 0.5 or more, while OpenAI's models crowd their scores into a"
    " narrower, higher band (text-embedding-ada-002's mostly fall between 0.7 and 1). A"
    ' "high" cosine for one model can be ordinary for another, so read a score against this'
    " histogram rather than against a fixed threshold."
)


def short(name: str, limit: int = 40) -> str:
    """A file name cut for a chart legend or a list (plain text, not Markdown)."""
    return name if len(name) <= limit else name[: limit - 1] + "…"


def map_frame(vector_map: SpaceMap) -> pd.DataFrame:
    """One row per chunk on the map, with what its tooltip shows."""
    rows = [
        {
            **dict(zip("xyz", point.coords, strict=False)),
            "file": short(point.chunk.source),
            "pages": point.chunk.pages,
            "preview": point.chunk.preview,
            "similarity": "" if point.similarity is None else f"{point.similarity:.3f}",
            "result": "" if point.rank is None else f"#{point.rank}",
        }
        for point in vector_map.points
    ]
    return pd.DataFrame(rows)


def map_2d(frame: pd.DataFrame, query: tuple[float, ...] | None) -> None:
    """Points coloured by document; the top-k ringed and numbered; the query as a cross."""
    x, y = alt.X("x:Q", title="axis 1"), alt.Y("y:Q", title="axis 2")
    tooltip = ["file", "pages", "preview", "similarity", "result"]
    legend = alt.Legend(
        title="Document", orient="bottom", columns=3, labelLimit=260, symbolLimit=24
    )
    layers = [
        alt.Chart(frame)
        .mark_circle(size=45, opacity=0.65)
        .encode(x, y, color=alt.Color("file:N", legend=legend), tooltip=tooltip)
    ]
    results = frame[frame["result"] != ""]
    if not results.empty:
        ringed = alt.Chart(results).encode(x, y, tooltip=tooltip)
        layers.append(ringed.mark_point(size=220, shape="diamond", color="black", strokeWidth=2))
        layers.append(ringed.mark_text(dy=-14, fontWeight="bold").encode(text="result:N"))
    if query is not None:
        spot = pd.DataFrame([{"x": query[0], "y": query[1], "what": "the query"}])
        layers.append(
            alt.Chart(spot)
            .mark_point(shape="cross", size=320, filled=True, color="red")
            .encode(x, y, tooltip=["what"])
        )
    st.altair_chart(alt.layer(*layers).interactive(), height=520, key="lab_map_2d")


def map_3d(frame: pd.DataFrame, query: tuple[float, ...] | None) -> None:
    """The same map in 3-D with Plotly (drag to turn it)."""
    hover = [
        "<br>".join(
            html.escape(str(row[c]))
            for c in ("result", "file", "pages", "preview", "similarity")
            if row[c]
        )
        for _, row in frame.iterrows()
    ]
    frame = frame.assign(hover=hover)
    figure = go.Figure()
    for name, group in frame.groupby("file", sort=False):
        figure.add_trace(_scatter(group, html.escape(name), {"size": 3, "opacity": 0.7}))
    results = frame[frame["result"] != ""]
    if not results.empty:
        marker = {"size": 7, "symbol": "diamond-open", "color": "black"}
        figure.add_trace(_scatter(results, "top-k results", marker, text=results["result"]))
    if query is not None:
        spot = pd.DataFrame([{"x": query[0], "y": query[1], "z": query[2], "hover": "the query"}])
        figure.add_trace(_scatter(spot, "query", {"size": 9, "symbol": "cross", "color": "red"}))
    axes = {f"{axis}axis_title": f"axis {n}" for n, axis in enumerate("xyz", start=1)}
    figure.update_layout(
        scene=axes,
        height=620,
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        legend={"itemsizing": "constant"},
        uirevision="lab",
    )
    st.plotly_chart(figure, key="lab_map_3d")


def _scatter(frame: pd.DataFrame, name: str, marker: dict, text=None) -> go.Scatter3d:
    return go.Scatter3d(
        x=frame["x"],
        y=frame["y"],
        z=frame["z"],
        name=name,
        mode="markers+text" if text is not None else "markers",
        text=text,
        marker=marker,
        hovertext=frame["hover"],
        hoverinfo="text",
    )


def map_caption(vector_map: SpaceMap) -> str:
    """What the map shows: method, how many chunks of how many, variance on the axes."""
    shown = f"{vector_map.sample_size:,} of {vector_map.total:,} chunks"
    if vector_map.sample_size < vector_map.total:
        shown += " (a fixed random sample; the top-k results are always included)"
    caption = f"{METHOD_NAMES[vector_map.method]} of {shown}."
    if vector_map.explained_variance:
        shares = ", ".join(f"{share:.1%}" for share in vector_map.explained_variance)
        caption += f" The axes show {shares} of the variance: distances here are approximate."
    return caption


def show_map(vector_map: SpaceMap) -> None:
    """The map section."""
    st.header("Map")
    if vector_map.note:
        st.info(vector_map.note)
    st.caption(map_caption(vector_map))
    frame = map_frame(vector_map)
    if vector_map.dimensions == 3:
        map_3d(frame, vector_map.query_coords)
    else:
        map_2d(frame, vector_map.query_coords)


def show_spread(spread: ScoreSpread | None) -> None:
    """The histogram of the query's similarities, with the k-th result's score marked."""
    st.header("How scores are spread")
    if spread is None:
        st.info("Type a query above to see how its similarities spread over the chunks.")
        return
    edges = spread.bin_edges
    bars = pd.DataFrame({"from": edges[:-1], "to": edges[1:], "chunks": spread.counts})
    chart = (
        alt.Chart(bars)
        .mark_bar()
        .encode(
            alt.X("from:Q", bin="binned", title="cosine similarity to the query"),
            x2="to:Q",
            y=alt.Y("chunks:Q", title="chunks"),
            tooltip=["from", "to", "chunks"],
        )
    )
    if spread.kth_score is not None:
        rule = pd.DataFrame([{"score": spread.kth_score, "what": f"result #{spread.k}"}])
        chart += (
            alt.Chart(rule)
            .mark_rule(color="red", size=2)
            .encode(x="score:Q", tooltip=["what", "score"])
        )
    st.altair_chart(chart, height=260, key="lab_spread")
    st.caption(spread_caption(spread))
    st.markdown(SCALE_NOTE)


def spread_caption(spread: ScoreSpread) -> str:
    """The numbers behind the histogram, in one sentence or two."""
    scope = (
        f"all {spread.count:,} chunks"
        if spread.scope == "collection"
        else f"a sample of {spread.count:,} of {spread.total:,} chunks"
    )
    median, high = spread.percentiles[50], spread.percentiles[95]
    text = (
        f"Scores of {scope}: mean {spread.mean:.3f}, median {median:.3f},"
        f" 95th percentile {high:.3f}."
    )
    if spread.kth_score is None:
        return text + f" Fewer than {spread.k} chunks were found, so no k-th score is marked."
    return (
        text + f" Result #{spread.k} scores {spread.kth_score:.3f}, above"
        f" {spread.kth_percentile:.1f}% of them (red line)."
    )


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
    try:
        neighbours = nearest_neighbours(library, chosen, n=10)
    except RagError as exc:
        stop_with_error(exc)
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
    distance = library.vectors.distance
    st.caption(
        f"This collection ranks by {distance.kind.label}, chosen when it was created"
        " (RAG_DISTANCE: cosine, dot or euclidean). The embedding vectors are unit length"
        " (norm 1), so the dot product equals the cosine, and the Euclidean distance is"
        " √(2 − 2·cosine): all three put the results in the same order."
    )
    try:
        results = measure_results(library, query, k)
    except RagError as exc:
        stop_with_error(exc)
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
    try:
        with st.spinner("Measuring every method…"):
            report = measure_library_compression(library, [query], k, oversample)
    except RagError as exc:
        stop_with_error(exc)
    st.caption(f"{report.vectors_source}; queries: {report.query_source}")
    st.dataframe(pd.DataFrame(report.rows()), hide_index=True, width="stretch")


st.title("Embedding lab")
st.caption(
    "Why does vector search return what it does? Each chunk of your documents is a point in"
    f" the embedding model's space ({escape_markdown(library.embedder.identity.describe())});"
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
try:
    with st.spinner("Reading the vectors…"):
        exploration = explore(library, query, k, dimensions, method, int(limit))
except RagError as exc:
    stop_with_error(exc)
show_map(exploration.vector_map)
show_spread(exploration.spread)
show_neighbours(exploration.vector_map.points)
distances(query, k)
compression(query, k)
