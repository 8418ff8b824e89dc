"""The BM25 index: CJK bigrams, free text never parsed as syntax, and incremental updates."""

from __future__ import annotations

import pytest

from rag.documents import Chunk, chunk_id_for
from rag.stores.lexical import LexicalIndex, cjk_bigrams
from rag.stores.protocols import WordHit


@pytest.mark.parametrize(
    ("text", "grams"),
    [
        ("東京都", ["東京", "京都"]),  # Japanese kanji
        ("すし", ["すし"]),  # hiragana
        ("カタカナ", ["カタ", "タカ", "カナ"]),  # katakana
        ("北京大学", ["北京", "京大", "大学"]),  # Chinese
        ("한국어", ["한국", "국어"]),  # Korean
        ("猫", ["猫"]),  # a lone character stands for itself
        ("私は猫", ["私は", "は猫"]),
    ],
)
def test_cjk_bigrams_of_one_run(text, grams):
    assert cjk_bigrams(text) == grams


def test_cjk_bigrams_of_mixed_text_keep_runs_apart():
    text = "Tokyo 東京 and 大阪, 猫 or 한국어!"
    assert cjk_bigrams(text) == ["東京", "大阪", "猫", "한국", "국어"]


def test_cjk_bigrams_do_not_bridge_punctuation():
    assert cjk_bigrams("東京。大阪、京都") == ["東京", "大阪", "京都"]


@pytest.mark.parametrize("text", ["", "plain English", "Привет мир", "مرحبا بالعالم", "123 ..."])
def test_no_cjk_no_bigrams(text):
    assert cjk_bigrams(text) == []


def make_chunk(doc_id: str, index: int, text: str) -> Chunk:
    return Chunk(
        chunk_id=chunk_id_for(doc_id, index),
        doc_id=doc_id,
        index=index,
        text=text,
        source=f"{doc_id}.pdf",
        page_start=1,
        page_end=1,
        char_start=0,
        char_end=len(text),
        tokens=len(text.split()),
    )


TEXTS = {
    "eng": [
        "The river runs quickly through the old town.",
        "Taxes are due in April; see the title page for details.",
        "A cat sat on the mat and purred.",
    ],
    "esp": [
        "La constitución garantiza la libertad de expresión.",
        "El río cruza la ciudad antigua.",
    ],
    "jpn": ["吾輩は猫である。名前はまだ無い。", "東京都に住んでいます。"],
    "ara": ["الكتاب على الطاولة", "ذهب الولد إلى المدرسة"],
}


@pytest.fixture
def index(tmp_path) -> LexicalIndex:
    lexical = LexicalIndex(tmp_path / "lexical")
    lexical.add(
        [make_chunk(doc, i, text) for doc, texts in TEXTS.items() for i, text in enumerate(texts)]
    )
    return lexical


def ids(hits: list[WordHit]) -> list[str]:
    return [hit.chunk_id for hit in hits]


def test_finds_the_chunk_with_the_words(index):
    hits = index.search("cat mat", 5)
    assert ids(hits) == [chunk_id_for("eng", 2)]
    assert hits[0].score > 0


def test_hits_are_best_first(index):
    index.add([make_chunk("eng", 3, "cat cat cat and a mat")])
    hits = index.search("cat", 5)
    assert ids(hits)[0] == chunk_id_for("eng", 3)
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_n_limits_the_hits(index):
    assert len(index.search("the", 10)) == 3
    assert len(index.search("the", 2)) == 2
    assert index.search("the", 0) == []


@pytest.mark.parametrize(
    "query",
    [
        "AND OR NOT",
        "title:foo",
        '"unclosed',
        "a^2 (b",
        "*",
        "+-!",
        "river AND",
        "field:value OR",
        "(((",
        "~2 river~ [a TO z] {x}",
        "\\",
        "",
        "   ",
    ],
)
def test_query_syntax_is_never_interpreted(index, query):
    hits = index.search(query, 5)
    assert isinstance(hits, list)
    assert all(isinstance(hit, WordHit) for hit in hits)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("*", []),
        ("+-!", []),
        ('"unclosed', []),
        ("title:foo", [chunk_id_for("eng", 1)]),  # "title" is a word of that chunk
        ("river NOT", [chunk_id_for("eng", 0)]),
        ('"old town', [chunk_id_for("eng", 0)]),
        ("cat^2 (mat", [chunk_id_for("eng", 2)]),
        ("-cat", [chunk_id_for("eng", 2)]),  # not a negation: just the word
    ],
)
def test_operators_are_plain_words(index, query, expected):
    assert ids(index.search(query, 5)) == expected


