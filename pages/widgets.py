"""Display pieces shared by the pages: score cards, the score chart, citations, the trace.

Untrusted text (document text, file names, queries, model output) goes through st.text or
escaped Markdown; nothing here uses unsafe_allow_html.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages.source_view import show_on_page
from rag.answers import Answer
from rag.citations import Citation, Verdict
from rag.config import Settings
from rag.distances import Distance
from rag.results import NOT_RETURNED, Fusion, ScoredChunk, SearchOptions
from rag.safe_text import escape_markdown, highlight_terms, query_terms, safe_markdown, shorten

SCORE_NAMES = {"vector": "Vector", "bm25": "BM25", "fused": "Fused", "rerank": "Rerank"}
FUSION_NAMES = {
    Fusion.RRF: "Reciprocal rank fusion (ranks only)",
    Fusion.RELATIVE: "Relative score fusion (min-max normalised scores)",
}
NOT_RETURNED_TEXT = f"{NOT_RETURNED} by this retriever"


def score_metrics(chunk: ScoredChunk) -> None:
    """The scores side by side, each with its rank, kind and scale; the rerank score only
    where the chunk was reranked (most searches run without a reranker)."""
    scores = {n: s for n, s in chunk.scores().items() if n != "rerank" or s is not None}
    for column, (name, score) in zip(st.columns(len(scores)), scores.items(), strict=True):
        with column:
            if score is None:
                st.metric(SCORE_NAMES[name], "—")
                st.caption(NOT_RETURNED_TEXT)
            else:
                st.metric(f"{SCORE_NAMES[name]} · rank {score.rank}", f"{score.value:.3f}")
                st.caption(score.kind.describe())


def chunk_card(chunk: ScoredChunk, query: str, number: int | None, cited: bool, key: str) -> None:
    """One retrieved chunk: where it is from, every score, and its text with terms marked."""
    with st.container(border=True):
        label = (
            f"**#{chunk.rank}** · {escape_markdown(chunk.source)} · {escape_markdown(chunk.pages)}"
        )
        if number is not None:
            label += f" · source [{number}]"
        if cited:
            label += " · :green-badge[cited]"
        st.markdown(label)
        score_metrics(chunk)
        show_on_page(chunk.chunk_id, key)
        with st.expander("Chunk text"):
            chunk_header(chunk)
            st.markdown(highlight_terms(chunk.text, query_terms(query)))


def chunk_header(chunk: ScoredChunk) -> None:
    """The chunk's document title and section, as plain text (it comes from the file), and
    whether its text was read by text recognition (so may hold misread words)."""
    if chunk.header:
        st.text(chunk.header)
    if chunk.ocr:
        st.caption("Text from OCR: read from a scanned page, so some words may be misread.")


def score_chart(chunks: tuple[ScoredChunk, ...]) -> None:
    """Small bar charts of each kind of score (their scales differ, so one chart each); the
    rerank chart only when the search was reranked."""
    names = [n for n in SCORE_NAMES if n != "rerank" or any(c.rerank for c in chunks)]
    for column, name in zip(st.columns(len(names)), names, strict=True):
        values = {f"#{c.rank}": s.value for c in chunks if (s := c.scores()[name]) is not None}
        with column:
            st.caption(SCORE_NAMES[name])
            if values:
                frame = pd.DataFrame({"chunk": list(values), "score": list(values.values())})
                st.bar_chart(frame, x="chunk", y="score", height=140)
            else:
                st.caption("—")


def citations(answer: Answer, key: str) -> None:
    """The sources cited under an answer; an unknown number is shown as unverified."""
    if not answer.citations:
        return
    st.markdown("**Sources**")
    for citation in answer.citations:
        if citation.valid:
            _cited_source(citation, f"{key}-{citation.number}")
        else:
            st.warning(escape_markdown(citation.label()), icon="⚠️")


def _cited_source(citation: Citation, key: str) -> None:
    """The citation as a button that opens its passage on its page."""
    show_on_page(citation.chunk.chunk_id, key, escape_markdown(citation.label()))


VERDICT_BADGES = {
    Verdict.UNSUPPORTED: ":orange-badge[⚠ unsupported]",
    Verdict.UNCITED: ":gray-badge[uncited]",
}


# NUL characters mark where badges go; an answer holding such a mark would only move one.
_BADGE_SLOT = "\x00{}\x00"


def marked_answer(answer: Answer) -> str:
    """The answer as safe Markdown, each unsupported or uncited sentence followed by a
    badge (the reasons are listed under the answer)."""
    if not answer.flagged:
        return answer.markdown()
    # The whole text is made safe at once, with a placeholder where each badge goes: made
    # safe piece by piece, a link or image cut at a sentence's end would escape the filter.
    parts, position = [], 0
    for number, sentence in enumerate(answer.flagged):
        parts += [answer.text[position : sentence.end], _BADGE_SLOT.format(number)]
        position = sentence.end
    marked = safe_markdown("".join(parts) + answer.text[position:])
    for number, sentence in enumerate(answer.flagged):
        marked = marked.replace(_BADGE_SLOT.format(number), f" {VERDICT_BADGES[sentence.verdict]}")
    return marked


def claim_check(answer: Answer) -> None:
    """The summary of how the sources support the answer, and why each flagged sentence
    is flagged."""
    if not answer.support_summary:
        return
    icon = "⚠️" if answer.flagged else "✅"
    st.caption(f"{icon} {escape_markdown(answer.support_summary)}.")
    for sentence in answer.flagged:
        quoted = escape_markdown(shorten(sentence.text, 120))
        st.caption(
            f"{VERDICT_BADGES[sentence.verdict]} “{quoted}”: {escape_markdown(sentence.reason)}"
        )


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


RERANK_HELP = (
    "A cross-encoder scores the best candidates again, reading the question and each chunk"
    " together, and reorders them."
)
NO_RERANKER_HELP = "Set RAG_RERANK_PROVIDER (fastembed, http or llm) to turn it on; see the README."


def rerank_choice(settings: Settings, key: str) -> dict[str, object]:
    """The reranking fields of SearchOptions: on by default when a reranker is configured,
    off (and disabled, saying how to configure one) otherwise."""
    configured = settings.rerank_provider is not None
    rerank = st.toggle(
        f"Rerank ({settings.rerank_provider})" if configured else "Rerank",
        value=configured,
        disabled=not configured,
        key=key,
        help=RERANK_HELP if configured else f"{RERANK_HELP} {NO_RERANKER_HELP}",
    )
    candidates = st.number_input(
        "Candidates to rerank",
        1,
        max(200, settings.rerank_candidates),
        settings.rerank_candidates,
        disabled=not rerank,
        key=f"{key}_candidates",
    )
    return {"rerank": rerank, "rerank_candidates": int(candidates)}
