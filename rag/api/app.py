"""The HTTP service's application: its routes, the person behind each request, limits and
errors, over one set of engines (ApiServices)."""

from __future__ import annotations

from fastapi import FastAPI

from rag.api import (
    answer_routes,
    document_routes,
    openai_routes,
    search_routes,
    upload_routes,
)
from rag.api.errors import install_error_handlers
from rag.api.limits import install_limits
from rag.api.mcp_server import McpEndpoint
from rag.api.services import ApiServices

TITLE = "Chat with your documents"


def create_app(services: ApiServices | None) -> FastAPI:
    """The FastAPI application over `services` (None: set `app.state.services` before the
    first request, as serve.py does when its process starts); its OpenAPI schema is at
    /openapi.json, its documentation at /docs, and its tools for language-model clients
    at /mcp (the Model Context Protocol, streamable HTTP)."""
    mcp = McpEndpoint()
    # The MCP transport runs while the application does (where a host runs only its own
    # lifespan, as serve.py's st.App does, the endpoint starts it at its first request).
    app = FastAPI(title=TITLE, version="1", docs_url="/docs", redoc_url=None, lifespan=mcp.lifespan)
    app.state.services = services
    install_error_handlers(app)
    # The largest body, requests per minute and answers at once (app.state.answer_slots),
    # from the services' settings at the first request (serve.py gives them later).
    install_limits(app)
    for routes in (search_routes, document_routes, upload_routes, answer_routes, openai_routes):
        app.include_router(routes.router)
    app.add_route("/mcp", mcp, include_in_schema=False)
    return app
