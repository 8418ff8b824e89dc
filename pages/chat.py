"""Chat page: ask questions, get streamed and cited answers, inspect every score."""

from __future__ import annotations

import logging
from dataclasses import replace

import streamlit as st

from pages import widgets
from pages.common import current_kb, knowledge_bases, workspace
from rag.access import Workspace, ask_across
from rag.answers import Answer, AnswerKind
from rag.chat.export import conversation_json, conversation_markdown
from rag.chat.flow import HOW_TO_CONFIGURE, ChatOptions
from rag.chat.limits import QuestionLimiter
from rag.config import Settings
from rag.errors import RagError
from rag.kb import KbSearchDefaults
from rag.providers.chat_model import GenerationOptions
from rag.results import SearchMode, SearchOptions, VectorIndex
from rag.safe_text import escape_markdown

log = logging.getLogger(__name__)
# The sidebar's widgets that start from the knowledge base (its defaults, its documents and
# its distance), and the selected answer: drawn again when another one is chosen.
FOLLOW_KB = (
    *("mode", "k", "fusion", "vw", "bw", "rerank", "rerank_candidates", "model"),
    *("min_vector", "min_bm25", "doc_ids", "selected", "also_kbs"),
)
widgets.knowledge_base_picker()
kb = current_kb()
space = workspace(kb)
widgets.follow_defaults("chat_follows", (kb.collection, kb.search), FOLLOW_KB)
# One conversation per knowledge base: its citations point into its documents.
conversations: dict[tuple[str, str], list[Answer]] = st.session_state.setdefault(
    "conversations", {}
)
# And one per person: a session someone signed out of never shows the next person theirs.
answers = conversations.setdefault((space.person.id, kb.collection), [])
if "question_limiter" not in st.session_state:
    st.session_state["question_limiter"] = QuestionLimiter.from_settings(space.settings)
limiter: QuestionLimiter = st.session_state["question_limiter"]


def sidebar_options(
    space: Workspace, defaults: KbSearchDefaults, together: bool = False
) -> ChatOptions:
    """The retrieval and generation settings chosen in the sidebar, starting from the
    knowledge base's defaults; `together` when other knowledge bases are searched too."""
    with st.sidebar:
        st.header("Retrieval")
        search = search_options(space, defaults)
        if together:  # a document filter names documents of the chosen knowledge base only
            search = replace(search, doc_ids=())
        st.header("Answer")
        generation = generation_options(space.settings, defaults.chat_model)
    return ChatOptions(search, generation, defaults.answer_language)


def search_options(space: Workspace, defaults: KbSearchDefaults) -> SearchOptions:
    """Mode, top k, fusion, vector index, weights, minimum scores and a document filter."""
    modes = [m.value for m in SearchMode]
    mode = st.radio("Search mode", modes, index=modes.index(defaults.mode), key="mode")
    k = st.slider("Top k", 1, max(20, defaults.k), defaults.k, key="k")
    fusion = widgets.fusion_choice("fusion", defaults.fusion)
    vector_index = vector_index_choice()
    vector_weight, bm25_weight = widgets.fusion_weights("", " (fusion)", defaults.options())
    min_vector = widgets.vector_threshold(space.library().distance, key="min_vector")
    min_bm25 = st.number_input("Minimum BM25 score", 0.0, None, None, 0.5, key="min_bm25")
    doc_ids = document_filter(space)
    rerank = widgets.rerank_choice(space.settings, "rerank", defaults.rerank)
    return SearchOptions(
        mode=SearchMode(mode),
        k=k,
        fusion=fusion,
        vector_index=vector_index,
        vector_weight=vector_weight,
        bm25_weight=bm25_weight,
        doc_ids=doc_ids,
        min_vector=min_vector,
        min_bm25=min_bm25,
        **rerank,
    )


def also_searched(kb_name: str) -> list[Workspace]:
    """The other knowledge bases chosen to search together with this one."""
    others = {b.collection: b for b in knowledge_bases() if b.name != kb_name}
    if not others:
        return []
    chosen = st.sidebar.multiselect(
        "Also search",
        list(others),
        format_func=lambda c: others[c].name,
        key="also_kbs",
        help="Search these knowledge bases too: the results are fused by rank, each chunk"
        " labelled with its knowledge base.",
    )
    return [workspace(others[c]) for c in chosen]


def vector_index_choice() -> VectorIndex:
    """The HNSW graph, or sign bits rescored in float32 (for large collections)."""
    choice = st.radio(
        "Vector index",
        [i.value for i in VectorIndex],
        format_func={"hnsw": "HNSW graph", "binary": "Bits + rescoring"}.get,
        key="vector_index",
        help="Bits + rescoring keeps 48 bytes a chunk in memory and rescores 20 candidates"
        " per result with their float32 vectors; for large collections (see README).",
    )
    return VectorIndex(choice)


def document_filter(space: Workspace) -> tuple[str, ...]:
    """The documents to search in; none chosen means all."""
    names = {d.doc_id: d.name for d in space.documents()}
    chosen = st.multiselect(
        "Only these documents", list(names), format_func=names.get, key="doc_ids"
    )
    return tuple(chosen)