def test_stemming_matches_other_forms(index):
    assert ids(index.search("running", 5)) == [chunk_id_for("eng", 0)]
    assert ids(index.search("Tax", 5)) == [chunk_id_for("eng", 1)]


def test_case_and_accents_are_folded(index):
    assert ids(index.search("constitucion", 5)) == [chunk_id_for("esp", 0)]
    assert ids(index.search("CONSTITUCIÓN", 5)) == [chunk_id_for("esp", 0)]
    assert ids(index.search("rio", 5)) == [chunk_id_for("esp", 1)]


def test_japanese_is_found_without_spaces(index):
    assert ids(index.search("東京", 5)) == [chunk_id_for("jpn", 1)]
    assert ids(index.search("東京に行きます", 5)) == [chunk_id_for("jpn", 1)]
    assert ids(index.search("名前は何", 5))[0] == chunk_id_for("jpn", 0)
    assert index.search("大阪", 5) == []


def test_single_cjk_character_query_finds_it_inside_a_run(index):
    # Many common words are one character ("猫", cat): found inside running text too.
    assert ids(index.search("猫", 5)) == [chunk_id_for("jpn", 0)]


def test_arabic_words_are_found(index):
    assert ids(index.search("الكتاب", 5)) == [chunk_id_for("ara", 0)]
    assert ids(index.search("المدرسة", 5)) == [chunk_id_for("ara", 1)]


def test_doc_ids_filter(index):
    assert ids(index.search("río river", 5, doc_ids=["esp"])) == [chunk_id_for("esp", 1)]
    both = ids(index.search("río river", 5, doc_ids=["esp", "eng"]))
    assert set(both) == {chunk_id_for("esp", 1), chunk_id_for("eng", 0)}
    assert index.search("river", 5, doc_ids=["jpn"]) == []
    assert index.search("river", 5, doc_ids=["no-such-doc"]) == []
    # An empty filter means no filter.
    assert ids(index.search("river", 5, doc_ids=[])) == [chunk_id_for("eng", 0)]


def test_chunk_counts_per_document(index):
    assert index.chunk_counts() == {"eng": 3, "esp": 2, "jpn": 2, "ara": 2}
    assert index.count() == 9


def test_empty_index(tmp_path):
    empty = LexicalIndex(tmp_path / "empty")
    assert empty.count() == 0
    assert empty.chunk_counts() == {}
    assert empty.search("anything", 5) == []


def test_delete_documents_removes_every_chunk_of_them(index):
    index.delete_documents(["eng", "jpn"])
    assert index.search("river", 5) == []
    assert index.search("猫", 5) == []
    assert index.chunk_counts() == {"esp": 2, "ara": 2}
    assert index.count() == 4
    index.delete_documents(["no-such-doc"])
    assert index.count() == 4


def test_readding_a_chunk_replaces_it(index):
    index.add([make_chunk("eng", 0, "The river runs quickly through the old town.")])
    assert index.count() == 9
    assert ids(index.search("river", 5)) == [chunk_id_for("eng", 0)]
    index.add([make_chunk("eng", 0, "A lighthouse on the cliff.")])
    assert index.count() == 9
    assert index.chunk_counts()["eng"] == 3
    assert index.search("river", 5) == []
    assert ids(index.search("lighthouse", 5)) == [chunk_id_for("eng", 0)]


def test_index_persists_when_reopened(tmp_path):
    first = LexicalIndex(tmp_path / "lexical")
    first.add([make_chunk("doc", 0, "persistent words survive a restart")])
    del first
    reopened = LexicalIndex(tmp_path / "lexical")
    assert reopened.count() == 1
    assert ids(reopened.search("restart", 5)) == [chunk_id_for("doc", 0)]
    assert reopened.chunk_counts() == {"doc": 1}
