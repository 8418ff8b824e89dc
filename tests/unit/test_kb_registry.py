"""Knowledge bases: names, collection names, and the registry on a temporary SQLite file.

The collections a data folder holds are given as `CollectionInfo` records here; reading
them from a real Chroma folder, ingestion and deletion are in
tests/integration/test_knowledge_bases.py.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import FrozenInstanceError, replace
from pathlib import Path

import pytest

from rag.config import Settings
from rag.errors import SettingsError
from rag.kb import (
    IndexSettings,
    IndexSettingsLockedError,
    KbSearchDefaults,
    KnowledgeBaseError,
    KnowledgeBaseNameError,
    KnowledgeBaseNotFoundError,
    KnowledgeBases,
    KnowledgeBaseSettingsError,
    search_options_for,
    settings_for,
)
from rag.kb.names import CHROMA_NAME, clean_name, name_key, new_collection_name, slug
from rag.providers.embeddings import EmbedderIdentity
from rag.results import Fusion, SearchMode
from rag.stores.collections import CollectionInfo

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def registry(settings: Settings):
    """A registry whose data folder held nothing before."""
    with KnowledgeBases(settings) as bases:
        bases.register_found(list)
        yield bases


def _identity(model: str = MINILM + ":int8", distance: str = "cosine") -> EmbedderIdentity:
    return EmbedderIdentity("fastembed", model, 384, 256, distance)


# Names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("  Annual reports  ", "Annual reports"),
        ("Cafe\u0301", "Café"),  # a combining accent is composed (NFC)
        ("報告書 2024", "報告書 2024"),
        ("x" * 64, "x" * 64),
    ],
)
def test_names_are_kept_as_written_once_trimmed_and_composed(name, kept):
    assert clean_name(name) == kept


@pytest.mark.parametrize("name", ["", "   ", "x" * 65, "two\nlines", "tab\there", "bell\x07"])
def test_bad_names_are_refused_with_a_usage_error(name):
    with pytest.raises(KnowledgeBaseNameError) as caught:
        clean_name(name)
    assert isinstance(caught.value, SettingsError)


def test_names_differing_only_in_case_or_composition_are_one_name():
    assert name_key("Café Reports") == name_key("CAFE\u0301 reports") == name_key(" café reports")
    assert name_key("Straße") == name_key("STRASSE")  # casefold, not lower


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Annual Reports 2024", "annual-reports-2024"),
        ("Rapports annuels é", "rapports-annuels-e"),
        ("報告書", ""),
        ("  --Q3 / Q4--  ", "q3-q4"),
    ],
)
def test_slugs_keep_the_ascii_letters_and_digits(name, expected):
    assert slug(name) == expected


@pytest.mark.parametrize("name", ["Annual Reports", "報告書", "é" * 64, "a" * 64, "Ω", "1"])
def test_collection_names_are_valid_for_chroma_with_room_for_the_catalog(name):
    collection = new_collection_name(name, set())
    assert CHROMA_NAME.match(collection), collection
    assert CHROMA_NAME.match(collection + "-catalog"), collection
    assert collection.startswith("kb-")


def test_a_taken_collection_name_is_never_given_again():
    draws = iter(["aaaaaa", "aaaaaa", "bbbbbb"])
    taken = {"kb-reports-aaaaaa"}
    assert new_collection_name("Reports", taken, lambda _: next(draws)) == "kb-reports-bbbbbb"


# Creating, finding, renaming --------------------------------------------------------------


def test_a_new_folder_gets_the_default_knowledge_base_with_the_current_settings(registry):
    [default] = registry.list()
    assert (default.name, default.collection, default.owner) == ("documents", "documents", None)
    assert default.index == IndexSettings.from_settings(registry.settings)
    assert registry.is_default(default) and registry.default() == default


def test_create_list_and_get_ignoring_case(registry):
    made = registry.create("Annual Reports", owner=None)
    other = registry.create("報告書")
    assert made.collection.startswith("kb-annual-reports-")
    assert other.collection.startswith("kb-") and not registry.is_default(other)
    assert [kb.name for kb in registry.list()] == ["Annual Reports", "documents", "報告書"]
    assert registry.get("annual REPORTS") == made
    assert registry.find("nothing") is None


def test_a_name_taken_in_another_case_is_refused(registry):
    registry.create("Annual Reports")
    with pytest.raises(KnowledgeBaseNameError, match="already exists"):
        registry.create("ANNUAL reports ")
    assert len(registry.list()) == 2


def test_an_unknown_name_lists_the_knowledge_bases_there_are(registry):
    registry.create("Contracts")
    with pytest.raises(KnowledgeBaseNotFoundError) as caught:
        registry.get("Invoices")
    assert "'Contracts'" in str(caught.value) and "'documents'" in str(caught.value)
    assert isinstance(caught.value, SettingsError)  # a bad argument: exit code 2


def test_rename_changes_the_name_only(registry):
    made = registry.create("Contracts")
    renamed = registry.rename("contracts", "Signed contracts")
    assert renamed == replace(made, name="Signed contracts")
    assert registry.get("signed contracts").collection == made.collection
    assert registry.find("Contracts") is None
    # A change of case alone is a rename to the same name, not a clash with itself.
    assert registry.rename("signed contracts", "SIGNED contracts").name == "SIGNED contracts"


def test_rename_to_a_taken_name_is_refused_and_changes_nothing(registry):
    registry.create("Contracts")
    with pytest.raises(KnowledgeBaseNameError):
        registry.rename("Contracts", "DOCUMENTS")
    assert {kb.name for kb in registry.list()} == {"Contracts", "documents"}


def test_create_with_other_index_settings(registry):
    index = replace(
        IndexSettings.from_settings(registry.settings),
        distance="dot",
        chunk_tokens=120,
        chunk_overlap=10,
        ocr=False,
        embed_precision="fp32",
    )
    made = registry.create("Small chunks", index)
    assert registry.get("small chunks").index == index
    applied = settings_for(registry.settings, made)
    assert (applied.collection, applied.distance, applied.chunk_tokens) == (
        made.collection,
        "dot",
        120,
    )
    assert (applied.chunk_overlap, applied.ocr, applied.embed_precision) == (10, False, "fp32")


@pytest.mark.parametrize(
    "change",
    [
        {"chunk_tokens": 8},
        {"chunk_tokens": 100, "chunk_overlap": 50},
        {"chunk_overlap": -1},
        {"distance": "manhattan"},
        {"embed_precision": "int4"},
        {"embed_provider": "openai", "embed_precision": "int8"},
        {"embed_model": " "},
    ],
)
def test_bad_index_settings_are_refused(settings, change):
    with pytest.raises(KnowledgeBaseSettingsError):
        replace(IndexSettings.from_settings(settings), **change)


# Editable settings ------------------------------------------------------------------------


def test_search_defaults_change_and_give_the_search_options(registry):
    registry.create("Contracts")
    updated = registry.update(
        "CONTRACTS",
        mode="bm25",
        fusion="rrf",
        k=8,
        vector_weight=0.5,
        bm25_weight=2.0,
        rerank=True,
        chat_model="llama3.2",
        answer_language="French",
    )
    assert registry.get("contracts").search == updated.search
    options = search_options_for(updated)
    assert (options.mode, options.fusion, options.k) == (SearchMode.BM25, Fusion.RRF, 8)
    assert (options.vector_weight, options.bm25_weight, options.rerank) == (0.5, 2.0, True)
    assert (updated.search.chat_model, updated.search.answer_language) == ("llama3.2", "French")
    back = registry.update("contracts", chat_model="", answer_language=None)
    assert (back.search.chat_model, back.search.answer_language) == (None, None)


def test_index_settings_cannot_change_and_the_message_says_what_to_do(registry):
    made = registry.create("Contracts")
    with pytest.raises(IndexSettingsLockedError) as caught:
        registry.update("Contracts", chunk_tokens=300, k=3)
    message = str(caught.value)
    assert "chunk_tokens" in message and "shapes the index" in message
    assert "new knowledge base" in message and "reindex" in message
    assert registry.get("Contracts") == made  # k did not change either


@pytest.mark.parametrize(
    "change",
    [
        {"k": 0},
        {"k": 101},
        {"mode": "fuzzy"},
        {"vector_weight": -1.0},
        {"vector_weight": 0.0, "bm25_weight": 0.0},
        {"bm25_weight": float("nan")},
        {"answer_language": "x" * 41},
        {"colour": "blue"},
    ],
)
def test_bad_search_defaults_are_refused(registry, change):
    made = registry.create("Contracts")
    with pytest.raises(KnowledgeBaseSettingsError):
        registry.update("Contracts", **change)
    assert registry.get("Contracts") == made


def test_settings_are_frozen(registry):
    made = registry.create("Contracts")
    with pytest.raises(FrozenInstanceError):
        made.search.k = 3  # type: ignore[misc]


def test_the_registry_keeps_settings_as_json_and_reads_later_fields_past(registry, settings):
    made = registry.create("Contracts")
    path = settings.data_dir / "knowledge_bases.sqlite"
    with sqlite3.connect(path) as db:
        stored = json.loads(
            db.execute(
                "SELECT settings FROM knowledge_bases WHERE collection = ?", (made.collection,)
            ).fetchone()[0]
        )
        assert stored["index"]["chunk_tokens"] == made.index.chunk_tokens
        stored["search"]["a_later_setting"] = 1
        db.execute(
            "UPDATE knowledge_bases SET settings = ? WHERE collection = ?",
            (json.dumps(stored), made.collection),
        )
    with KnowledgeBases(settings) as reopened:
        assert reopened.get("contracts") == made


# The default knowledge base ---------------------------------------------------------------


def test_the_default_knowledge_base_cannot_be_deleted(registry):
    registry.rename("documents", "Everything")
    with pytest.raises(KnowledgeBaseError, match="default knowledge base"):
        registry.delete("everything")
    assert registry.default().name == "Everything"


def test_deleting_an_unknown_knowledge_base_is_a_clear_error(registry):
    with pytest.raises(KnowledgeBaseNotFoundError):
        registry.delete("nothing")


# What a data folder held before -----------------------------------------------------------


def test_collections_found_are_registered_once_from_what_they_recorded(settings):
    found = [
        CollectionInfo("documents", _identity(MINILM), 3),  # made before int8 was the default
        CollectionInfo("documents-int8", _identity(distance="dot"), 3),
        CollectionInfo("Documents-INT8", _identity(), 1),  # differs from the last in case only
        CollectionInfo("not-ours", None, 0),
    ]
    calls = []
    with KnowledgeBases(settings) as registry:
        registry.register_found(lambda: calls.append(1) or found)
        registry.register_found(lambda: calls.append(1) or found)
        bases = {kb.collection: kb for kb in registry.list()}
    assert len(calls) == 1  # the second open needs no listing
    assert set(bases) == {"documents", "documents-int8", "Documents-INT8"}
    assert bases["documents"].index.embed_precision == "fp32"
    assert bases["documents"].index.embed_model == MINILM
    int8 = bases["documents-int8"].index
    assert (int8.embed_precision, int8.embed_model, int8.distance) == ("int8", MINILM, "dot")
    assert bases["Documents-INT8"].name == "Documents-INT8 (2)"
    assert bases["documents"].index.chunk_tokens == settings.chunk_tokens


def test_another_default_collection_is_registered_when_the_settings_name_it(settings):
    with KnowledgeBases(settings) as registry:
        registry.register_found(list)
    moved = settings.with_overrides(collection="documents-int8")
    with KnowledgeBases(moved) as registry:
        registry.register_found(lambda: [CollectionInfo("documents-int8", _identity("m"), 2)])
        assert registry.default().collection == "documents-int8"
        assert registry.default().index.embed_model == "m"
        assert {kb.name for kb in registry.list()} == {"documents", "documents-int8"}


def test_the_search_defaults_of_a_new_knowledge_base_follow_the_reranker(settings):
    reranking = settings.with_overrides(rerank_provider="fastembed")
    assert KbSearchDefaults.from_settings(reranking).rerank is True
    assert KbSearchDefaults.from_settings(settings).rerank is False


# Threads ----------------------------------------------------------------------------------


def test_two_threads_creating_the_same_name_make_one_knowledge_base(registry):
    outcomes: list[object] = []
    start = threading.Barrier(8)

    def create() -> None:
        start.wait()
        try:
            outcomes.append(registry.create("Shared"))
        except KnowledgeBaseNameError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    made = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(made) == 1 and len(outcomes) == 8
    assert [kb.name for kb in registry.list()] == ["documents", "Shared"]


def test_two_registries_of_one_folder_see_each_others_changes(settings, registry):
    with KnowledgeBases(settings) as other:
        other.create("From elsewhere")
        assert registry.get("from elsewhere").collection == other.get("From elsewhere").collection
