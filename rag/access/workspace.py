"""One person's use of one knowledge base: every call checks what they may do first.

The pages and the LangChain retriever reach a knowledge base's library, retriever and chat
flow through a `Workspace`, never around it, so the rules of rag.access.gate hold whatever
asks (the command lines act for the local user, who owns everything). Changes are written
to the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.access.gate import Gate
from rag.access.people import Action, Person, Role
from rag.answers import Answer
from rag.chat.flow import ChatEngine, ChatOptions
from rag.chat.limits import QuestionLimiter, check_question
from rag.chat.stream import AnswerStream
from rag.config import Settings
from rag.documents import Chunk, DocumentRecord
from rag.errors import QuestionLimitError
from rag.kb import KnowledgeBase
from rag.results import SearchOptions, SearchResult
from rag.search.across import Across, Searcher
from rag.search.langchain_retriever import LibraryRetriever
from rag.search.retriever import Retriever
from rag.stores.library import Library


class Workspace:
    """What `person` may do with knowledge base `kb`, through its engine's parts."""

    def __init__(
        self,
        kb: KnowledgeBase,
        person: Person,
        gate: Gate,
        parts: tuple[Library, Retriever, ChatEngine],
    ) -> None:
        self.kb, self.person, self.gate = kb, person, gate
        self._library, self._retriever, self._chat = parts
        # Checked now, so that a stranger gets nothing, not even the settings.
        self.role: Role = gate.require(kb, person, Action.SEARCH)

    @property
    def settings(self) -> Settings:
        """The settings the knowledge base opens with."""
        return self._library.settings

    @property
    def read_only(self) -> bool:
        """True when the data folder cannot be written."""
        return self._library.read_only

    def may(self, action: Action) -> bool:
        """Whether the person may do `action` (for what the pages offer)."""
        return self.role >= action.needs

    def require(self, action: Action) -> None:
        """AccessDeniedError unless the person may do `action` now (shares can change)."""
        self.role = self.gate.require(self.kb, self.person, action)

    def search(self, query: str, options: SearchOptions) -> SearchResult:
        """The chunks found for `query` (see Retriever.search)."""
        self.require(Action.SEARCH)
        return self._retriever.search(query, options)

    def ask(
        self,
        question: str,
        history: Sequence[Answer] = (),
        options: ChatOptions | None = None,
        limiter: QuestionLimiter | None = None,
    ) -> AnswerStream:
        """Answer `question` from the knowledge base (see ChatEngine.ask), counted against
        the person's questions per minute across all their sessions."""
        self.require(Action.ANSWER)
        _count_question(self, question, limiter)
        return self._chat.ask(question, history, options, limiter)

    def chat_over(self, searcher: Searcher) -> ChatEngine:
        """This knowledge base's chat flow (its settings and chat model) answering from
        `searcher`, for a person who may ask questions of it."""
        self.require(Action.ANSWER)
        return self._chat.over(searcher)

    def library(self, action: Action = Action.READ) -> Library:
        """The library itself, for reading (the Evaluation and Lab pages, the viewer)."""
        self.require(action)
        return self._library

    def retriever(self, action: Action = Action.EVALUATE) -> Retriever:
        """The retriever itself, for an evaluation run (rag.eval reads its library and
        reranker as well as searching)."""
        self.require(action)
        return self._retriever

    def documents(self) -> list[DocumentRecord]:
        """The documents that can be searched, newest first."""
        return self.library().documents()

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """A document's chunks, in order."""
        return self.library().chunks_of(doc_id)

    def delete(self, doc_id: str) -> None:
        """Delete a document, its chunks and its file; written to the audit log."""
        self.require(Action.DELETE)
        name = self._library.find(doc_id).name
        self._library.delete(doc_id)
        self.gate.record(self.person, "delete", self.kb, name)

    def record_change(self, change: str, detail: str) -> None:
        """Write a change the person made to the documents (a file queued as "add" or
        "replace", uploads cancelled) to the audit log; only editors make changes."""
        self.require(Action.ADD)
        self.gate.record(self.person, change, self.kb, detail)

    def langchain_retriever(self, options: SearchOptions | None = None) -> LibraryRetriever:
        """The knowledge base as a LangChain retriever that searches as this person."""
        self.require(Action.SEARCH)
        return LibraryRetriever(retriever=self, options=options or SearchOptions())


def search_across(
    workspaces: Sequence[Workspace], query: str, options: SearchOptions | None = None
) -> SearchResult:
    """The chunks found for `query` in all of `workspaces`, fused and labelled with their
    knowledge base (see rag.search.across); AccessDeniedError before anything is searched
    if the person may not search one of them."""
    _require_all(workspaces, Action.SEARCH)
    return _across(workspaces).search(query, options or SearchOptions())


def ask_across(
    workspaces: Sequence[Workspace],
    question: str,
    history: Sequence[Answer] = (),
    options: ChatOptions | None = None,
    limiter: QuestionLimiter | None = None,
) -> AnswerStream:
    """Answer `question` from all of `workspaces` at once, with the first one's chat
    settings and model; counted once against the person's questions per minute.
    AccessDeniedError before anything is searched if they may not ask one of them."""
    _require_all(workspaces, Action.ANSWER)
    first = workspaces[0]
    _count_question(first, question, limiter)
    return first.chat_over(_across(workspaces)).ask(question, history, options, limiter)


def _count_question(workspace: Workspace, question: str, limiter: QuestionLimiter | None) -> None:
    """Count the question against the person's limit across sessions, once it is known
    that neither its length nor the session's own limit refuses it."""
    check_question(question, workspace.settings)
    allowance = limiter.check() if limiter is not None else None
    if allowance is not None and not allowance.allowed:
        raise QuestionLimitError(allowance.message)
    workspace.gate.admit_question(workspace.person)


def _require_all(workspaces: Sequence[Workspace], action: Action) -> None:
    if not workspaces:
        raise ValueError("name at least one knowledge base to search")
    # One person's question: their limits and shares are the ones that apply to it.
    if len({w.person for w in workspaces}) > 1:
        raise ValueError("knowledge bases searched together must be used by one person")
    for workspace in workspaces:
        workspace.require(action)


def _across(workspaces: Sequence[Workspace]) -> Across:
    """Each workspace searched under its knowledge base's name (it checks SEARCH again on
    every search, so a share withdrawn meanwhile still counts)."""
    return Across([(w.kb.name, w) for w in workspaces])