def generation_options(settings: Settings, kb_model: str | None = None) -> GenerationOptions:
    """Model (the knowledge base's, else the configured one), temperature and answer
    length; disabled without a configured model."""
    disabled = not settings.llm_configured
    model = kb_model or settings.chat_model or ""
    model = st.text_input("Model", model, disabled=disabled, key="model")
    temperature = st.slider(
        "Temperature", 0.0, 2.0, settings.chat_temperature, 0.05, disabled=disabled
    )
    max_tokens = st.number_input(
        "Maximum answer tokens",
        16,
        settings.max_answer_tokens,
        settings.chat_max_tokens,
        disabled=disabled,
        key="max_tokens",
    )
    return GenerationOptions(model or None, temperature, int(max_tokens))


def conversation_tools() -> None:
    """New chat and export buttons."""
    with st.sidebar:
        st.header("Conversation")
        if st.button("New chat", icon="🧹", key="new_chat"):
            answers.clear()
            st.session_state.pop("selected", None)
            st.rerun()
        st.download_button(
            "Export as Markdown",
            conversation_markdown(answers),
            "conversation.md",
            "text/markdown",
            disabled=not answers,
            on_click="ignore",
        )
        st.download_button(
            "Export as JSON",
            conversation_json(answers),
            "conversation.json",
            "application/json",
            disabled=not answers,
            on_click="ignore",
        )


def show_answer(index: int, answer: Answer) -> None:
    """One past turn: the question, the answer, its sources and problems."""
    with st.chat_message("user"):
        st.markdown(escape_markdown(answer.question))
    with st.chat_message("assistant"):
        st.markdown(widgets.marked_answer(answer))
        answer_footer(index, answer)


def answer_footer(index: int, answer: Answer) -> None:
    """Notices, errors and citations under an answer, and the button to inspect it."""
    if answer.kind is AnswerKind.EXTRACTIVE:
        st.caption("Quoted from the sources (retrieval-only mode).")
    widgets.claim_check(answer)
    if answer.incomplete:
        st.error(f"The answer is incomplete. {answer.error}", icon="⚠️")
    widgets.citations(answer, key=f"a{index}")
    if st.button("Show its sources and scores", key=f"select-{index}", type="tertiary"):
        st.session_state["selected"] = index


def ask(question: str, options: ChatOptions) -> Answer:
    """Stream a new answer into the chat and return it; a refused question leaves no turn."""
    turn = st.empty()
    try:
        with turn.container():
            return stream_turn(question, options)
    except RagError:
        turn.empty()
        raise


def stream_turn(question: str, options: ChatOptions) -> Answer:
    """The question, then its answer as it arrives, with its footer."""
    with st.chat_message("user"):
        st.markdown(escape_markdown(question))
    with st.chat_message("assistant"):
        with st.spinner("Searching your documents…"):
            if also:
                stream = ask_across([space, *also], question, answers, options, limiter)
            else:
                stream = space.ask(question, answers, options, limiter)
        placeholder = st.empty()
        text = ""
        with st.spinner("Writing the answer…"):
            for delta in stream:
                text += delta
                placeholder.markdown(stream.markdown(text) + " ▌")
            answer = stream.answer
        placeholder.markdown(widgets.marked_answer(answer))
        answer_footer(len(answers), answer)
    return answer


def side_panel(answer: Answer) -> None:
    """Every retrieved chunk of the selected answer with all its scores, and the trace."""
    st.subheader("Sources and scores")
    st.caption(f"For: {escape_markdown(answer.question)}")
    st.text(f"Searched for: {answer.query}")
    if answer.warning:
        st.warning(answer.warning, icon="⚠️")
    if not answer.chunks:
        st.warning(f"Nothing found. {answer.notice or ''}", icon="🔍")
    else:
        widgets.score_chart(answer.chunks)
    for chunk in answer.chunks:
        number = answer.source_number(chunk)
        widgets.chunk_card(chunk, answer.query, number, answer.is_cited(chunk), key=chunk.chunk_id)
    with st.expander("Trace"):
        widgets.trace(answer)


also = also_searched(kb.name)
options = sidebar_options(space, kb.search, bool(also))
conversation_tools()
chat_column, panel_column = st.columns([3, 2], gap="large")
with chat_column:
    st.title("Chat")
    if not space.settings.llm_configured:
        st.info(
            f"No language model is configured: answers quote your documents. {HOW_TO_CONFIGURE}"
        )
    for number, past in enumerate(answers):
        show_answer(number, past)
question = st.chat_input("Ask about your documents")
if question:
    with chat_column:
        try:
            new = ask(question, options)
        except RagError as exc:
            # Refused or failed before answering: say why; the chat goes on.
            log.info("question not answered: %s", exc)
            st.error(str(exc), icon="✋")
        else:
            answers.append(new)
            st.session_state["selected"] = len(answers) - 1
with panel_column:
    selected = st.session_state.get("selected", len(answers) - 1)
    if answers and 0 <= selected < len(answers):
        side_panel(answers[selected])
    else:
        st.caption("Ask a question: the chunks it retrieves, and every score, show here.")
