"""The Embedding lab page through AppTest: map, score spread and neighbours."""

from __future__ import annotations

import json

import pytest

from tests.app.conftest import NOTES, start, texts, upload

# A fresh data folder for each test, retrieval-only (app_env, in tests/app/conftest.py).
pytestmark = pytest.mark.usefixtures("app_env")

PAGE = "pages/embedding_lab.py"
RECIPES = (
    b"Bread needs flour, water, salt and yeast; knead the dough and let it rise.\n\n"
    b"Pasta is boiled in salted water until it is al dente."
)


def charts(app, kind: str) -> list:
    """Chart elements of one kind: "vega_lite_chart" (Altair) or "plotly_chart"."""
    return app.get(kind)


def table(app, column: str):
    """The one data frame on the page with this column."""
    [found] = [frame.value for frame in app.dataframe if column in frame.value.columns]
    return found


def test_an_empty_library_shows_a_clear_message():
    app = start().switch_page(PAGE).run()
    assert not app.exception
    [info] = texts(app.info)
    assert "No documents yet" in info


def test_the_map_spread_and_neighbours_render_in_2d_and_3d():
    app = upload(
        start(), ("notes.txt", NOTES, "text/plain"), ("recipes.txt", RECIPES, "text/plain")
    )
    app.switch_page(PAGE).run()
    assert not app.exception
    # No query yet: the map and the neighbours, and a hint where the histogram would be.
    assert len(charts(app, "vega_lite_chart")) == 1
    assert any("Type a query" in text for text in texts(app.info))
    assert any("of 2 chunks" in caption.value for caption in app.caption)

    app.text_input(key="lab_query").set_value("What is tantivy written in?").run()
    assert not app.exception
    assert len(charts(app, "vega_lite_chart")) == 2  # the map and the histogram
    assert any("Fewer than 5 chunks" in caption.value for caption in app.caption)
    app.slider(key="lab_k").set_value(2).run()
    assert any("Result #2 scores" in caption.value for caption in app.caption)

    app.radio(key="lab_dims").set_value(3).run()
    assert not app.exception
    [figure] = charts(app, "plotly_chart")
    # Plotly reads a few HTML tags in hover text: document text reaches it escaped.
    hover = [t for trace in json.loads(figure.proto.spec)["data"] for t in trace["hovertext"]]
    assert any("&lt;script&gt;alert(1)&lt;/script&gt;" in text for text in hover)
    assert not any("<script>" in text for text in hover)
    assert len(charts(app, "vega_lite_chart")) == 1  # the histogram stays

    # The top result comes first in the list of chunks; the other chunk is its neighbour.
    chunk = app.selectbox(key="lab_chunk")
    assert chunk.options[0].startswith("#1 · notes.txt")
    chunk.select_index(0).run()
    assert not app.exception
    assert list(table(app, "similarity")["file"]) == ["recipes.txt"]
    app.selectbox(key="lab_chunk").select_index(1).run()
    assert list(table(app, "similarity")["file"]) == ["notes.txt"]

    # Distance: the results measured three ways agree, as the vectors are unit length.
    measured = table(app, "dot product")
    assert list(measured["file"]) == ["notes.txt", "recipes.txt"]
    assert (measured["dot product"] - measured["cosine"]).abs().max() < 1e-3
    assert (measured["Euclidean distance"] - measured["√(2 − 2·cosine)"]).abs().max() < 1e-3
    assert (measured["vector norm"] - 1).abs().max() < 1e-3

    # Compression, measured on demand: every method with its memory and recall.
    app.button(key="lab_measure").click().run()
    assert not app.exception
    report = table(app, "bytes/vector")
    assert list(report["bytes/vector"]) == [1536, 384, 384, 48, 48]
    assert report["recall@2"].iloc[0] == 1.0  # float32 is the reference
    assert any("queries: 1 query of yours" in caption.value for caption in app.caption)
