"""The Embedding lab's charts: the map of the chunks in 2-D or 3-D, and the score spread.

Document text and file names reach the charts as data (tooltips and legends show plain
text; Plotly's are HTML-escaped, as Plotly reads a few tags) and Markdown only escaped.
"""

from __future__ import annotations

import html

import altair as alt
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from rag.lab.vector_space import ScoreSpread, SpaceMap

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
