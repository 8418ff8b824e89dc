"""Search over HTTP: POST /v1/search returns what `python -m rag.search --kb NAME --json`
prints, and GET /v1/knowledge-bases lists the knowledge bases the person may use.

A search goes through the person's Workspace, so their shares apply; what the request
leaves out comes from the knowledge base's own search defaults, as with the command line.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, replace
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from rag.access import Person
from rag.api import deps
from rag.api.errors import ApiError
from rag.api.limits import rate_limit
from rag.api.services import ApiServices
from rag.config import Settings
from rag.errors import RagError
from rag.kb import KnowledgeBase
from rag.kb.model import MAX_K
from rag.results import Fusion, SearchMode, SearchOptions, VectorIndex

log = logging.getLogger(__name__)
router = APIRouter(tags=["search"], dependencies=[Depends(rate_limit)])
# The reranker scores this many chunks at most, whatever a request asks.
MAX_RERANK_CANDIDATES = 1000


class SearchFields(BaseModel):
    """How to search; a field left out (null): the knowledge base's default."""

    model_config = ConfigDict(extra="forbid")

    mode: SearchMode | None = None
    k: int | None = Field(None, ge=1, le=MAX_K, description="how many chunks")
    fusion: Fusion | None = Field(None, description="how hybrid mode merges the two lists")
    vector_weight: float | None = Field(None, ge=0, allow_inf_nan=False)
    bm25_weight: float | None = Field(None, ge=0, allow_inf_nan=False)
    documents: list[str] = Field(default_factory=list, description="only these doc ids")
    min_vector: float | None = Field(None, allow_inf_nan=False)
    min_bm25: float | None = Field(None, allow_inf_nan=False)
    rerank: bool | None = Field(None, description="reorder with the configured reranker")
    rerank_candidates: int | None = Field(None, ge=1, le=MAX_RERANK_CANDIDATES)
    vector_index: VectorIndex = VectorIndex.HNSW


class SearchRequest(SearchFields):
    """A query, and the knowledge base to search (default: the person's first)."""

    query: str = Field(min_length=1)
    kb: str | None = Field(None, description="a knowledge base's name (default: the first)")


def search_options(kb: KnowledgeBase, settings: Settings, fields: SearchFields) -> SearchOptions:
    """The request's choices over `kb`'s defaults, as `python -m rag.search --kb` makes
    them (rag.commands.common.search_options_from); ApiError 422 for two zero weights."""
    defaults = kb.search
    chosen = fields.model_dump(
        include={"mode", "k", "fusion", "vector_weight", "bm25_weight", "min_vector", "min_bm25"},
        exclude_none=True,
    )
    options = replace(
        defaults.options(),
        **chosen,
        doc_ids=tuple(fields.documents),
        vector_index=fields.vector_index,
        rerank=defaults.rerank if fields.rerank is None else fields.rerank,
        rerank_candidates=fields.rerank_candidates or settings.rerank_candidates,
    )
    if options.vector_weight == options.bm25_weight == 0:
        raise ApiError(422, "vector_weight and bm25_weight cannot both be 0")
    return options


@router.post("/v1/search", response_model=None)
def search(
    body: SearchRequest,
    services: Annotated[ApiServices, Depends(deps.services)],
    person: Annotated[Person, Depends(deps.person)],
) -> dict:
    """The chunks found for `query`, each with every score, its kind and its rank, and how
    long each step took: what `python -m rag.search --json` prints."""
    limit = services.settings.max_question_chars
    if len(body.query) > limit:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "query"),
                    "msg": f"at most {limit:,} characters (RAG_MAX_QUESTION_CHARS),"
                    f" got {len(body.query):,}",
                    "type": "string_too_long",
                }
            ]
        )
    workspace = services.workspace(person, body.kb)
    options = search_options(workspace.kb, workspace.settings, body)
    return workspace.search(body.query, options).as_dict()


class SearchDefaults(BaseModel):
    """How a knowledge base is searched and answered unless a request says otherwise."""

    mode: SearchMode
    fusion: Fusion
    vector_weight: float
    bm25_weight: float
    k: int
    rerank: bool
    chat_model: str | None = None
    answer_language: str | None = None


class KnowledgeBaseInfo(BaseModel):
    """One knowledge base as the person sees it listed."""

    name: str
    role: str = Field(description="owner, editor or reader")
    owner: str | None = Field(description="the owner's id; null: the administrators'")
    is_default: bool
    index: str = Field(description="the model, distance and chunking, fixed at creation")
    search: SearchDefaults
    documents: int | None = Field(description="null when it could not be opened")


class KnowledgeBaseList(BaseModel):
    """The knowledge bases the person may use, the default one first."""

    knowledge_bases: list[KnowledgeBaseInfo]


@router.get("/v1/knowledge-bases")
def knowledge_bases(
    services: Annotated[ApiServices, Depends(deps.services)],
    person: Annotated[Person, Depends(deps.person)],
) -> KnowledgeBaseList:
    """The knowledge bases the person may use: the default one first, then their own, then
    those shared with them, each with their role in it and how many documents it holds."""
    listed = []
    for kb in services.visible(person):
        role = services.gate.role(kb, person)
        listed.append(
            KnowledgeBaseInfo(
                name=kb.name,
                role=role.label if role is not None else "none",
                owner=kb.owner,
                is_default=services.registry.is_default(kb),
                index=kb.index.describe(),
                search=SearchDefaults(**asdict(kb.search)),
                documents=_documents(services, person, kb),
            )
        )
    return KnowledgeBaseList(knowledge_bases=listed)


def _documents(services: ApiServices, person: Person, kb: KnowledgeBase) -> int | None:
    """How many documents `kb` holds; None when its engine cannot be opened (its model
    cannot be loaded, say), so that one such knowledge base does not hide the others."""
    try:
        return len(services.workspace(person, kb.name).documents())
    except RagError as exc:
        log.warning("Could not count the documents of %r: %s", kb.name, exc)
        return None
