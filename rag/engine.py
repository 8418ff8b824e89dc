"""The composition root: the engine built from settings, in one place.

Pages, command lines, benchmarks and test fixtures all open the engine here, so the stores,
the embedding model and the chat model are wired the same way everywhere. Ingestion (the
`ingest` package) builds on the engine's library.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rag.access import Gate, Person, Workspace
from rag.chat.flow import ChatEngine, ModelFactory, chat_over_library
from rag.config import Settings
from rag.kb import KnowledgeBase, KnowledgeBases, embedder_fits, settings_for
from rag.providers.chat_model import ChatModel, GenerationOptions, make_chat_model
from rag.providers.embeddings import Embedder
from rag.providers.rerankers import Reranker, make_reranker
from rag.search.retriever import Retriever
from rag.stores.library import Library


@dataclass(frozen=True)
class Engine:
    """The library, the retriever over it and the chat flow; thread-safe, shared by sessions."""

    library: Library
    retriever: Retriever
    chat: ChatEngine
    # The knowledge base it was opened on (its search defaults), or None for a collection.
    knowledge_base: KnowledgeBase | None = None

    @property
    def settings(self) -> Settings:
        """The settings the engine was opened with."""
        return self.library.settings

    def workspace(self, kb: KnowledgeBase, person: Person, gate: Gate) -> Workspace:
        """This engine as `person` may use it, `kb` being the knowledge base it serves;
        AccessDeniedError if they may not use it at all."""
        return Workspace(kb, person, gate, (self.library, self.retriever, self.chat))

    def close(self) -> None:
        """Release the data folder (the single-writer lock), the stores and the reranker's
        connections."""
        if self.retriever.reranker is not None:
            self.retriever.reranker.close()
        self.library.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *_) -> None:
        self.close()


def open_engine(
    settings: Settings,
    embedder: Embedder | None = None,
    model_factory: ModelFactory = make_chat_model,
) -> Engine:
    """Open the library named by `settings` and wire the retriever and chat flow to it.

    `embedder` reuses a loaded model (the app keeps one across data folders); by default the
    settings' model is loaded. `model_factory` builds the chat model for each question, and
    for each search the `llm` reranker grades.
    """
    library = Library.open(settings, embedder)
    retriever = Retriever(library, reranker_from(settings, model_factory))
    return Engine(
        library, retriever, chat_over_library(library, retriever, settings, model_factory)
    )


def open_knowledge_base(
    settings: Settings,
    name: str,
    embedder: Embedder | None = None,
    model_factory: ModelFactory = make_chat_model,
) -> Engine:
    """Open the engine of the knowledge base called `name` (case ignored) in the settings'
    data folder: its collection, with its own model, distance, chunking and OCR.

    KnowledgeBaseNotFoundError, listing the knowledge bases, if there is none of that name.
    `embedder` is reused only when it is the knowledge base's model.
    """
    with KnowledgeBases.open(settings) as registry:
        kb = registry.get(name)
    kb_settings = settings_for(settings, kb)
    if embedder is not None and not embedder_fits(embedder, kb_settings):
        embedder = None
    engine = open_engine(kb_settings, embedder, model_factory)
    return replace(engine, knowledge_base=kb)


def reranker_from(
    settings: Settings, model_factory: ModelFactory = make_chat_model
) -> Reranker | None:
    """The reranker the settings name (None when RAG_RERANK_PROVIDER is unset).

    The `llm` reranker asks the chat model (RAG_RERANK_MODEL if set, else RAG_CHAT_MODEL)
    at temperature 0, so the same passages get the same grades as far as the model allows.
    """
    grading = GenerationOptions(model=settings.rerank_model, temperature=0.0)

    def chat_model() -> ChatModel:
        return model_factory(settings, grading)

    return make_reranker(settings, chat_model)
