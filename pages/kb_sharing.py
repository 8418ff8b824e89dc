"""A knowledge base's sharing and audit log on the Documents page, for its owner.

Sharing goes through the gate (rag.access), which refuses anyone but the owner; the audit
log lists who added, replaced, deleted, shared or changed what, newest first.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from pages import common
from rag.access import EVERYONE, Role
from rag.kb import KnowledgeBase
from rag.safe_text import escape_markdown

ROLES = {Role.READER: "reader: search and chat", Role.EDITOR: "editor: also add and delete"}


def sharing_form(kb: KnowledgeBase) -> None:
    """Whom the knowledge base is shared with, a form to share it, and a button per share
    to stop sharing."""
    who = common.person()
    with common.guarded(stop=False):
        shares = common.gate().shares(kb, who)
        if not shares:
            st.caption("Private: only you can see it.")
        for share in shares:
            name = "Everyone signed in" if share.grantee == EVERYONE else share.grantee
            line, button = st.columns([4, 1], vertical_alignment="center")
            line.markdown(f"{escape_markdown(name)} · {share.role.label}")
            if button.button("Stop sharing", key=f"unshare-{share.grantee}"):
                common.gate().unshare(kb, who, share.grantee)
                st.rerun()
    with st.form("kb_share_form", clear_on_submit=True, border=False):
        grantee = st.text_input(
            "Share with (an email, or * for everyone signed in)", key="kb_share_with"
        )
        role = st.radio("As", list(ROLES), format_func=ROLES.get, key="kb_share_role")
        sent = st.form_submit_button("Share", key="kb_share")
    if sent:
        with common.guarded(stop=False):
            common.gate().share(kb, who, grantee, role)
            st.rerun()


def audit_table(kb: KnowledgeBase) -> None:
    """Who did what to the knowledge base, and when, newest first (read when asked for)."""
    if not st.toggle("Show the audit log", key="kb_audit"):
        return
    with common.guarded(stop=False):
        entries = common.gate().audit(kb, common.person())
        if not entries:
            st.caption("Nothing recorded yet.")
            return
        rows = [
            {
                "when": datetime.fromtimestamp(e.at).strftime("%Y-%m-%d %H:%M:%S"),
                "who": e.person,
                "what": e.action,
                "detail": e.detail,
            }
            for e in entries
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
