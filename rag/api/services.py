"""What the HTTP service works on: the data folder's knowledge bases, the rules of who may
use them, the API keys, and each knowledge base's engine, opened once and shared by every
request (the engines are thread-safe)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from rag.access import Action, Gate, Person, Workspace
from rag.access.keys import ApiKeys
from rag.chat.flow import ModelFactory
from rag.config import Settings
from rag.engine import Engine, open_engine
from rag.kb import KnowledgeBase, KnowledgeBases, embedder_fits
from rag.providers.chat_model import make_chat_model
from rag.providers.embeddings import Embedder


class UploadQueue(Protocol):
    """A knowledge base's ingestion queue as one person may use it (ingest.access.Uploads)."""

    def add(self, name: str, data: bytes, password: str | None = None) -> int:
        """Queue one file; its job id."""
        ...

    def status(self, job_id: int) -> dict | None:
        """A job's state and progress as JSON, or None if there is no such job."""
        ...


# Opens a knowledge base's engine (the app's process passes its own, shared with its pages).
Opener = Callable[[KnowledgeBase], Engine]
# The ingestion queue of a workspace's knowledge base, where files sent over HTTP go; None
# where this process runs no queue.
UploadsOf = Callable[[Workspace], UploadQueue | None]


class ApiServices:
    """The engines of one data folder's knowledge bases, for the service's requests.

    Alone (`python -m rag.api`) it opens the registry and each engine itself; inside the
    app's process (serve.py) it is given the app's registry, `opener` and `uploads`, so that
    the pages and the API share one set of engines and queues.
    """

    def __init__(
        self,
        settings: Settings,
        model_factory: ModelFactory = make_chat_model,
        *,
        registry: KnowledgeBases | None = None,
        opener: Opener | None = None,
        uploads: UploadsOf | None = None,
    ) -> None:
        self.settings = settings
        self._owns_registry = registry is None
        self.registry = registry or KnowledgeBases.open(settings)
        self.gate = Gate.of(self.registry)
        self.keys = ApiKeys(self.registry.database)
        self._model_factory = model_factory
        self._opener, self._uploads = opener, uploads
        self._lock = threading.Lock()
        self._engines: dict[str, Engine] = {}
        self._embedders: list[Embedder] = []

    def keys_required(self) -> bool:
        """Whether every request must carry an API key: once any key is active, or once
        people own knowledge bases (or RAG_REQUIRE_SIGN_IN=on); otherwise requests from
        127.0.0.1 act as the local user."""
        return self.keys.any_active() or self.gate.sign_in_required()

    def visible(self, person: Person) -> list[KnowledgeBase]:
        """The knowledge bases `person` may use, as the app lists them (Gate.visible)."""
        return [kb for kb, _ in self.gate.visible(person)]

    def workspace(self, person: Person, name: str | None = None) -> Workspace:
        """`person`'s use of the knowledge base called `name` (case ignored), or of the first
        they may use; AccessDeniedError, naming nothing they may not see, otherwise."""
        if name is None:
            bases = self.visible(person)
            kb = bases[0] if bases else self.gate.find("(none)", person, Action.SEARCH)
        else:
            kb = self.gate.find(name, person, Action.SEARCH)
        return self._engine(kb).workspace(kb, person, self.gate)

    def uploads(self, workspace: Workspace) -> UploadQueue | None:
        """The ingestion queue files for the workspace's knowledge base go to; None where
        this process runs none (then files are added in the app or with `ingest add`)."""
        return None if self._uploads is None else self._uploads(workspace)

    def close(self) -> None:
        """Close the engines and the list this object opened (not those it was given)."""
        with self._lock:
            engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            engine.close()
        if self._owns_registry:
            self.registry.close()

    def _engine(self, kb: KnowledgeBase) -> Engine:
        if self._opener is not None:
            return self._opener(kb)
        with self._lock:
            found = self._engines.get(kb.collection)
            if found is None:
                settings = self.registry.settings_of(kb)
                found = open_engine(settings, self._embedder_for(settings), self._model_factory)
                self._engines[kb.collection] = found
                self._embedders.append(found.library.tokenizer)
            return found

    def _embedder_for(self, settings: Settings) -> Embedder | None:
        """A loaded model the knowledge base can reuse, or None to load its own."""
        return next((e for e in self._embedders if embedder_fits(e, settings)), None)
