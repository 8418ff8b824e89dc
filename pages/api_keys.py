"""API keys page: the keys that let scripts and other apps use the HTTP service as you
(`python -m rag.api`, see the README's API section); made here, shown once, revocable."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from pages import common, widgets
from rag.safe_text import escape_markdown

NEW_SECRET = "new_api_key"

widgets.knowledge_base_picker()
who = common.person()
keys = common.api_keys()


def create_form() -> None:
    """A name for a new key; the key is shown once, right after."""
    with st.form("api_key_form", clear_on_submit=True, border=False):
        name = st.text_input("Name (what will use it)", key="api_key_name")
        sent = st.form_submit_button("Create a key", key="api_key_create")
    if sent:
        with common.guarded(stop=False):
            key, secret = keys.create(who, name)
            st.session_state[NEW_SECRET] = (key.name, secret)
    shown = st.session_state.pop(NEW_SECRET, None)
    if shown is not None:
        st.success(
            f"Copy the key {escape_markdown(shown[0])!r} now: it is not shown again, and it"
            " acts as you until you revoke it."
        )
        st.code(shown[1], language=None)


def key_list() -> None:
    """The person's keys, newest first, with a button to revoke each active one."""
    listed = keys.of(who)
    if not listed:
        st.caption("No keys yet.")
        return
    rows = [
        {
            "name": k.name,
            "made": datetime.fromtimestamp(k.created_at).strftime("%Y-%m-%d %H:%M"),
            "state": "active" if k.active else "revoked",
        }
        for k in listed
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    for key in (k for k in listed if k.active):
        if st.button(f"Revoke {key.name}", key=f"revoke-{key.id}"):
            keys.revoke(who, key.id)
            st.rerun()


st.title("API keys")
st.caption(
    f"Keys act as {escape_markdown(who.label)}: with the same knowledge bases and rules as"
    " here. Send one as `Authorization: Bearer <key>`."
)
create_form()
key_list()
