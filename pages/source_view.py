"""The cited passage in its document: a dialog with the page drawn and the passage boxed.

Chat citations, the chunk cards of the side panel and the Search page, and the Documents
chunk browser all open it the same way (`show_on_page`). PDF pages are drawn as pictures
with the passage's words boxed, with the previous and next page and zoom; other formats
show the passage inside its section, slide, sheet rows or chapter, marked.
"""

from __future__ import annotations

import streamlit as st

from ingest.viewer import PageViewError
from pages import common
from pages.common import guarded
from rag.documents import page_label
from rag.safe_text import display_name, escape_markdown

STATE = "source_view"
ZOOMS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


def show_on_page(chunk_id: str, key: str, label: str = "Show on page", kb: str = "") -> None:
    """A button that opens the chunk's document at its first page, the passage marked;
    `kb` names the knowledge base it came from when not the chosen one."""
    if st.button(label, key=f"show-{key}", icon="📄", type="tertiary"):
        open_source(chunk_id, kb)


def open_source(chunk_id: str, kb: str = "") -> None:
    """Open the viewer dialog at the chunk's first page (of knowledge base `kb`, by name,
    or of the chosen one)."""
    st.session_state[STATE] = {"chunk_id": chunk_id, "page": None, "zoom": 1.0, "kb": kb}
    _source_dialog()


@st.dialog("Source", width="large")
def _source_dialog() -> None:
    state = st.session_state.get(STATE)
    if not state:
        return
    with guarded(stop=False):
        viewer = _viewer_of(state.get("kb", ""))
        chunk = viewer.chunk(state["chunk_id"])
        _download(viewer, chunk.doc_id, chunk.source)
        if viewer.can_render(chunk.doc_id):
            try:
                _page(viewer, chunk, state)
            except PageViewError as exc:
                # A locked PDF (its password is not kept) or a page that cannot be drawn:
                # the passage can still be read in its text.
                st.warning(escape_markdown(str(exc)), icon="⚠️")
                _passage(viewer, chunk)
        else:
            _passage(viewer, chunk)


def _viewer_of(name: str):
    """The viewer of the knowledge base called `name` among the person's (the chosen one
    for "")."""
    found = next((kb for kb in common.knowledge_bases() if name and kb.name == name), None)
    return common.viewer(found)


def _page(viewer, chunk, state: dict) -> None:
    """The page drawn with the passage boxed, and the controls to move and zoom."""
    page = state["page"] or chunk.page_start
    pages = viewer.page_count(chunk.doc_id)
    back, previous, following, zoom = st.columns([2, 1, 1, 2], vertical_alignment="center")
    if previous.button("◀ Previous", disabled=page <= 1, key="view-previous"):
        page -= 1
    if following.button("Next ▶", disabled=page >= pages, key="view-next"):
        page += 1
    if back.button(
        f"Back to the passage ({page_label(chunk.page_start, chunk.page_end)})",
        disabled=chunk.page_start <= page <= chunk.page_end,
        key="view-back",
    ):
        page = chunk.page_start
    state["zoom"] = zoom.select_slider(
        "Zoom", ZOOMS, state["zoom"], format_func=lambda z: f"{z:.0%}", key="view-zoom"
    )
    state["page"] = page
    view = viewer.page(chunk.doc_id, page, chunk, state["zoom"])
    st.markdown(f"**{display_name(chunk.source)}** · page {view.page} of {view.pages}")
    if view.note:
        st.caption(escape_markdown(view.note))
    elif view.boxes:
        st.caption("The passage is boxed in yellow.")
    with st.container(height=720, border=False):
        st.image(view.png, width=view.width_px)


def _passage(viewer, chunk) -> None:
    """The passage inside its section, slide, sheet rows or chapter, marked."""
    view = viewer.passage(chunk)
    st.markdown(f"**{display_name(chunk.source)}** · {escape_markdown(view.title)}")
    st.caption("The passage is marked in yellow.")
    with st.container(height=560, border=True):
        st.markdown(marked_passage(view.before, view.passage, view.after))


def marked_passage(before: str, passage: str, after: str) -> str:
    """Escaped Markdown of the three parts, each line of the passage marked (a Streamlit
    colour directive does not span lines), line breaks kept."""
    marked = "\n".join(
        f":orange-background[{escape_markdown(line)}]" if line.strip() else line
        for line in passage.split("\n")
    )
    text = escape_markdown(before) + marked + escape_markdown(after)
    return text.replace("\n", "  \n")


def _download(viewer, doc_id: str, source: str) -> None:
    """The original file, as it was uploaded."""
    path = viewer.original(doc_id)
    if path is None:
        st.caption("The original file is no longer in the library.")
        return
    st.download_button(
        "Download the original file",
        data=lambda: path.read_bytes(),
        file_name=source,
        key="view-download",
        on_click="ignore",
    )
