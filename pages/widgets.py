"""Display pieces shared by the pages: score cards, the score chart, citations, the trace,
the search options' widgets, and the sidebar's knowledge base picker.

Untrusted text (document text, file names, queries, model output) goes through st.text or
escaped Markdown; nothing here uses unsafe_allow_html.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages import common, signin
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
        if chunk.knowledge_base:
            label += f" · :blue-badge[{escape_markdown(chunk.knowledge_base)}]"
        st.markdown(label)
        score_metrics(chunk)
        show_on_page(chunk.chunk_id, key, kb=chunk.knowledge_base)
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
    chunk = citation.chunk
    label = citation.label() + (f" ({chunk.knowledge_base})" if chunk.knowledge_base else "")
    show_on_page(chunk.chunk_id, key, escape_markdown(label), chunk.knowledge_base)


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


def fusion_choice(key: str, default: Fusion | None = None) -> Fusion:
    """A radio button for the fusion method of hybrid search, on `default` (or the app's
    default) at first."""
    methods = list(Fusion)
    return st.radio(
        "Fusion (hybrid)",
        methods,
        index=methods.index(default or SearchOptions().fusion),
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


def fusion_weights(
    key_prefix: str, label_suffix: str = "", default: SearchOptions | None = None
) -> tuple[float, float]:
    """Sliders for the vector and BM25 weights of hybrid fusion, on `default`'s weights (or
    the app's) at first."""
    default = default or SearchOptions()
    weights = {}
    for name, label, start in (
        ("vw", "Vector weight", default.vector_weight),
        ("bw", "BM25 weight", default.bm25_weight),
    ):
        # A knowledge base's default may lie beyond the usual range: the slider reaches it.
        top = max(3.0, float(start))
        weights[name] = st.slider(
            f"{label}{label_suffix}", 0.0, top, float(start), 0.1, key=f"{key_prefix}{name}"
        )
    return weights["vw"], weights["bw"]


RERANK_HELP = (
    "A cross-encoder scores the best candidates again, reading the question and each chunk"
    " together, and reorders them."
)
NO_RERANKER_HELP = "Set RAG_RERANK_PROVIDER (fastembed, http or llm) to turn it on; see the README."


def rerank_choice(settings: Settings, key: str, default: bool = True) -> dict[str, object]:
    """The reranking fields of SearchOptions: on at first when a reranker is configured and
    `default` (a knowledge base's choice) says so; off (and disabled, saying how to
    configure one) without a reranker."""
    configured = settings.rerank_provider is not None
    rerank = st.toggle(
        f"Rerank ({settings.rerank_provider})" if configured else "Rerank",
        value=configured and default,
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


# The URL's query parameter naming the chosen knowledge base (?kb=NAME).
KB_QUERY = "kb"


def knowledge_base_picker() -> None:
    """The sidebar's choice of knowledge base, drawn first by every page: the default one
    first and marked. The choice is kept for the browser session (it outlives the widget,
    which each page draws anew) and, while it is not the default one, in the URL (?kb=NAME,
    case ignored) so that a reload keeps it."""
    signin.account_box(common.person())
    bases = common.knowledge_bases()
    names = {kb.collection: kb.name for kb in bases}
    if common.CHOICE_KEY not in st.session_state:  # a new session: the URL may name one
        st.session_state[common.CHOICE_KEY] = _named_in_url()
    current = common.current_kb(bases)  # stops the page when there is none
    options, default = list(names), bases[0].collection
    # Marked: the data folder's default knowledge base, which a signed-in person may not see.
    registry_default = common.registry().default().collection
    # The options are collections, which a rename leaves as they are: the choice survives it.
    chosen = st.sidebar.selectbox(
        "Knowledge base",
        options,
        index=options.index(current.collection),
        format_func=lambda c: f"{names[c]} (default)" if c == registry_default else names[c],
        key="kb_picker",
        help="The documents every page works on. Create, rename, change or delete knowledge"
        " bases on the Documents page.",
    )
    st.session_state[common.CHOICE_KEY] = chosen
    wanted = None if chosen == default else names[chosen]
    if st.query_params.get(KB_QUERY) != wanted:
        if wanted is None:
            del st.query_params[KB_QUERY]
        else:
            st.query_params[KB_QUERY] = wanted


def _named_in_url() -> str | None:
    """The collection of the knowledge base the URL names, if any."""
    asked = st.query_params.get(KB_QUERY)
    with common.guarded():
        found = common.registry().find(asked) if asked else None
    return found.collection if found is not None else None


def follow_defaults(marker: str, source: object, keys: tuple[str, ...]) -> None:
    """Forget this session's values of the widgets `keys` when `source` (a knowledge base
    and its defaults) is not what they were drawn from, so that they start from it again;
    a person's changes otherwise stay, for their session only."""
    if st.session_state.get(marker) != source:
        for key in keys:
            st.session_state.pop(key, None)
        st.session_state[marker] = source
