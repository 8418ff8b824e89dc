"""Two embedding models compared on the user's own question set.

Each collection records the embedder that built it, so a second model lives in a second
collection of the same data folder (`RAG_EMBED_MODEL=... RAG_COLLECTION=NEW python -m
ingest reindex documents`). A comparison runs the same questions on both collections, each
searched with the model that built it, and sets the metrics and per-question ranks side by
side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rag.config import DEFAULT_EMBED_MODELS, Settings
from rag.errors import RagError, SettingsError
from rag.eval.runs import EvalReport, evaluate_qa, missing_sources
from rag.eval.sets import QAItem
from rag.providers.embeddings import Embedder, EmbedderIdentity, make_embedder
from rag.results import SearchMode, SearchOptions
from rag.search.retriever import Retriever
from rag.stores.collections import recorded_identity
from rag.stores.library import Library


@dataclass(frozen=True)
class CollectionRun:
    """The question set run on one collection, and the evidence files it lacks."""

    collection: str
    embedder: str
    report: EvalReport
    missing: tuple[str, ...]


@dataclass(frozen=True)
class QuestionRanks:
    """One question in one mode: the rank of its first evidence chunk in each collection."""

    question: str
    mode: str
    first: int | None
    second: int | None

    @property
    def difference(self) -> int | None:
        """Second rank less first (negative: the second collection finds it earlier)."""
        if self.first is None or self.second is None:
            return None
        return self.second - self.first


@dataclass(frozen=True)
class EmbedderComparison:
    """The same question set on two collections, with the same modes and search settings."""

    dataset: str
    first: CollectionRun
    second: CollectionRun
    questions: tuple[QuestionRanks, ...]

    def metric_rows(self) -> list[dict[str, object]]:
        """One row per mode and metric: the value in each collection and the difference."""
        second_modes = {m.mode: m for m in self.second.report.modes}
        rows = []
        for mode in self.first.report.modes:
            other = second_modes[mode.mode]
            for name in self.first.report.metric_names():
                first, second = mode.metrics[name], other.metrics[name]
                rows.append(
                    {
                        "mode": mode.mode.value,
                        "metric": name,
                        self.first.collection: first,
                        self.second.collection: second,
                        "difference": round(second - first, 4),
                    }
                )
        return rows

    def question_rows(self) -> list[dict[str, object]]:
        """One row per question and mode: both ranks (None: not in the top 10), the change."""
        return [
            {
                "question": q.question,
                "mode": q.mode,
                self.first.collection: q.first,
                self.second.collection: q.second,
                "rank change": q.difference,
            }
            for q in self.questions
        ]


def embedder_for(settings: Settings, identity: EmbedderIdentity) -> Embedder:
    """The model a collection was built with, loaded from these settings' keys and paths.

    Raises SettingsError naming the collection's model when it cannot be loaded here (no
    key for an OpenAI model, a local model that is not available).
    """
    try:
        embedder = make_embedder(model_settings(settings, identity))
        if embedder.identity.dimensions != identity.dimensions:
            # The collection asked for shortened vectors; the model's own size differs.
            shortened = model_settings(settings, identity, identity.dimensions)
            embedder = make_embedder(shortened)
    except RagError as exc:
        raise SettingsError(
            f"The model that built this collection, {identity.describe()}, cannot be loaded"
            f" here: {exc}"
        ) from exc
    return embedder


def model_settings(
    settings: Settings, identity: EmbedderIdentity, dimensions: int | None = None
) -> Settings:
    """These settings with the embedding model of `identity`, its prefixes and distance."""
    return settings.with_overrides(
        embed_provider=identity.provider,
        embed_model=identity.model,
        embed_dimensions=dimensions,
        embed_model_path=_model_path(settings, identity),
        embed_query_prefix=identity.query_prefix,
        embed_passage_prefix=identity.passage_prefix,
        distance=identity.distance,
    )


def _model_path(settings: Settings, identity: EmbedderIdentity) -> Path | None:
    # The local model folder holds one model: the configured local one, or the default
    # local model when the configured provider is an API.
    if identity.provider != "fastembed" or settings.embed_model_path is None:
        return None
    local = settings.embed_model if settings.embed_provider == "fastembed" else None
    usable = identity.model == (local or DEFAULT_EMBED_MODELS["fastembed"])
    return settings.embed_model_path if usable else None


def open_collection(settings: Settings, collection: str, beside: Library | None = None) -> Library:
    """Open another collection of the data folder with the embedder that built it.

    The model of `beside`, an open library, is reused when it built that collection too.
    Close the library when done.
    """
    identity = recorded_identity(settings, collection)
    dimensions = identity.dimensions if identity.provider == "openai" else None
    opened = model_settings(settings, identity, dimensions).with_overrides(collection=collection)
    # The distance belongs to the collection, not to the model.
    if beside is not None and replace(beside.identity, distance=identity.distance) == identity:
        return beside.open_other(opened)
    return Library.open(opened, embedder_for(settings, identity))


def compare_collections(
    settings: Settings,
    items: Sequence[QAItem],
    dataset: str,
    collections: tuple[str, str],
    modes: Sequence[SearchMode] = tuple(SearchMode),
    options: SearchOptions | None = None,
    current: Retriever | None = None,
) -> EmbedderComparison:
    """Run a question set on two collections, each searched with its own embedder.

    `current` is a retriever already open (the app's): its collection is searched through
    it rather than opened again, and its embedder is reused for a collection it built.
    """
    first, second = collections
    if first == second:
        raise SettingsError("Pick two different collections to compare")
    modes = tuple(SearchMode(mode) for mode in modes)
    one, two = (
        _run_on(settings, name, items, dataset, modes, options, current) for name in collections
    )
    return EmbedderComparison(dataset, one, two, _side_by_side(one, two))


def _run_on(
    settings: Settings,
    collection: str,
    items: Sequence[QAItem],
    dataset: str,
    modes: Sequence[SearchMode],
    options: SearchOptions | None,
    current: Retriever | None,
) -> CollectionRun:
    if current is not None and current.library.settings.collection == collection:
        return _run(current, items, dataset, modes, options)
    library = open_collection(settings, collection, current.library if current else None)
    try:
        return _run(Retriever(library), items, dataset, modes, options)
    finally:
        library.close()


def _run(
    retriever: Retriever,
    items: Sequence[QAItem],
    dataset: str,
    modes: Sequence[SearchMode],
    options: SearchOptions | None,
) -> CollectionRun:
    library = retriever.library
    report = evaluate_qa(retriever, items, dataset, modes, options)
    missing = missing_sources(items, {d.name for d in library.documents()})
    identity = library.identity.describe()
    return CollectionRun(library.settings.collection, identity, report, tuple(missing))


def _side_by_side(first: CollectionRun, second: CollectionRun) -> tuple[QuestionRanks, ...]:
    pairs = zip(first.report.questions, second.report.questions, strict=True)
    return tuple(
        QuestionRanks(a.question, mode, a.first_hit[mode], b.first_hit.get(mode))
        for a, b in pairs
        for mode in a.first_hit
    )
