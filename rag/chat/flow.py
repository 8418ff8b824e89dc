"""The chat flow: admit, condense a follow-up, retrieve, answer short or fit the prompt and
stream the model's answer, then check its citations.

`ChatEngine.ask` runs the fast stages (admit, condense and retrieval) at once and returns an
`AnswerStream`: iterate it for the answer's text as it arrives, then read `.answer` for the
final `Answer` with its sources, citations and trace. A question over the limits (its
length, or the session's questions) is refused before anything is searched or sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

from rag.answers import Answer
from rag.chat.extractive import EXTRACTIVE_NOTICE
from rag.chat.limits import QuestionLimiter
from rag.chat.stages import (
    Searcher,
    admit,
    condense,
    condense_failed,
    draft_answer,
    extractive,
    fit_prompt,
    history_messages,
    nothing_found,
    retrieve,
)
from rag.chat.stream import AnswerStream, write_answer
from rag.chat.trace import CondenseTrace
from rag.config import Settings
from rag.providers.chat_model import ChatModel, GenerationOptions, clamp_options, make_chat_model
from rag.results import SearchOptions
from rag.search.explain import why_nothing_found
from rag.search.retriever import Retriever
from rag.stores.library import Library

HOW_TO_CONFIGURE = (
    "To get written answers, set RAG_CHAT_MODEL (and OPENAI_BASE_URL for Ollama, vLLM or"
    " LM Studio), or OPENAI_API_KEY, or AZURE_OPENAI_ENDPOINT with AZURE_OPENAI_DEPLOYMENT."
)
NOTHING_MATCHED = "Nothing matched the query."

ModelFactory = Callable[[Settings, GenerationOptions], ChatModel]
# Why a search found nothing, given the query and the options it ran with.
ExplainEmpty = Callable[[str, SearchOptions], str]


@dataclass(frozen=True)
class ChatOptions:
    """Retrieval and generation choices for one question."""

    search: SearchOptions = field(default_factory=SearchOptions)
    generation: GenerationOptions = field(default_factory=GenerationOptions)
    # The language answers are written in (a knowledge base's setting); None: the question's.
    language: str | None = None


class ChatEngine:
    """Answers questions with what `retriever` finds; holds no per-conversation state.

    `model_factory` builds the chat model for each question (when one is configured);
    `explain_empty` says why a search found nothing.
    """

    def __init__(
        self,
        retriever: Searcher,
        settings: Settings,
        model_factory: ModelFactory = make_chat_model,
        explain_empty: ExplainEmpty | None = None,
    ) -> None:
        self._retriever = retriever
        self._settings = settings
        self._model_factory = model_factory
        self._explain_empty = explain_empty or _nothing_matched

    @property
    def llm_configured(self) -> bool:
        """True when answers are generated; False means retrieval-only answers."""
        return self._settings.llm_configured

    def over(self, searcher: Searcher) -> ChatEngine:
        """The same chat flow (settings, chat model) answering from `searcher` instead;
        an empty search there is not explained, only reported."""
        return ChatEngine(searcher, self._settings, self._model_factory)

    def ask(
        self,
        question: str,
        history: Sequence[Answer] = (),
        options: ChatOptions | None = None,
        limiter: QuestionLimiter | None = None,
    ) -> AnswerStream:
        """Condense and retrieve now; the returned stream generates the answer.

        Raises QuestionTooLongError or QuestionLimitError (from `limiter`) before any search.
        """
        admit(question, self._settings, limiter)
        options = options or ChatOptions()
        started = time.perf_counter()
        model = self._model(options.generation)
        messages = history_messages(history)
        query, condensed = condense(model, question, messages)
        result, searched = retrieve(self._retriever, query, options.search)
        draft = draft_answer(question, query, result, (condensed, searched), model)
        short = self._short_answer(draft, condensed, model, options.search)
        if short is not None:
            return AnswerStream.of(short)
        budget = self._settings.context_tokens
        prompt, prompted = fit_prompt(draft, messages, budget, options.language)
        draft = replace(draft, trace=(*draft.trace, prompted))
        return AnswerStream(write_answer(model, draft, prompt, (condensed, searched), started))

    def _model(self, options: GenerationOptions) -> ChatModel | None:
        if not self._settings.llm_configured:
            return None
        return self._model_factory(self._settings, clamp_options(self._settings, options))

    def _short_answer(
        self,
        draft: Answer,
        condensed: CondenseTrace,
        model: ChatModel | None,
        options: SearchOptions,
    ) -> Answer | None:
        """The answer when the model is not asked to write one: nothing found, the model
        failed while condensing, or no model (quoted sentences); None otherwise."""
        if not draft.chunks:
            return nothing_found(draft, self._explain_empty(draft.query, options))
        if condensed.error is not None:
            return condense_failed(draft, condensed.error)
        if model is None:
            return extractive(draft, f"{EXTRACTIVE_NOTICE} {HOW_TO_CONFIGURE}")
        return None


def _nothing_matched(query: str, options: SearchOptions) -> str:
    return NOTHING_MATCHED


def chat_over_library(
    library: Library,
    retriever: Retriever,
    settings: Settings,
    model_factory: ModelFactory = make_chat_model,
) -> ChatEngine:
    """The chat flow over a library: an empty search is explained from the library's
    documents and a search without the minimum scores."""
    explain = partial(why_nothing_found, library, retriever)
    return ChatEngine(retriever, settings, model_factory, explain)
