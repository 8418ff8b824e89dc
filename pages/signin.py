"""Sign-in: who is using the app, through Streamlit's OpenID Connect support.

With an `[auth]` section in `.streamlit/secrets.toml` (see README, "Sign-in and sharing"),
every page asks for sign-in first and acts for the person signed in. Without it the app has
one local user, who owns every knowledge base, and no sign-in page.
"""

from __future__ import annotations

import streamlit as st

from rag.access import LOCAL_USER, AccessDeniedError, Person
from rag.access.people import admit
from rag.safe_text import escape_markdown


def sign_in_configured() -> bool:
    """Whether the secrets configure an OpenID Connect provider."""
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # no secrets file at all
        return False


def current_person(allowed: tuple[str, ...] = ()) -> Person:
    """The person signed in, or the local user without sign-in; without a sign-in yet,
    the sign-in screen is shown and the page stops, as it does for someone `allowed`
    (RAG_ALLOWED_PEOPLE) does not name."""
    if not sign_in_configured():
        return LOCAL_USER
    if not st.user.is_logged_in:
        sign_in_screen()
        st.stop()
    user = st.user
    try:
        verified = user.get("email_verified")
        who = Person.signed_in(
            user.get("email"),
            user.get("sub"),
            user.get("name"),
            None if verified is None else verified in (True, "true"),
        )
        admit(who, allowed)
        return who
    except AccessDeniedError as exc:
        st.error(str(exc))
        st.button("Sign out", on_click=st.logout)
        st.stop()


def sign_in_screen() -> None:
    """What someone not signed in sees: what the app is, and the button to sign in."""
    st.title("Chat with your documents")
    st.write("Sign in to reach your knowledge bases and those shared with you.")
    st.button("Sign in", type="primary", on_click=st.login, key="sign_in")


def account_box(person: Person) -> None:
    """The sidebar's line saying who is signed in, with the button to sign out."""
    if person.local:
        return
    with st.sidebar:
        st.caption(f"Signed in as {escape_markdown(person.label)}")
        st.button("Sign out", on_click=st.logout, key="sign_out")
