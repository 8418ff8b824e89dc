"""A knowledge base's documents over HTTP: the list, deleting one (editors; written to the
audit log) and downloading the original file.

The knowledge base is named in the path ({kb}, URL-encoded; a name may hold "/"), a
document by its full doc id. Every call goes through the person's Workspace.
"""

from __future__ import annotations

import mimetypes
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse
from pydantic import BaseModel

from rag.access import Action, Person
from rag.api import deps
from rag.api.limits import rate_limit
from rag.api.services import ApiServices
from rag.documents import DocumentRecord
from rag.errors import DocumentNotFoundError
from rag.stores.library import Library

router = APIRouter(tags=["documents"], dependencies=[Depends(rate_limit)])
DOCUMENTS = "/v1/knowledge-bases/{kb:path}/documents"


class DocumentInfo(BaseModel):
    """One document that can be searched."""

    name: str
    doc_id: str
    pages: int
    chunks: int
    size_bytes: int
    added_at: float
    unit: str

    @classmethod
    def of(cls, record: DocumentRecord) -> DocumentInfo:
        """The listed fields of a catalog record."""
        return cls.model_validate(record, from_attributes=True)


class DocumentList(BaseModel):
    """A knowledge base's documents, newest first."""

    knowledge_base: str
    documents: list[DocumentInfo]


class Deleted(BaseModel):
    """The document a request deleted."""

    knowledge_base: str
    deleted: str
    name: str


@router.get(DOCUMENTS)
def documents(
    kb: str,
    services: Annotated[ApiServices, Depends(deps.services)],
    person: Annotated[Person, Depends(deps.person)],
) -> DocumentList:
    """The documents that can be searched, newest first: pages (slides, sheets... as
    `unit` says), chunks, size in bytes and when each was added (seconds since the epoch)."""
    workspace = services.workspace(person, kb)
    listed = [DocumentInfo.of(record) for record in workspace.documents()]
    return DocumentList(knowledge_base=workspace.kb.name, documents=listed)


@router.delete(DOCUMENTS + "/{doc_id}")
def delete_document(
    kb: str,
    doc_id: str,
    services: Annotated[ApiServices, Depends(deps.services)],
    person: Annotated[Person, Depends(deps.person)],
) -> Deleted:
    """Delete a document, its chunks and its file (editors and the owner); the knowledge
    base's audit log records who did."""
    workspace = services.workspace(person, kb)
    record = _document(workspace.library(Action.DELETE), doc_id)
    workspace.delete(record.doc_id)
    return Deleted(knowledge_base=workspace.kb.name, deleted=record.doc_id, name=record.name)


@router.get(
    DOCUMENTS + "/{doc_id}/file",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download(
    kb: str,
    doc_id: str,
    services: Annotated[ApiServices, Depends(deps.services)],
    person: Annotated[Person, Depends(deps.person)],
) -> FileResponse:
    """The original file, as it was uploaded, under its own name."""
    library = services.workspace(person, kb).library(Action.DOWNLOAD)
    record = _document(library, doc_id)
    path = library.original_path(record.doc_id)
    if not path.is_file():
        raise DocumentNotFoundError(f"The original file of {record.name} is no longer kept")
    return FileResponse(
        path,
        media_type=mimetypes.guess_type(record.name)[0] or "application/octet-stream",
        # nosniff: a browser must not run an uploaded HTML file as a page of this service.
        headers={
            "Content-Disposition": attachment(record.name),
            "X-Content-Type-Options": "nosniff",
        },
    )


def attachment(name: str) -> str:
    """A Content-Disposition header that downloads the file under `name`: control
    characters and path separators replaced, quotes kept out of the plain filename, and
    the name in full (UTF-8, percent-encoded) for clients that read filename*."""
    kept = "".join(c if c.isprintable() and c not in "/\\" else "_" for c in name).strip()
    kept = kept or "document"
    plain = "".join(c if c.isascii() and c not in '"%' else "_" for c in kept)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(kept, safe='')}"


def _document(library: Library, doc_id: str) -> DocumentRecord:
    """The document of exactly this id (not a prefix, not a name)."""
    found = next((d for d in library.documents() if d.doc_id == doc_id), None)
    if found is None:
        raise DocumentNotFoundError(f"No document {doc_id!r} in this knowledge base")
    return found
