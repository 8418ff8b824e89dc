"""The WordIndex contract (rag.stores.protocols), on tantivy and on the in-memory fake."""

from __future__ import annotations

import pytest

from rag.documents import chunk_id_for, doc_id_of
from rag.stores.protocols import WordIndex
from tests.fakes import make_chunk

TEXTS = {
    "rivers": [
        "The river runs quickly through the old town.",
        "A river, another river and a third river meet at the delta.",
        "Boats carry grain down the long river to the sea.",
    ],
    "taxes": [
        "Taxes are due in April; the form is on the title page.",
        "Late taxes cost a fee for each month they are late.",
    ],
    "birds": ["Swallows fly south before the winter comes."],
}


@pytest.fixture
def words(stores) -> WordIndex:
    """A word index holding the chunks of TEXTS."""
    index = stores.words
    index.add(
        [make_chunk(d, i, text) for d, texts in TEXTS.items() for i, text in enumerate(texts)]
    )
    return index


def docs(hits) -> set[str]:
    """The documents of some hits."""
    return {doc_id_of(hit.chunk_id) for hit in hits}


def test_search_finds_the_chunks_holding_a_word(words):
    assert docs(words.search("swallows", 10)) == {"birds"}
    assert {hit.chunk_id for hit in words.search("delta", 10)} == {chunk_id_for("rivers", 1)}


def test_search_gives_the_best_first_by_bm25(words):
    hits = words.search("river", 10)
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(score > 0 for score in scores)
    # Three times "river" in a chunk of like length beats once.
    assert hits[0].chunk_id == chunk_id_for("rivers", 1)
    assert len(hits) == 3


def test_search_matches_words_whatever_their_case(words):
    assert docs(words.search("RIVER Town", 10)) == {"rivers"}


def test_search_gives_at_most_n_hits(words):
    assert len(words.search("river", 2)) == 2
    assert len(words.search("the river", 1)) == 1


@pytest.mark.parametrize("n", [0, -1])
def test_search_for_no_hits_gives_none(words, n):
    assert words.search("river", n) == []


@pytest.mark.parametrize("query", ["", "   ", "zebra", "?!", "unindexedword"])
def test_search_with_no_indexed_word_gives_nothing(words, query):
    assert words.search(query, 10) == []


@pytest.mark.parametrize(
    "query",
    [
        'AND ( "',
        '"unclosed river',
        "river AND NOT taxes",
        "text:river",
        "doc_id:taxes",
        "river OR",
        "-river +taxes",
        "rive* taxes~2",
        "river^3",
        "[a TO z] {x TO y}",
        "\\ / : ! ( ) { } [ ] ^ ~ * ?",
        "'; DROP TABLE chunks; --",
    ],
)
def test_search_takes_any_text_as_words_never_syntax(words, query):
    hits = words.search(query, 10)
    assert all(hit.score > 0 for hit in hits)


def test_quotes_and_operators_are_just_words(words):
    assert docs(words.search('"river"', 10)) == {"rivers"}
    assert docs(words.search("swallows OR (winter)", 10)) == {"birds"}
    assert docs(words.search("doc_id:birds fee", 10)) == {"taxes"}


def test_search_with_doc_ids_keeps_to_those_documents(words):
    assert docs(words.search("the", 10, ["taxes", "birds"])) == {"taxes", "birds"}
    assert words.search("river", 10, ["taxes"]) == []
    assert words.search("river", 10, ["unknown"]) == []


@pytest.mark.parametrize("doc_ids", [None, []])
def test_search_without_doc_ids_searches_everything(words, doc_ids):
    assert docs(words.search("the", 10, doc_ids)) == {"rivers", "taxes", "birds"}


def test_adding_an_indexed_chunk_id_replaces_it(words):
    words.add([make_chunk("birds", 0, "Owls hunt at night.")])
    assert words.count() == 6
    assert words.search("swallows", 10) == []
    assert [hit.chunk_id for hit in words.search("owls", 10)] == [chunk_id_for("birds", 0)]


def test_delete_documents_removes_all_their_chunks(words):
    words.delete_documents(["rivers", "birds"])
    assert words.search("river", 10) == []
    assert words.search("swallows", 10) == []
    assert words.count() == 2
    assert words.chunk_counts() == {"taxes": 2}


def test_delete_documents_ignores_unknown_ids_and_an_empty_list(words):
    words.delete_documents(["unknown"])
    words.delete_documents([])
    assert words.count() == 6


def test_chunk_counts_per_document_with_chunks(words):
    assert words.chunk_counts() == {"rivers": 3, "taxes": 2, "birds": 1}


def test_an_empty_index_counts_and_finds_nothing(stores):
    assert stores.words.count() == 0
    assert stores.words.chunk_counts() == {}
    assert stores.words.search("river", 10) == []


def test_count_is_the_number_of_chunks_indexed(words):
    assert words.count() == 6
    words.add([make_chunk("birds", 1, "Geese fly in a V.")])
    assert words.count() == 7
