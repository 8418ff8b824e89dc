"""A real OpenID Connect provider on 127.0.0.1, and signing people in to the app with it.

The provider (oidc-provider-mock) accepts any client id and secret and asks, on its
authorization page, only for a subject ("sub"); the claims a person carries (email,
name) are stored on the provider for that subject before the form is sent.
"""

from __future__ import annotations

import json
import secrets
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit

from tests.support.helpers import free_port

# Requests to 127.0.0.1 must never go through a proxy named in the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@contextmanager
def running_provider() -> Iterator[str]:
    """Run the provider on a free port of 127.0.0.1; yields its issuer URL, stops after.

    It serves from a daemon thread of the test process, so it ends with that process.
    """
    from oidc_provider_mock import app
    from werkzeug.serving import make_server

    # require_nonce: the app's sign-in must send a nonce, as real providers expect.
    server = make_server("127.0.0.1", free_port(), app(require_nonce=True), threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, args=(0.1,), name="oidc-provider", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def auth_secrets(folder: Path, provider_url: str, app_port: int | None = None) -> Path:
    """Write a secrets.toml with the `[auth]` section for the app at
    http://127.0.0.1:{app_port}; returns its path.

    Without `app_port` the redirect URI keeps Streamlit's `{port}` placeholder, which
    the app fills with its own --server.port. Pass the file to the app with the
    environment variable STREAMLIT_SECRETS_FILES (or --secrets.files).
    """
    port = "{port}" if app_port is None else str(app_port)
    auth = {
        # The page must be opened at this same origin: the app accepts the identity
        # cookie only from a page whose origin matches the redirect URI's.
        "redirect_uri": f"http://127.0.0.1:{port}/oauth2callback",
        "cookie_secret": secrets.token_hex(32),
        "client_id": "rag-app",
        "client_secret": secrets.token_hex(16),
        "server_metadata_url": f"{provider_url}/.well-known/openid-configuration",
    }
    # A JSON string is a valid TOML basic string for these ASCII values.
    lines = ["[auth]", *(f"{key} = {json.dumps(value)}" for key, value in auth.items())]
    path = folder / "secrets.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def set_person(provider_url: str, email: str, name: str) -> None:
    """Store on the provider the claims of the person whose subject is `email`."""
    request = urllib.request.Request(
        f"{provider_url}/users/{quote(email, safe='')}",
        data=json.dumps({"email": email, "email_verified": True, "name": name}).encode(),
        headers={"Content-Type": "application/json"},
        method="PUT",
    )
    with _DIRECT.open(request, timeout=10) as response:
        assert response.status == 204, response.status


def sign_in(tab, email: str, name: str) -> None:
    """Complete the provider's authorization page as the person `email` named `name`,
    and wait until the browser is back in the app.

    `tab` must just have been sent towards the provider (the app's sign-in button).
    """
    tab.wait_for_url("**/oauth2/authorize?**")
    provider_url = _origin(tab.url)
    set_person(provider_url, email, name)
    tab.locator("input[name=sub]").fill(email)
    tab.get_by_role("button", name="Authorize", exact=True).click()
    _wait_back_in_app(tab, provider_url)


def sign_out(tab) -> None:
    """Confirm the provider's end-session page that the app's sign-out leads to, and
    wait until the browser is back in the app."""
    tab.wait_for_url("**/oauth2/end_session?**")
    provider_url = _origin(tab.url)
    tab.get_by_role("button", name="End session", exact=True).click()
    _wait_back_in_app(tab, provider_url)


def _wait_back_in_app(tab, provider_url: str) -> None:
    # The provider redirects to /oauth2callback, which redirects to the app's page.
    tab.wait_for_url(lambda url: not url.startswith(provider_url) and "/oauth2callback" not in url)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
