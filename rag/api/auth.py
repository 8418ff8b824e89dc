"""Who a request comes from: the person its API key acts as (`Authorization: Bearer
rag_...`), or, while no key and no person's knowledge base exists, the local user, and
then only for requests from this machine."""

from __future__ import annotations

from fastapi import Request

from rag.access import LOCAL_USER, AccessDeniedError, Person
from rag.access.keys import PREFIX
from rag.api.errors import ApiError
from rag.api.services import ApiServices

LOOPBACK = ("127.0.0.1", "::1")
LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]")


def person_of(request: Request, services: ApiServices) -> Person:
    """The person a request acts as; ApiError 401 without a valid key where one is needed."""
    secret = _bearer(request)
    if secret is not None and not secret.startswith(PREFIX) and not services.keys_required():
        # OpenAI clients always send a key: with none needed, theirs ("unused") is no key.
        secret = None
    if secret is not None:
        try:
            return services.keys.person_for(secret)
        except AccessDeniedError as exc:
            raise ApiError(401, str(exc), "authentication_error") from None
    if services.keys_required():
        raise ApiError(
            401,
            "Send an API key: Authorization: Bearer rag_... (create one in the app, under API"
            " keys)",
            "authentication_error",
        )
    client = request.client.host if request.client else None
    if client not in LOOPBACK or _host_name(request) not in LOCAL_NAMES:
        # The Host check keeps a web page from reaching the service through a name it
        # points at 127.0.0.1 (DNS rebinding): the browser would send that name.
        raise ApiError(
            401,
            "Without API keys the service answers only this machine (127.0.0.1, by that"
            " address or as localhost): create a key in the app to reach it otherwise",
            "authentication_error",
        )
    return LOCAL_USER


def _host_name(request: Request) -> str:
    host = request.headers.get("host", "")
    if host.startswith("["):  # [::1]:8000
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        return None
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401, "The Authorization header must be: Bearer <API key>", "authentication_error"
        )
    return token.strip()
