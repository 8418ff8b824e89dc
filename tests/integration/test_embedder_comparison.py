"""Two embedders compared on one question set: two collections in one data folder.

One collection is built with the local MiniLM, the other with an OpenAI-compatible embedder
served by the fake server on 127.0.0.1, whose vectors hash words: deterministic, but blind
to meaning. Questions that share no words with their documents separate the two.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

import rag.eval.embedder_comparison as comparison_module
from ingest.pipeline import Ingestor
from rag.errors import SettingsError, StoreError
from rag.eval.embedder_comparison import compare_collections, open_collection
from rag.eval.sets import Evidence, QAItem
from rag.search.retriever import Retriever
from rag.stores.collections import list_collections
from rag.stores.library import Library
from tests.support.fake_llm import FakeLLM

DOCUMENTS = {
    "bees.txt": "Honeybees perform a waggle dance to tell their hive mates where flowers with"
    " nectar can be found.",
    "volcano.txt": "Magma rising beneath a mountain can erupt as lava, ash and toxic gases.",
    "bread.txt": "Sourdough loaves rise because wild yeast and lactic bacteria ferment the flour.",
    "chess.txt": "Castling moves the king two squares toward a rook, which jumps over to the"
    " other side.",
    "tides.txt": "The gravitational pull of the moon raises ocean water into bulges, giving two"
    " high tides daily.",
    "vaccine.txt": "Immunisation trains antibodies to recognise a pathogen before an infection"
    " happens.",
}
# Paraphrases: few words in common with the document that answers them.
QUESTIONS = {
    "bees.txt": "How do insects communicate the location of food?",
    "volcano.txt": "Why do eruptions happen?",
    "bread.txt": "What makes dough leaven without commercial baking powder?",
    "chess.txt": "Which board game manoeuvre protects the monarch piece?",
    "tides.txt": "What causes the sea level to change twice per day?",
    "vaccine.txt": "How do shots protect people from disease?",
}
# Only in the MiniLM collection, so the other one cannot answer its question.
ONLY_LOCAL = ("glaciers.txt", "Glaciers carve valleys as compacted snow slowly flows downhill.")
ITEMS = [
    *(QAItem(question, (Evidence(name, 1),)) for name, question in QUESTIONS.items()),
    QAItem("How are U-shaped valleys formed?", (Evidence(ONLY_LOCAL[0], 1),)),
]
API_COLLECTION = "api-embeddings"


@pytest.fixture(scope="module")
def server():
    with FakeLLM() as fake:
        yield fake


@pytest.fixture(scope="module")
def settings(base_settings, embedder, tmp_path_factory, server):
    """A data folder with a MiniLM collection (the default) and an OpenAI-embedded one."""
    settings = base_settings.with_overrides(
        data_dir=tmp_path_factory.mktemp("compare") / "data", openai_base_url=server.base_url
    )
    api = settings.with_overrides(
        collection=API_COLLECTION, embed_provider="openai", embed_model="text-embedding-3-small"
    )
    for collection, model, extra in ((settings, embedder, [ONLY_LOCAL]), (api, None, [])):
        with Library.open(collection, model) as library:
            ingestor = Ingestor(library)
            for name, text in [*DOCUMENTS.items(), *extra]:
                assert ingestor.ingest_bytes(name, text.encode()).ok
    return settings


@pytest.fixture
def current(settings, embedder):
    """The app's own retriever on the MiniLM collection."""
    library = Library.open(settings, embedder)
    yield Retriever(library)
    library.close()


