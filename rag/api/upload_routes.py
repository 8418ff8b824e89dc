"""Files sent over HTTP: into a knowledge base's ingestion queue, with a job to follow.

Only a process that runs the ingestion queue can take them: the app's own (`make serve`
runs the app and this service in one process). The service alone (`python -m rag.api`)
answers 503 with what to do instead.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile

from rag.access import Person
from rag.api.deps import person, services
from rag.api.errors import ApiError
from rag.api.limits import rate_limit
from rag.api.services import ApiServices, UploadQueue

router = APIRouter(tags=["documents"], dependencies=[Depends(rate_limit)])


def _queue(api: ApiServices, who: Person, kb: str) -> UploadQueue:
    queue = api.uploads(api.workspace(who, kb))
    if queue is None:
        raise ApiError(
            503,
            "This process runs no ingestion queue: send files to the app's service (make"
            " serve runs the app and the API together), or add them with python -m ingest add",
            "unavailable_error",
        )
    return queue


@router.post("/v1/knowledge-bases/{kb:path}/documents", status_code=202)
def upload(
    kb: str,
    request: Request,
    files: Annotated[list[UploadFile], File(description="one or more files")],
    who: Annotated[Person, Depends(person)],
    password: Annotated[str | None, Form(description="for password-protected PDFs")] = None,
) -> dict:
    """Queue files for ingestion (editors); each gets a job to poll. The same file queued
    twice keeps its job, and a file of a name already in the library replaces it."""
    queue = _queue(services(request), who, kb)
    limit = services(request).settings.max_upload_mb * 1024 * 1024
    jobs = []
    for file in files:
        data = file.file.read(limit + 1)
        if len(data) > limit:
            raise ApiError(413, f"{file.filename} is over RAG_MAX_UPLOAD_MB", "too_large_error")
        job_id = queue.add(file.filename or "upload", data, password or None)
        jobs.append({"job_id": job_id, "name": file.filename})
    return {"jobs": jobs}


@router.get("/v1/knowledge-bases/{kb:path}/jobs/{job_id}")
def job(
    kb: str,
    job_id: int,
    request: Request,
    who: Annotated[Person, Depends(person)],
) -> dict:
    """A queued file's state ("queued", "running", "done", "failed", "cancelled"), its
    progress, and once finished, its outcome (pages, chunks, or why it failed)."""
    status = _queue(services(request), who, kb).status(job_id)
    if status is None:
        raise ApiError(404, f"No job {job_id} in {kb!r}", "not_found_error")
    return status
