"""The library as a LangChain retriever, so it drops into LangChain chains."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from rag.results import ScoredChunk, SearchOptions


class LibraryRetriever(BaseRetriever):
    """Returns Documents whose metadata carry source, pages and every score with its rank."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    # Anything with search(query, options) -> SearchResult: a Retriever, or a person's
    # Workspace, which checks that they may search.
    retriever: Any
    options: SearchOptions = SearchOptions()

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        result = self.retriever.search(query, self.options)
        return [_to_document(chunk) for chunk in result.chunks]


def _to_document(chunk: ScoredChunk) -> Document:
    metadata = {k: v for k, v in chunk.as_dict().items() if k not in ("text", "scores")}
    for name, score in chunk.scores().items():
        metadata[f"{name}_score"] = score.value if score else None
        metadata[f"{name}_rank"] = score.rank if score else None
    return Document(page_content=chunk.text, metadata=metadata, id=chunk.chunk_id)
