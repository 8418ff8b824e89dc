"""What every page shares: settings, who is signed in, the knowledge base chosen in the
sidebar, and its engine, opened once per process and used through the person's workspace.

`st.cache_resource` holds one `KbEngines` per data folder, shared by all sessions: the
engine of each knowledge base (the library and retriever are thread-safe) with its
ingestion queue, whose worker thread ingests uploads in the background while every session
searches and chats, and the thread that opens knowledge bases with files queued by the
command line (see pages.kb_engines). The embedding model is cached on its own, keyed by
model, so knowledge bases built with the same model share it, and a change of data folder
(as in tests) reopens the stores without reloading it.

Pages reach a knowledge base only through `workspace()`, `uploads()` and `viewer()`, which
check on every call what the person may do (rag.access, ingest.access).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from ingest.access import Uploads, Viewer
from ingest.pipeline import Ingestor
from ingest.queue import IngestQueue, JobStore
from ingest.viewer import PageViewer
from pages import signin
from pages.kb_engines import KbEngines, OpenedKb, hosted_engines
from rag.access import Action, Gate, Person, Workspace
from rag.access.keys import ApiKeys
from rag.config import Settings, load_settings
from rag.engine import open_engine
from rag.errors import RagError
from rag.kb import KnowledgeBase, KnowledgeBases
from rag.providers.embeddings import Embedder, make_embedder

log = logging.getLogger(__name__)

# The session's choice of knowledge base, kept by the sidebar's picker (pages.widgets): a
# collection, which a rename leaves as it is.
CHOICE_KEY = "kb"


def settings() -> Settings:
    """The settings; a bad value stops the page with a message that names it."""
    with guarded():
        return load_settings()


def registry() -> KnowledgeBases:
    """The list of knowledge bases of the data folder (shared, thread-safe)."""
    return _engines().registry


def person() -> Person:
    """Who is using the app: the person signed in, or the local user without sign-in
    (unless sign-in is required: then the page says so and stops)."""
    current = settings()
    who = signin.current_person(current.allowed_people)
    if who.local and _sign_in_required():
        st.error(
            "Sign-in is required here (RAG_REQUIRE_SIGN_IN, on by itself once people own"
            " knowledge bases in the data folder), and none is configured: add an [auth]"
            " section to .streamlit/secrets.toml (see the README). To open the folder anyway"
            " as the local user, who owns every knowledge base, set RAG_REQUIRE_SIGN_IN=off."
        )
        st.stop()
    return who


def api_keys() -> ApiKeys:
    """The data folder's API keys (each person sees and changes only theirs)."""
    return ApiKeys(registry().database)


def gate() -> Gate:
    """The rules of who may do what in the data folder's knowledge bases."""
    return _engines().gate


def knowledge_bases() -> list[KnowledgeBase]:
    """The knowledge bases the person may use: the default one first where they may, then
    their own, then those shared with them. A person signed in who owns none gets a
    private one of their own."""
    who = person()
    with guarded():
        visible = [kb for kb, _ in gate().visible(who)]
        if who.local or registry().read_only or any(kb.owner == who.id for kb in visible):
            return visible
        made = _first_kb(who)
        return [kb for kb, _ in gate().visible(who)] if made else visible


def current_kb(bases: list[KnowledgeBase] | None = None) -> KnowledgeBase:
    """The knowledge base this session works on, of `bases` (by default, all of them, as
    `knowledge_bases` lists them): the one chosen in the sidebar, or the default one (also
    when the chosen one has been deleted)."""
    bases = bases or knowledge_bases()
    if not bases:
        st.info("No knowledge base is shared with you yet.")
        st.stop()
    chosen = st.session_state.get(CHOICE_KEY)
    return next((kb for kb in bases if kb.collection == chosen), bases[0])


def workspace(kb: KnowledgeBase | None = None) -> Workspace:
    """The person's use of `kb` (by default the chosen knowledge base): its search, answers,
    documents and library, each call checked."""
    kb, who = kb or current_kb(), person()
    with guarded():
        gate().require(kb, who, Action.SEARCH)  # before its engine is opened for them
        return _opened(kb).engine.workspace(kb, who, gate())


