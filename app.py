"""The web app's entry point: `streamlit run app.py` (or `make run`)."""

import streamlit as st

st.set_page_config(page_title="Chat with your documents", page_icon="📄", layout="wide")
navigation = st.navigation(
    [
        st.Page("pages/chat.py", title="Chat", icon="💬", default=True),
        st.Page("pages/documents.py", title="Documents", icon="📚"),
        st.Page("pages/search.py", title="Search", icon="🔎"),
        st.Page("pages/evaluation.py", title="Evaluation", icon="📏"),
        st.Page("pages/embedding_lab.py", title="Embedding lab", icon="🧭"),
        st.Page("pages/api_keys.py", title="API keys", icon="🔑"),
    ]
)
navigation.run()
