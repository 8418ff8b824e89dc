"""Evaluation page: measure retrieval on the current collection with a question set."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages import widgets
from pages.common import guarded, knowledge_bases, person, workspace
from rag.access import AccessDeniedError, Action
from rag.eval.embedder_comparison import EmbedderComparison, compare_collections
from rag.eval.runs import QA_METRICS, EvalReport, missing_sources
from rag.eval.saved import EvalStore, history_rows, run_saved_set
from rag.eval.sets import QAItem
from rag.results import DEFAULT_RRF_K, SearchMode, SearchOptions
from rag.safe_text import escape_markdown
from rag.stores.collections import CollectionInfo, list_collections

widgets.knowledge_base_picker()
space = workspace()
library, retriever = space.library(Action.EVALUATE), space.retriever(Action.EVALUATE)
store = EvalStore.of(library.settings.data_dir, library.settings.collection)
FORMAT_HELP = (
    'One JSON object a line: {"question": "...", "answer": "..." (optional), "evidence":'
    ' [{"source": "<file name>", "page": <page from 1>}]}'
)


def questions_label(count: int) -> str:
    """ "1 question", "12 questions"."""
    return f"{count} question{'' if count == 1 else 's'}"


def upload_set() -> None:
    """Check an uploaded question file and save it under a name (editors: a saved set is
    shared by everyone who may use the knowledge base)."""
    if not space.may(Action.ADD):
        st.caption("Question sets are added by its owner and editors; you can run them.")
        return
    upload = st.file_uploader("Question file (JSON lines)", type=["jsonl"], key="qa_upload")
    if upload is None:
        return
    name = st.text_input("Save as", value=upload.name, key="qa_name").strip() or upload.name
    if st.button("Save question set", key="save_set"):
        with guarded(stop=False):
            space.require(Action.ADD)
            items = store.save_set(name, upload.getvalue().decode("utf-8", errors="replace"))
            st.session_state["qa_set"] = name
            st.toast(f"Saved {escape_markdown(name)}: {questions_label(len(items))}")


def run_options() -> tuple[list[SearchMode], SearchOptions]:
    """The modes to compare and the search settings this run records."""
    modes = st.multiselect(
        "Modes", list(SearchMode), default=list(SearchMode), format_func=str, key="eval_modes"
    )
    with st.expander("Search settings"):
        fusion = widgets.fusion_choice("eval_fusion")
        rrf_k = st.number_input("RRF k", 0, 1000, DEFAULT_RRF_K, key="eval_rrf_k")
        vector_weight, bm25_weight = widgets.fusion_weights("eval_")
        candidates = st.number_input("Candidates per retriever", 10, 500, 50, key="eval_cand")
        rerank = widgets.rerank_choice(library.settings, "eval_rerank")
    options = SearchOptions(
        fusion=fusion,
        rrf_k=int(rrf_k),
        vector_weight=vector_weight,
        bm25_weight=bm25_weight,
        candidates=int(candidates),
        **rerank,
    )
    return modes, options


def check_sources(items: list[QAItem]) -> None:
    """Warn about evidence files that are not in the collection."""
    missing = missing_sources(items, {d.name for d in library.documents()})
    if missing:
        names = ", ".join(escape_markdown(name) for name in missing[:10])
        st.warning(f"Not in this collection, so never found: {names}")


def show_report(report: EvalReport) -> None:
    """The metrics of each mode as a table and a chart, then each question's first hit."""
    st.subheader(f"Results: {escape_markdown(report.dataset)}")
    st.caption(f"Reranker: {escape_markdown(str(report.settings.get('rerank', 'off')))}")
    if report.settings.get("rerank_notice"):
        not_reranked = report.settings.get("not_reranked")
        st.warning(f"{not_reranked} searches were not reranked: {report.settings['rerank_notice']}")
    rows = pd.DataFrame(report.rows())
    st.dataframe(rows, hide_index=True, width="stretch")
    st.bar_chart(rows.set_index("mode")[list(report.metric_names())].T, stack=False)
    st.caption(
        "hit@k: share of questions with a chunk on an evidence page among the top k."
        " mrr@10: mean of 1 / rank of the first such chunk (0 when not in the top 10)."
    )
    with st.expander("Rank of the first chunk on an evidence page, per question"):
        per_question = [{"question": q.question, **q.first_hit} for q in report.questions]
        st.dataframe(pd.DataFrame(per_question), hide_index=True, width="stretch")