def uploads() -> Uploads | None:
    """The chosen knowledge base's ingestion queue for the person; None when the data folder
    is read-only."""
    opened = _opened()
    return None if opened.queue is None else Uploads(workspace(), opened.queue)


def viewer(kb: KnowledgeBase | None = None) -> Viewer:
    """The viewer of `kb`'s documents (by default the chosen one's), for the person."""
    kb = kb or current_kb()
    return Viewer(workspace(kb), _opened(kb).viewer)


def delete_knowledge_base(kb: KnowledgeBase) -> None:
    """Close the knowledge base's engine and stop its queue's worker, then delete it with
    its documents, files and queue, if the person may; our own errors are raised for the
    page to show."""
    engines, who = _engines(), person()
    engines.gate.require(kb, who, Action.DELETE_KB)
    with engines.closed(kb.collection):
        engines.gate.delete(kb, who)


@contextmanager
def guarded(stop: bool = True) -> Iterator[None]:
    """Run the block; our own error is shown as its message (never a traceback) and logged.

    Then this run of the page stops, or with `stop=False` goes on after the block (the rest
    of the block is skipped).
    """
    try:
        yield
    except RagError as exc:
        log.warning("%s: %s", "stopping the page" if stop else "shown to the user", exc)
        st.error(str(exc))
        if stop:
            st.stop()


def clear_engine() -> None:
    """Close every engine (tests switch data folders); the models stay loaded."""
    _open_engines.clear()


def _sign_in_required() -> bool:
    with guarded():
        return gate().sign_in_required()


def _first_kb(who: Person) -> list[KnowledgeBase]:
    """A first, private knowledge base for `who`; a failure is logged, not shown, so that
    they still reach what is shared with them."""
    try:
        made = gate().create_first(who)
    except RagError:
        log.exception("Could not make a knowledge base for %s", who.id)
        return []
    return [] if made is None else [made]


def _opened(kb: KnowledgeBase | None = None) -> OpenedKb:
    engines, kb = _engines(), kb or current_kb()
    found = engines.opened(kb)
    if found is not None:
        return found
    with guarded(), st.spinner("Opening the document library…"):
        return engines.get(kb)


def _engines() -> KbEngines:
    current = settings()
    # Run with the HTTP service (serve.py), the process's engines are the service's too.
    hosted = hosted_engines(current)
    if hosted is not None:
        return hosted
    with guarded():
        return _open_engines(repr(current), current)


def _close_engines(engines: KbEngines) -> None:
    engines.close()


# One set of engines per process: settings that change (an edited .env) replace it, and
# its queues' workers stop, so two workers never write one data folder. No spinner: the
# watcher thread, which has no page to show one on, opens engines too.
@st.cache_resource(show_spinner=False, max_entries=1, on_release=_close_engines)
def _open_engines(key: str, _settings: Settings) -> KbEngines:
    engines = KbEngines(_settings, open_one)
    if not engines.registry.read_only:
        # Only the process that can write the data folder runs queues.
        engines.watch()
    return engines


def open_one(settings: Settings) -> OpenedKb:
    """One knowledge base's engine, with its ingestor, queue (where the process may write
    the data folder) and viewer; the embedding model is shared by all that use it."""
    engine = open_engine(settings, _embedder(_embedder_key(settings), settings))
    try:
        ingestor = Ingestor(engine.library)
        # The process holds the data folder: its worker runs the queue, resuming at once
        # what a stopped process left unfinished.
        queue = None if engine.library.read_only else IngestQueue(ingestor, JobStore(settings))
    except BaseException:
        engine.close()
        raise
    return OpenedKb(engine, ingestor, queue, PageViewer(engine.library))


@st.cache_resource(show_spinner=False)
def _embedder(key: str, _settings: Settings) -> Embedder:
    return make_embedder(_settings)


def _embedder_key(settings: Settings) -> str:
    return repr(
        (
            settings.embed_provider,
            settings.embed_model,
            settings.embed_model_path,
            settings.embed_dimensions,
            settings.embed_precision,
            settings.embed_query_prefix,
            settings.embed_passage_prefix,
            settings.openai_base_url,
        )
    )
