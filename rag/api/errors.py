"""Errors as JSON with the status that fits, and never a stack trace.

Every body is `{"error": {"message": ..., "type": ...}}`, the shape OpenAI clients read, so
a refused request reads the same to `curl` and to the `openai` package.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.access import AccessDeniedError, StorageLimitError
from rag.errors import (
    DataFolderReadOnlyError,
    DocumentNotFoundError,
    LLMError,
    QuestionLimitError,
    QuestionTooLongError,
    RagError,
    SettingsError,
    StoreError,
)
from rag.kb import KnowledgeBaseNotFoundError

log = logging.getLogger(__name__)


class ApiError(RagError):
    """A refusal of the HTTP layer itself (no key, too many requests), with its status."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.kind = status, kind


# The first class that matches gives the status; order matters (subclasses first).
STATUSES: tuple[tuple[type[RagError], int, str], ...] = (
    (AccessDeniedError, 403, "permission_error"),
    (KnowledgeBaseNotFoundError, 404, "not_found_error"),
    (DocumentNotFoundError, 404, "not_found_error"),
    (QuestionLimitError, 429, "rate_limit_error"),
    (StorageLimitError, 413, "storage_limit_error"),
    (QuestionTooLongError, 413, "invalid_request_error"),
    (DataFolderReadOnlyError, 409, "read_only_error"),
    (SettingsError, 400, "invalid_request_error"),
    (LLMError, 502, "model_error"),
    (StoreError, 503, "store_error"),
)


def error_body(message: str, kind: str) -> dict:
    """The JSON of an error."""
    return {"error": {"message": message, "type": kind}}


def status_of(exc: RagError) -> tuple[int, str]:
    """The HTTP status and error type of one of our errors."""
    if isinstance(exc, ApiError):
        return exc.status, exc.kind
    return next(((s, k) for cls, s, k in STATUSES if isinstance(exc, cls)), (400, "error"))


def install_error_handlers(app: FastAPI) -> None:
    """Our errors, bad requests and anything unexpected, each as JSON."""

    @app.exception_handler(RagError)
    async def _ours(request: Request, exc: RagError) -> JSONResponse:
        status, kind = status_of(exc)
        return JSONResponse(error_body(str(exc), kind), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        return JSONResponse(error_body(problems, "invalid_request_error"), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # An unknown path (404) or method (405): the same JSON shape as every error.
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return JSONResponse(
            error_body(str(exc.detail), kind), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("Request %s %s failed", request.method, request.url.path)
        return JSONResponse(error_body("Internal error", "server_error"), status_code=500)
