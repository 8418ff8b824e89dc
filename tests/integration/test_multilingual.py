"""Across languages: model prefixes, a Spanish question over the Spanish constitution with
BM25, and (where a multilingual model is on disk) an English question finding Spanish text."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from ingest.chunking import chunk_pages
from ingest.cleaning import clean_text
from ingest.parsing import parse_file
from rag.config import Settings, load_settings
from rag.documents import Chunk
from rag.errors import EmbedderMismatchError
from rag.eval.embedder_comparison import model_settings
from rag.providers.embeddings import Embedder, EmbedderIdentity, _model_max_tokens, make_embedder
from rag.providers.prefixes import KNOWN_PREFIXES, Prefixes, resolve_prefixes
from rag.stores.chroma import collection_metadata, connect
from rag.stores.lexical import LexicalIndex
from rag.stores.library import Library
from tests.conftest import pdf

E5 = "intfloat/multilingual-e5-large"
PARAPHRASE = "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
CONSTITUTION = "cl_constitucion_es.pdf"
# The keys every collection has recorded since before prefixes existed.
OLD_METADATA = {
    "embed_provider": "fastembed",
    "embed_model": MINILM,
    "embed_dimensions": 384,
    "embed_max_tokens": 256,
    "embed_distance": "cosine",
}


def _settings(**environ: str) -> Settings:
    return load_settings(environ, env_file=None)


# The prefix table and the settings --------------------------------------------------------


def test_e5_models_get_query_and_passage_prefixes():
    assert resolve_prefixes(E5) == Prefixes("query: ", "passage: ")
    assert resolve_prefixes(E5.upper()) == Prefixes("query: ", "passage: ")


@pytest.mark.parametrize("model", [PARAPHRASE, MINILM, "some/unknown-model"])
def test_models_without_known_prefixes_get_none(model):
    assert resolve_prefixes(model) == Prefixes("", "")


def test_a_setting_overrides_the_table_and_an_empty_one_turns_it_off():
    assert resolve_prefixes(E5, query="q: ") == Prefixes("q: ", "passage: ")
    assert resolve_prefixes(E5, passage="") == Prefixes("query: ", "")
    assert resolve_prefixes(MINILM, "query: ", "passage: ") == Prefixes("query: ", "passage: ")


def test_every_fastembed_model_said_to_need_prefixes_has_them():
    from fastembed import TextEmbedding

    # stella's document model is searched with queries from another model (constella).
    exempt = {"qdrant/stella-en-400m-v5-doc-onnx"}
    needing = {
        model["model"].lower()
        for model in TextEmbedding.list_supported_models()
        if re.search(r"(?<!not )(?<!not so )necessary", model["description"])
    }
    assert needing - exempt - set(KNOWN_PREFIXES) == set()


def test_prefix_settings_keep_their_spaces():
    settings = _settings(RAG_EMBED_QUERY_PREFIX="query: ", RAG_EMBED_PASSAGE_PREFIX="passage: ")
    assert (settings.embed_query_prefix, settings.embed_passage_prefix) == ("query: ", "passage: ")


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, None), ("", None), ("  ", None), ("none", "")]
)
def test_unset_prefix_settings_defer_to_the_table_and_none_means_no_prefix(raw, expected):
    settings = _settings(**({} if raw is None else {"RAG_EMBED_QUERY_PREFIX": raw}))
    assert settings.embed_query_prefix == expected


def test_the_stated_input_limit_wins_over_a_larger_tokenizer_limit():
    # paraphrase-multilingual-MiniLM-L12-v2's tokenizer config says 512; it reads 128 well.
    assert _model_max_tokens(PARAPHRASE, 512) == 128
    assert _model_max_tokens(MINILM, 256) == 256
    assert _model_max_tokens("some/unknown-model", 300) == 300


# The collection's identity -----------------------------------------------------------------


def test_an_identity_without_prefixes_is_recorded_as_before():
    plain = EmbedderIdentity("fastembed", MINILM, 384, 256)
    assert plain.as_metadata() == OLD_METADATA
    assert EmbedderIdentity.from_metadata(OLD_METADATA) == plain


def test_prefixes_are_recorded_and_read_back():
    prefixed = EmbedderIdentity("fastembed", E5, 1024, 512, "cosine", "query: ", "passage: ")
    metadata = prefixed.as_metadata()
    assert metadata["embed_query_prefix"] == "query: "
    assert EmbedderIdentity.from_metadata(metadata) == prefixed


def test_another_collection_is_opened_with_the_prefixes_it_was_built_with():
    # The embedding lab loads the embedder a collection recorded, whatever is configured.
    recorded = EmbedderIdentity("fastembed", MINILM, 384, 256, passage_prefix="passage: ")
    configured = _settings(RAG_EMBED_QUERY_PREFIX="q: ")
    loaded = model_settings(configured, recorded)
    assert (loaded.embed_query_prefix, loaded.embed_passage_prefix) == ("", "passage: ")


def test_a_prefix_change_alone_is_a_mismatch_that_names_it():
    stored = EmbedderIdentity.from_metadata(OLD_METADATA)
    configured = EmbedderIdentity("fastembed", MINILM, 384, 256, passage_prefix="passage: ")
    with pytest.raises(EmbedderMismatchError) as caught:
        configured.check_matches(stored, "documents")
    message = str(caught.value)
    assert "passage prefix 'passage: '" in message and "python -m ingest reindex" in message


# The local model with prefixes set through the settings ------------------------------------


@pytest.fixture(scope="module")
def prefixed(base_settings: Settings) -> Embedder:
    """The local MiniLM with E5-style prefixes, set the way a user sets them."""
    return make_embedder(
        base_settings.with_overrides(embed_query_prefix="query: ", embed_passage_prefix="passage: ")
    )


def test_the_query_prefix_is_put_before_the_query(prefixed, embedder):
    np.testing.assert_allclose(
        prefixed.embed_query("x"), embedder.embed_query("query: x"), atol=1e-5
    )
    assert not np.allclose(prefixed.embed_query("x"), embedder.embed_query("x"), atol=1e-3)


def test_the_passage_prefix_is_put_before_every_passage(prefixed, embedder):
    texts = ["Tides follow the moon.", "Bees build wax cells. " * 10]
    expected = embedder.embed_documents([f"passage: {text}" for text in texts])
    np.testing.assert_allclose(prefixed.embed_documents(texts), expected, atol=1e-5)


def test_tokens_are_counted_with_the_passage_prefix(prefixed, embedder):
    assert prefixed.count_tokens(["Tides follow the moon."]) == embedder.count_tokens(
        ["passage: Tides follow the moon."]
    )
    # "passage" and ":" take two of MiniLM's 256 word pieces, [CLS] and [SEP] two more.
    assert prefixed.max_chunk_tokens == embedder.max_chunk_tokens - 2 == 252
    assert prefixed.identity.passage_prefix == "passage: "


@pytest.mark.parametrize("size", [252, 1000])
def test_chunks_with_the_prefix_stay_within_the_model_limit(prefixed, embedder, size):
    words = "La Constitución asegura a todas las personas el derecho a la vida. "
    text = words * 80 + "https://example.org/" + "a" * 300 + " " + "中" * 600
    chunks = chunk_pages([text], doc_id="d", source="s", embedder=prefixed, size=size, overlap=20)
    assert len(chunks) > 3
    # Counted independently: the unprefixed model reading "passage: " + chunk.
    counts = embedder.count_tokens([f"passage: {chunk.text}" for chunk in chunks])
    assert max(counts) <= embedder.identity.max_tokens


def test_a_collection_built_without_prefixes_still_opens(
    tmp_path, base_settings, embedder, prefixed
):
    settings = base_settings.with_overrides(data_dir=tmp_path / "data")
    with Library.open(settings, embedder):
        recorded = collection_metadata(connect(settings), settings.collection)
    assert not [key for key in recorded if "prefix" in key]
    with Library.open(settings, embedder) as library:
        assert library.documents() == []
    with pytest.raises(EmbedderMismatchError, match="passage prefix 'passage: '"):
        Library.open(settings, prefixed)


def test_a_collection_built_with_prefixes_refuses_the_plain_model(
    tmp_path, base_settings, embedder, prefixed
):
    settings = base_settings.with_overrides(data_dir=tmp_path / "data")
    with Library.open(settings, prefixed):
        pass
    with Library.open(settings, prefixed):
        pass
    with pytest.raises(EmbedderMismatchError, match="query prefix 'query: '"):
        Library.open(settings, embedder)


# The Spanish constitution ------------------------------------------------------------------


def _constitution_pages() -> list[str]:
    path = pdf(CONSTITUTION)
    return [clean_text(page) for page in parse_file(path.name, path.read_bytes()).pages]


@pytest.fixture(scope="module")
def constitution(embedder) -> list[Chunk]:
    """The 96-page constitution in the default chunks, parsed once for this module."""
    chunks = chunk_pages(
        _constitution_pages(),
        doc_id="cl",
        source=CONSTITUTION,
        embedder=embedder,
        size=200,
        overlap=30,
    )
    return chunks


@pytest.fixture(scope="module")
def spanish_bm25(constitution, tmp_path_factory) -> LexicalIndex:
    """BM25 over the constitution alone: no embedding, a second or two."""
    index = LexicalIndex(tmp_path_factory.mktemp("bm25") / "lexical")
    index.add(constitution)
    return index


@pytest.mark.parametrize(
    ("question", "page"),
    [
        ("¿Cuántos años dura el Presidente de la República en el ejercicio de sus funciones?", 13),
        ("¿Qué dice la Constitución sobre la libertad de conciencia y de culto?", 6),
        ("¿Se puede establecer la pena de muerte?", 5),
    ],
)
def test_a_spanish_question_finds_its_page_with_bm25(spanish_bm25, constitution, question, page):
    # Keyword queries over the same file, among all the corpus, are in
    # test_integration_corpus.py::test_non_latin_scripts_are_found_by_bm25.
    pages = {chunk.chunk_id: chunk.page_start for chunk in constitution}
    hits = spanish_bm25.search(question, 3)
    assert pages[hits[0].chunk_id] == page, [pages[h.chunk_id] for h in hits]


# An English question, Spanish text: needs a multilingual model on disk ---------------------

MULTILINGUAL_MODEL = os.environ.get("RAG_MULTILINGUAL_MODEL", PARAPHRASE)


def _multilingual_settings(base: Settings) -> Settings:
    """Settings that load the multilingual model without the network, or a skip."""
    folder = os.environ.get("RAG_MULTILINGUAL_MODEL_PATH")
    if folder:
        return base.with_overrides(embed_model=MULTILINGUAL_MODEL, embed_model_path=Path(folder))
    from fastembed import TextEmbedding

    try:  # fastembed's own cache, as a machine with internet leaves it
        TextEmbedding(MULTILINGUAL_MODEL, local_files_only=True)
    except (ValueError, OSError, RuntimeError):
        reason = (
            f"multilingual model not available offline: set RAG_MULTILINGUAL_MODEL_PATH to a"
            f" local copy of {MULTILINGUAL_MODEL} (fastembed's ONNX files), or run once where"
            " fastembed can download it"
        )
        print(reason)
        pytest.skip(reason)
    return base.with_overrides(embed_model=MULTILINGUAL_MODEL, embed_model_path=None)


@pytest.fixture(scope="module")
def multilingual(base_settings: Settings) -> Embedder:
    """The multilingual model, with the prefixes it needs."""
    return make_embedder(_multilingual_settings(base_settings))


@pytest.fixture(scope="module")
def spanish_vectors(multilingual) -> tuple[list[Chunk], np.ndarray]:
    """Pages 5-14 of the constitution (rights, nationality, the President), about a hundred
    chunks, embedded by the multilingual model."""
    pages = _constitution_pages()[4:14]
    chunks = chunk_pages(
        pages, doc_id="cl", source=CONSTITUTION, embedder=multilingual, size=200, overlap=20
    )
    counts = multilingual.count_tokens([chunk.text for chunk in chunks])
    assert max(counts) <= multilingual.identity.max_tokens
    return chunks, multilingual.embed_documents([chunk.text for chunk in chunks])


@pytest.mark.parametrize(
    ("question", "book_page"),
    [
        ("How many years is the President of the Republic's term of office?", 13),
        ("Is the death penalty allowed?", 5),
    ],
)
def test_an_english_question_finds_the_spanish_text(
    multilingual, spanish_vectors, question, book_page
):
    chunks, vectors = spanish_vectors
    page = book_page - 4  # the excerpt begins at page 5
    best = np.argsort(-(vectors @ multilingual.embed_query(question)))[:5]
    assert any(chunks[i].page_start <= page <= chunks[i].page_end for i in best), [
        chunks[i].text[:80] for i in best
    ]
