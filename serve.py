"""The app and its HTTP service in one process: `streamlit run serve.py` (or `make serve`).

The embedded store lets one process use a data folder at a time, so the service runs inside
the app's process: the pages and the service share the engines of the knowledge bases, and
files sent over HTTP go into the same ingestion queue the Documents page shows. The pages
are at / as with `streamlit run app.py`; the service is mounted at /api (its OpenAI base
URL is http://HOST:PORT/api/v1, its documentation /api/docs). The engines open when the
process starts, not at the first page view, so the service answers at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import streamlit as st
from starlette.routing import Mount

from ingest.access import Uploads
from pages.common import open_one
from pages.kb_engines import KbEngines, hosting
from rag.access import Workspace
from rag.api.app import create_app
from rag.api.services import ApiServices
from rag.config import load_settings

api = create_app(None)  # its services are made when the process starts (lifespan)


@contextlib.asynccontextmanager
async def lifespan(_app: object) -> AsyncIterator[None]:
    """Open the engines (and start their queues) for the pages and the service, and close
    them when the process stops."""
    settings = load_settings()
    engines = KbEngines(settings, open_one)
    if not engines.registry.read_only:
        engines.watch()  # as the pages do: queued files of every knowledge base are ingested

    def uploads(workspace: Workspace) -> Uploads | None:
        queue = engines.get(workspace.kb).queue
        return None if queue is None else Uploads(workspace, queue)

    api.state.services = ApiServices(
        settings,
        registry=engines.registry,
        opener=lambda kb: engines.get(kb).engine,
        uploads=uploads,
    )
    try:
        # The service's own lifespan (its MCP transport) runs inside the process's.
        async with api.router.lifespan_context(api):
            with hosting(engines):
                yield
    finally:
        api.state.services.close()
        engines.close()


app = st.App("app.py", routes=[Mount("/api", app=api)], lifespan=lifespan)
