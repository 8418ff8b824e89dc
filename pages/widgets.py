"""Display pieces shared by the pages: score cards, the score chart, citations, the trace.

Untrusted text (document text, file names, queries, model output) goes through st.text or
escaped Markdown; nothing here uses unsafe_allow_html.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from rag.answers import Answer
from rag.citations import Citation
from rag.distances import Distance
from rag.results import NOT_RETURNED, Fusion, ScoredChunk, SearchOptions
from rag.safe_text import escape_markdown, highlight_terms, query_terms
from rag.stores.library import Library

SCORE_NAMES = {"vector": "Vector", "bm25": "BM25", "fused": "Fused"}
FUSION_NAMES = {
    Fusion.RRF: "Reciprocal rank fusion (ranks only)",
    Fusion.RELATIVE: "Relative score fusion (min-max normalised scores)",
}
NOT_RETURNED_TEXT = f"{NOT_RETURNED} by this retriever"


def score_metrics(chunk: ScoredChunk) -> None:
    """The three scores side by side, each with its rank, kind and scale."""
    for column, (name, score) in zip(st.columns(3), chunk.scores().items(), strict=True):
        with column:
            if score is None:
                st.metric(SCORE_NAMES[name], "—")
                st.caption(NOT_RETURNED_TEXT)
            else:
                st.metric(f"{SCORE_NAMES[name]} · rank {score.rank}", f"{score.value:.3f}")
                st.caption(score.kind.describe())


def chunk_card(
    chunk: ScoredChunk, query: str, library: Library, number: int | None, cited: bool, key: str
) -> None:
    """One retrieved chunk: where it is from, every score, and its text with terms marked."""
    with st.container(border=True):
        label = f"**#{chunk.rank}** · {escape_markdown(chunk.source)} · {chunk.pages}"
        if number is not None:
            label += f" · source [{number}]"
        if cited:
            label += " · :green-badge[cited]"
        st.markdown(label)
        score_metrics(chunk)
        with st.expander("Chunk text"):
            chunk_header(chunk)
            st.markdown(highlight_terms(chunk.text, query_terms(query)))
            download_original(library, chunk.doc_id, chunk.source, chunk.page_start, key)


def chunk_header(chunk: ScoredChunk) -> None:
    """The chunk's document title and section, as plain text (it comes from the file), and
    whether its text was read by text recognition (so may hold misread words)."""
    if chunk.header:
        st.text(chunk.header)
    if chunk.ocr:
        st.caption("Text from OCR: read from a scanned page, so some words may be misread.")


def score_chart(chunks: tuple[ScoredChunk, ...]) -> None:
    """Small bar charts of each kind of score (their scales differ, so one chart each)."""
    columns = st.columns(3)
    for column, name in zip(columns, SCORE_NAMES, strict=True):
        values = {f"#{c.rank}": s.value for c in chunks if (s := c.scores()[name]) is not None}
        with column:
            st.caption(SCORE_NAMES[name])
            if values:
                frame = pd.DataFrame({"chunk": list(values), "score": list(values.values())})
                st.bar_chart(frame, x="chunk", y="score", height=140)
            else:
                st.caption("—")


def download_original(library: Library, doc_id: str, source: str, page: int, key: str) -> None:
    """A download of the original file, with the page to open it at."""
    path = library.original_path(doc_id)
    if not path.is_file():
        st.caption("The original file is no longer in the library.")
        return
    st.download_button(
        f"Download the file (open it at page {page})",
        data=lambda: path.read_bytes(),
        file_name=source,
        mime="application/pdf" if source.lower().endswith(".pdf") else "text/plain",
        key=f"download-{key}",
        on_click="ignore",
    )


def citations(answer: Answer, library: Library, key: str) -> None:
    """The sources cited under an answer; an unknown number is shown as unverified."""
    if not answer.citations:
        return
    st.markdown("**Sources**")
    for citation in answer.citations:
        if citation.valid:
            _cited_source(citation, library, f"{key}-{citation.number}")
        else:
            st.warning(escape_markdown(citation.label()), icon="⚠️")


def _cited_source(citation: Citation, library: Library, key: str) -> None:
    chunk = citation.chunk
    with st.expander(escape_markdown(citation.label())):
        chunk_header(chunk)
        st.text(chunk.text)
        download_original(library, chunk.doc_id, chunk.source, chunk.page_start, key)


def trace(answer: Answer) -> None:
    """Each stage of answering with its settings, numbers and timing."""
    for step in answer.trace:
        timing = f" · {step.ms:.0f} ms" if step.ms is not None else ""
        st.markdown(f"**{escape_markdown(step.title)}**{timing}")
        st.json(step.labelled(), expanded=False)


def fusion_choice(key: str) -> Fusion:
    """A radio button for the fusion method of hybrid search, on the default at first."""
    methods = list(Fusion)
    return st.radio(
        "Fusion (hybrid)",
        methods,
        index=methods.index(SearchOptions().fusion),
        format_func=FUSION_NAMES.get,
        key=key,
    )


def vector_threshold(distance: Distance, key: str) -> float | None:
    """A minimum vector score in the collection's own terms, as a similarity (higher is
    closer): for a Euclidean collection the user sets a maximum distance."""
    if distance.kind.higher_is_better:
        label = f"Minimum {distance.kind.label} ({distance.kind.scale})"
        return st.number_input(label, -1.0, 1.0, None, 0.05, key=key)
    maximum = st.number_input(
        f"Maximum {distance.kind.label} ({distance.kind.scale})", 0.0, 2.0, None, 0.05, key=key
    )
    return None if maximum is None else -maximum


def fusion_weights(key_prefix: str, label_suffix: str = "") -> tuple[float, float]:
    """Sliders for the vector and BM25 weights of hybrid fusion, on the defaults at first."""
    default = SearchOptions()
    vector = st.slider(
        f"Vector weight{label_suffix}", 0.0, 3.0, default.vector_weight, 0.1, key=f"{key_prefix}vw"
    )
    bm25 = st.slider(
        f"BM25 weight{label_suffix}", 0.0, 3.0, default.bm25_weight, 0.1, key=f"{key_prefix}bw"
    )
    return vector, bm25