def compare_embedders(
    set_name: str, questions: list[QAItem], modes: list[SearchMode], options: SearchOptions
) -> None:
    """Run the set on a second collection, built with another model, beside this one."""
    st.header("Compare embedders")
    current = library.settings.collection
    others = _other_collections(current)
    if not others:
        st.caption(
            "To compare embedding models, re-embed these documents into a second collection:"
            # Collection names are letters, digits, dots, dashes and underscores: safe in code.
            f" `RAG_EMBED_MODEL=... RAG_COLLECTION=NEW python -m ingest reindex {current}`."
        )
        return
    st.caption(f"This collection: {escape_markdown(library.identity.describe())}")
    other = st.selectbox(
        "Second collection", others, format_func=lambda c: c.describe(), key="cmp_collection"
    )
    if st.button("Compare", key="run_compare", disabled=not modes):
        st.session_state.pop("comparison", None)
        with guarded(stop=False), st.spinner("Searching both collections…"):
            _may_evaluate(other.name)
            st.session_state["comparison"] = compare_collections(
                library.settings,
                questions,
                set_name,
                (current, other.name),
                modes,
                options,
                current=retriever,
            )
    comparison = st.session_state.get("comparison")
    if comparison is not None:
        show_comparison(comparison)


def _other_collections(current: str) -> list[CollectionInfo]:
    """The collections beside `current` that can be compared: those of the knowledge bases
    the person may use (the local user may use every collection, registered or not)."""
    theirs = {kb.collection for kb in knowledge_bases()}
    return [
        c
        for c in list_collections(library.settings)
        if c.name != current and c.identity and (person().local or c.name in theirs)
    ]


def _may_evaluate(collection: str) -> None:
    """AccessDeniedError unless the person may evaluate the knowledge base kept in
    `collection` (the local user may evaluate any collection, registered or not)."""
    if person().local:
        return
    found = next((kb for kb in knowledge_bases() if kb.collection == collection), None)
    if found is None:
        raise AccessDeniedError(f"No knowledge base in {collection!r} is shared with you")
    workspace(found).require(Action.EVALUATE)


def show_comparison(comparison: EmbedderComparison) -> None:
    """Metrics of both collections side by side, as a table and a chart, then each question."""
    first, second = comparison.first, comparison.second
    one, two = escape_markdown(first.collection), escape_markdown(second.collection)
    st.subheader(f"{escape_markdown(comparison.dataset)}: {one} and {two}")
    for run in (first, second):
        st.write(f"**{escape_markdown(run.collection)}**: {escape_markdown(run.embedder)}")
        if run.missing:
            names = ", ".join(escape_markdown(name) for name in run.missing[:10])
            st.warning(f"Not in {escape_markdown(run.collection)}, so never found: {names}")
    metrics = pd.DataFrame(comparison.metric_rows())
    st.dataframe(metrics, hide_index=True, width="stretch")
    bars = metrics.assign(measure=metrics["mode"] + " " + metrics["metric"]).set_index("measure")
    st.bar_chart(bars[[first.collection, second.collection]], stack=False)
    st.caption(
        f"difference: {two} less {one}. Rank change: negative when {two} finds the evidence"
        " page sooner; empty when either does not find it in the top 10."
    )
    with st.expander("Rank of the first chunk on an evidence page, per question, in both"):
        st.dataframe(pd.DataFrame(comparison.question_rows()), hide_index=True, width="stretch")


def show_history() -> None:
    """Past runs on this collection, to compare settings."""
    runs = store.runs()
    if not runs:
        return
    st.header(f"Past runs ({len(runs)})")
    history = pd.DataFrame(history_rows(runs))
    metric = st.selectbox("Compare by", QA_METRICS, key="eval_metric")
    st.bar_chart(history.pivot_table(index="run", columns="mode", values=metric), stack=False)
    st.dataframe(history, hide_index=True, width="stretch")


st.title("Evaluation")
st.caption(
    "How well does retrieval find the pages that answer your questions? Upload a question"
    " set, run it on this collection in every mode, and compare settings across runs."
)
if not library.documents():
    st.info("No documents yet: add the documents your questions are about on the Documents page.")
upload_set()
st.caption(FORMAT_HELP)
set_names = store.set_names()
chosen = st.selectbox("Question set", set_names, key="qa_set", index=None if not set_names else 0)
if chosen is not None:
    with guarded():
        questions = store.load_set(chosen)
    st.write(questions_label(len(questions)))
    check_sources(questions)
    modes, options = run_options()
    if st.button("Run evaluation", key="run_eval", type="primary", disabled=not modes):
        with guarded(), st.spinner("Searching…"):
            st.session_state["eval_report"] = run_saved_set(
                retriever, store, chosen, modes, options
            )
report = st.session_state.get("eval_report")
if report is not None:
    show_report(report)
if chosen is not None:
    compare_embedders(chosen, questions, modes, options)
show_history()
