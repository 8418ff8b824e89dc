"""`python -m rag.api [--host 127.0.0.1] [--port 8000]`: serve the HTTP service alone, over
the data folder the settings name (RAG_DATA_DIR), as the app would open it.

`python -m rag.api --mcp`: serve the same folder's knowledge bases as Model Context
Protocol tools over stdin and stdout instead, for a client that starts this process; it
acts as the person of the API key in RAG_API_KEY, or as the local user where no key is
needed.

The embedded store lets one process use a data folder at a time, so the service takes it
when it starts: a folder the app (or another command) holds already stops it at once with
a one-line message, as a bad setting does. To serve the app and the service together, run
`make serve`.
"""

from __future__ import annotations

import argparse
import os
import signal

import uvicorn

from rag.access import LOCAL_USER, AccessDeniedError, Person
from rag.api.app import create_app
from rag.api.mcp_server import Caller, build_server
from rag.api.services import ApiServices
from rag.commands.common import EXIT_OK, run
from rag.config import load_settings
from rag.errors import SettingsError

# The API key the stdio server acts with.
KEY_VARIABLE = "RAG_API_KEY"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m rag.api`."""
    parser = argparse.ArgumentParser(prog="python -m rag.api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    parser.add_argument(
        "--mcp",
        action="store_true",
        help=f"serve MCP tools over stdio instead of HTTP, as the person of ${KEY_VARIABLE}",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code once the server stops: 0 for SIGTERM, 130 for
    Ctrl+C."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 1 <= args.port <= 65535:
        parser.error("--port must be between 1 and 65535")
    if args.mcp:
        return run(_serve_mcp)
    return run(lambda: _serve(args.host, args.port))


class _TerminatedError(Exception):
    """SIGTERM, once the server has stopped for it."""


def _stopped(signum: int, frame: object) -> None:
    raise _TerminatedError


def _serve(host: str, port: int) -> int:
    services = ApiServices(load_settings())
    # uvicorn stops gracefully on SIGTERM, then sends it again to the handler it found: this
    # one, so that the services are closed and the exit code is 0 rather than a kill.
    previous = signal.signal(signal.SIGTERM, _stopped)
    try:
        # The default knowledge base's engine opens now, not at the first request: it takes
        # the data folder (DataFolderInUseError if another process has it) and loads the
        # embedding model, so the first request is answered as fast as the next.
        services.workspace(LOCAL_USER)
        uvicorn.run(create_app(services), host=host, port=port, log_level="info")
    except _TerminatedError:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        services.close()
    return EXIT_OK


def _serve_mcp() -> int:
    services = ApiServices(load_settings())
    try:
        caller = Caller(services, _person_of_key(services))
        services.workspace(LOCAL_USER)  # take the data folder now, as _serve does
        build_server(lambda ctx: caller).run("stdio")
    finally:
        services.close()
    return EXIT_OK


def _person_of_key(services: ApiServices) -> Person:
    """The person of the key in RAG_API_KEY; without one, the local user while no key is
    needed. A missing or bad key is a SettingsError: exit code 2, and the message."""
    secret = os.environ.get(KEY_VARIABLE, "").strip()
    if secret:
        try:
            return services.keys.person_for(secret)
        except AccessDeniedError as exc:
            raise SettingsError(f"{KEY_VARIABLE}: {exc}") from None
    if services.keys_required():
        raise SettingsError(
            f"API keys are required here: set {KEY_VARIABLE} to one (create it in the app,"
            " under API keys)"
        )
    return LOCAL_USER


if __name__ == "__main__":
    raise SystemExit(main())
