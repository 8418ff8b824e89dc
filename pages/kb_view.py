"""The knowledge bases on the Documents page: the list, a new one, and the one chosen in the
sidebar renamed, its search defaults changed, shared, or deleted, by its owner.

Every change goes through the gate (rag.access), which checks that the person may make it,
to the registry (rag.kb); their refusals (not the owner, a name taken or bad, a setting out
of range, an index setting that cannot change) show as their message. After a change
the page runs again, so the sidebar's picker lists the knowledge bases as they now are.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import streamlit as st

from pages import common, widgets
from pages.kb_sharing import audit_table, sharing_form
from rag.access import Role
from rag.config import DISTANCE_NAMES, EMBED_PRECISIONS
from rag.kb import IndexSettings, KnowledgeBase
from rag.kb.model import MAX_K, MIN_CHUNK_TOKENS
from rag.results import Fusion, SearchMode
from rag.safe_text import escape_markdown

# The widgets of the new knowledge base's form, forgotten once it is made.
CREATE_KEYS = tuple(
    f"kb_new_{name}"
    for name in ("name", "chunk_tokens", "chunk_overlap", "distance", "precision", "ocr")
)
# The search defaults' widgets: drawn again from the knowledge base when it changes.
DEFAULTS_KEYS = tuple(
    f"kb_{name}" for name in ("mode", "fusion", "k", "vw", "bw", "rerank", "chat_model", "lang")
)


def knowledge_base_area() -> None:
    """The knowledge bases of the data folder, and what can be done with them."""
    kb = common.current_kb()
    with st.expander("Knowledge bases"):
        listing(kb)
        if common.registry().read_only:
            st.caption("The data folder is read-only: knowledge bases cannot be changed.")
            return
        who = common.person()
        owner = common.gate().role(kb, who) is Role.OWNER
        # Sharing means something only where people sign in.
        extra = ["Audit log"] * owner + ["Sharing"] * (owner and not who.local)
        new, this, *more = st.tabs(
            ["New knowledge base", f"This one: {escape_markdown(kb.name)}", *extra]
        )
        with new:
            create_form()
        with this:
            if owner:
                owned_forms(kb)
            else:
                st.caption(
                    f"Only its owner ({kb.owner or 'an administrator'}) may rename, change,"
                    " share or delete it."
                )
        for tab, draw in zip(more, (audit_table, sharing_form), strict=False):
            with tab:
                draw(kb)


def owned_forms(kb: KnowledgeBase) -> None:
    """What the owner may do with the knowledge base: rename, change, delete."""
    rename_form(kb)
    defaults_form(kb)
    delete_form(kb)


def listing(chosen: KnowledgeBase) -> None:
    """Each knowledge base with the settings that shape its index."""
    who = common.person()
    for kb in common.knowledge_bases():
        marks = " · default" if common.registry().is_default(kb) else ""
        if not who.local:
            role = common.gate().role(kb, who)
            marks += f" · you are its {role.label}" if role else ""
        marks += " · chosen" if kb.collection == chosen.collection else ""
        made = datetime.fromtimestamp(kb.created_at).strftime("%Y-%m-%d")
        st.markdown(
            f"**{escape_markdown(kb.name)}**{marks} · `{kb.collection}` · made {made}  \n"
            f"{escape_markdown(kb.index.describe())}"
        )


def create_form() -> None:
    """Name and index settings of a new, empty knowledge base; the current settings at
    first. The embedding model is the configured one."""
    current = IndexSettings.from_settings(common.settings())
    with st.form("kb_create_form", border=False):
        name = st.text_input("Name", key="kb_new_name")
        chosen = index_widgets(current)
        st.caption(
            f"Embedding model: {escape_markdown(current.embed_model)}. These settings shape"
            " the index and are fixed once it is made."
        )
        sent = st.form_submit_button("Create", key="kb_create")
    if sent:
        with common.guarded(stop=False):
            made = common.gate().create(name, common.person(), replace(current, **chosen))
            done(f"Created {made.name}: choose it in the sidebar.", CREATE_KEYS)


def index_widgets(current: IndexSettings) -> dict[str, object]:
    """Chunking, distance, precision and OCR, on `current` at first; their values."""
    size, overlap = st.columns(2)
    chunk_tokens = size.number_input(
        "Chunk size (tokens)",
        MIN_CHUNK_TOKENS,
        None,
        current.chunk_tokens,
        10,
        key="kb_new_chunk_tokens",
    )
    chunk_overlap = overlap.number_input(
        "Chunk overlap (tokens)", 0, None, current.chunk_overlap, 5, key="kb_new_chunk_overlap"
    )
    distance = st.selectbox(
        "Distance", DISTANCE_NAMES, DISTANCE_NAMES.index(current.distance), key="kb_new_distance"
    )
    return {
        "chunk_tokens": int(chunk_tokens),
        "chunk_overlap": int(chunk_overlap),
        "distance": distance,
        "embed_precision": precision_choice(current),
        "ocr": st.toggle("Read scanned pages (OCR)", current.ocr, key="kb_new_ocr"),
    }


def precision_choice(current: IndexSettings) -> str:
    """The local model's precision; an API model's vectors are float32 only."""
    local = current.embed_provider == "fastembed"
    return st.selectbox(
        "Precision",
        EMBED_PRECISIONS,
        EMBED_PRECISIONS.index(current.embed_precision),
        key="kb_new_precision",
        disabled=not local,
        help="int8 weights embed about 1.5x faster with nearly the same results."
        if local
        else "An API model's vectors are fp32.",
    )


def rename_form(kb: KnowledgeBase) -> None:
    """A new name; the documents and the collection stay as they are."""
    with st.form("kb_rename_form", clear_on_submit=True, border=False):
        new_name = st.text_input("New name", key="kb_rename_to")
        sent = st.form_submit_button("Rename", key="kb_rename")
    if sent:
        with common.guarded(stop=False):
            renamed = common.gate().rename(kb, common.person(), new_name)
            done(f"Renamed {kb.name} to {renamed.name}.")


def defaults_form(kb: KnowledgeBase) -> None:
    """The knowledge base's search defaults, which the Chat and Search pages start from;
    the settings that shape its index are shown, fixed."""
    widgets.follow_defaults("kb_form_follows", (kb.collection, kb.search), DEFAULTS_KEYS)
    st.markdown(f"**Index** (fixed at creation): {escape_markdown(kb.index.describe())}")
    with st.form("kb_defaults_form", border=False):
        changes = default_widgets(kb)
        sent = st.form_submit_button("Save search defaults", key="kb_save")
    if sent:
        with common.guarded(stop=False):
            common.gate().update(kb, common.person(), **changes)
            done(f"Saved the search defaults of {kb.name}.")


def default_widgets(kb: KnowledgeBase) -> dict[str, object]:
    """The search defaults' widgets, on the knowledge base's values; their values."""
    defaults, configured = kb.search, common.settings().chat_model
    modes, methods = list(SearchMode), list(Fusion)
    mode = st.selectbox("Search mode", modes, modes.index(defaults.mode), key="kb_mode")
    fusion = st.selectbox(
        "Fusion (hybrid)",
        methods,
        methods.index(defaults.fusion),
        format_func=widgets.FUSION_NAMES.get,
        key="kb_fusion",
    )
    k = st.number_input("Top k", 1, MAX_K, defaults.k, key="kb_k")
    vector, bm25 = st.columns(2)
    vector_weight = vector.number_input(
        "Vector weight", 0.0, None, defaults.vector_weight, 0.1, key="kb_vw"
    )
    bm25_weight = bm25.number_input(
        "BM25 weight", 0.0, None, defaults.bm25_weight, 0.1, key="kb_bw"
    )
    rerank = st.toggle("Rerank (where a reranker is configured)", defaults.rerank, key="kb_rerank")
    chat_model = st.text_input(
        "Chat model", defaults.chat_model or "", placeholder=configured or "", key="kb_chat_model"
    )
    language = st.text_input(
        "Answer language",
        defaults.answer_language or "",
        placeholder="the question's",
        key="kb_lang",
    )
    return {
        "mode": mode,
        "fusion": fusion,
        "k": int(k),
        "vector_weight": float(vector_weight),
        "bm25_weight": float(bm25_weight),
        "rerank": rerank,
        "chat_model": chat_model.strip() or None,
        "answer_language": language.strip() or None,
    }


def delete_form(kb: KnowledgeBase) -> None:
    """Delete the knowledge base with its documents, once its name is typed; the default
    one is kept, and the page says why."""
    refused = common.registry().deletion_refused(kb)
    if refused is not None:
        st.button("Delete this knowledge base", key="kb_delete", icon="🗑️", disabled=True)
        st.caption(escape_markdown(refused))
        return
    with st.form("kb_delete_form", clear_on_submit=True, border=False):
        typed = st.text_input(
            "To delete it with all its documents, type its name", key="kb_delete_confirm"
        )
        sent = st.form_submit_button("Delete this knowledge base", key="kb_delete", icon="🗑️")
    if not sent:
        return
    if typed.strip() != kb.name:
        st.error(f"Type {escape_markdown(kb.name)} exactly to delete it; nothing was deleted.")
        return
    with common.guarded(stop=False):
        common.delete_knowledge_base(kb)
        done(f"Deleted {kb.name} with its documents.")


def done(message: str, forget: tuple[str, ...] = ()) -> None:
    """Say what was done, forget the widgets' values, and run the page again."""
    for key in forget:
        st.session_state.pop(key, None)
    st.toast(escape_markdown(message))
    st.rerun()