def test_minilm_finds_paraphrased_evidence_sooner_than_hashed_words(settings, current):
    result = compare_collections(
        settings, ITEMS, "paraphrases", (settings.collection, API_COLLECTION), current=current
    )
    first, second = result.first, result.second
    assert (first.collection, second.collection) == ("documents", API_COLLECTION)
    assert first.embedder.startswith("fastembed:sentence-transformers/all-MiniLM-L6-v2")
    assert second.embedder.startswith("openai:text-embedding-3-small (64-d")
    # Both ran every question, in the same order, in every mode.
    questions = [item.question for item in ITEMS]
    assert [q.question for q in first.report.questions] == questions
    assert [q.question for q in second.report.questions] == questions
    assert {m.queries for m in (*first.report.modes, *second.report.modes)} == {len(ITEMS)}
    assert (first.missing, second.missing) == ((), ("glaciers.txt",))

    mrr = {(row["mode"], row["metric"]): row for row in result.metric_rows()}
    for mode in ("vector", "hybrid"):
        row = mrr[(mode, "mrr@10")]
        assert row["documents"] > row[API_COLLECTION] + 0.2
        assert row["difference"] == pytest.approx(row[API_COLLECTION] - row["documents"], abs=1e-4)
    assert len(result.metric_rows()) == 3 * 4

    ranks = result.question_rows()
    assert len(ranks) == len(ITEMS) * 3
    glacier = [r for r in ranks if r["question"].startswith("How are U-shaped")]
    assert {r[API_COLLECTION] for r in glacier} == {None}
    assert {r["rank change"] for r in glacier} == {None}
    vector = [r for r in ranks if r["mode"] == "vector" and r[API_COLLECTION] is not None]
    assert all(r["rank change"] == r[API_COLLECTION] - r["documents"] for r in vector)


def test_the_collections_of_the_data_folder_with_their_embedder_and_documents(settings):
    found = {info.name: info for info in list_collections(settings)}
    assert {"documents", API_COLLECTION} <= set(found)
    assert not [name for name in found if name.endswith("-catalog")]
    assert found["documents"].identity.provider == "fastembed"
    assert found["documents"].documents == len(DOCUMENTS) + 1
    assert found[API_COLLECTION].identity.dimensions == 64
    assert (
        found[API_COLLECTION]
        .describe()
        .startswith(f"{API_COLLECTION}: openai:text-embedding-3-small (64-d, cosine), 6 documents")
    )


def test_a_loaded_embedder_is_reused_for_the_collection_it_built(
    settings, embedder, current, monkeypatch
):
    def never(_settings):
        raise AssertionError("no model should be loaded")

    monkeypatch.setattr(comparison_module, "make_embedder", never)
    # The same model, another distance: the distance is the collection's, the model reused.
    copy = settings.with_overrides(collection="minilm-copy", distance="euclidean")
    with Library.open(copy, embedder) as library:
        Ingestor(library).ingest_bytes(*ONLY_LOCAL[:1], ONLY_LOCAL[1].encode())
    with open_collection(settings, "minilm-copy", current.library) as library:
        assert library.identity == replace(embedder.identity, distance="euclidean")
        assert library.settings.distance == "euclidean"
        assert [d.name for d in library.documents()] == ["glaciers.txt"]
    result = compare_collections(
        settings, ITEMS[-1:], "glaciers", ("documents", "minilm-copy"), ["vector"], current=current
    )
    assert [q.first_hit for q in result.second.report.questions] == [{"vector": 1}]
    assert "euclidean" in result.second.embedder


def test_a_model_that_cannot_be_loaded_here_is_a_clear_error(settings, current):
    no_server = settings.with_overrides(openai_base_url=None, openai_api_key=None)
    with pytest.raises(SettingsError, match=r"text-embedding-3-small.*cannot be loaded here"):
        compare_collections(no_server, ITEMS, "set", ("documents", API_COLLECTION), current=current)


def test_an_unknown_collection_is_refused_and_not_created(settings, current):
    with pytest.raises(StoreError, match="No collection named 'nothing-here'"):
        compare_collections(settings, ITEMS, "set", ("documents", "nothing-here"), current=current)
    assert "nothing-here" not in {info.name for info in list_collections(settings)}
    with pytest.raises(SettingsError, match="two different collections"):
        compare_collections(settings, ITEMS, "set", ("documents", "documents"))
