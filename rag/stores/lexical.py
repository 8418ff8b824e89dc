"""The BM25 index: tantivy on disk, incremental, with user text never parsed as syntax.

Words are split, lower-cased, accent-folded and stemmed by tantivy. Chinese, Japanese and
Korean have no spaces between words, so runs of those scripts are also indexed as
overlapping character pairs in a second field (the usual bigram approach for CJK search).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from pathlib import Path

import tantivy

from rag.documents import CJK_CHARS, Chunk
from rag.errors import StoreError
from rag.stores.protocols import WordHit

_ANALYZER = "words"
_CJK_RUN = re.compile(f"[{CJK_CHARS}]+")
# Arabic short-vowel marks are usually left out when people type; index and query without.
_ARABIC_MARKS = re.compile(r"[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")
_WRITER_HEAP = 64_000_000


def _word_analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def cjk_bigrams(text: str) -> list[str]:
    """Overlapping character pairs of each CJK run; a lone character stands for itself."""
    grams: list[str] = []
    for run in _CJK_RUN.findall(text):
        if len(run) == 1:
            grams.append(run)
        grams.extend(run[i : i + 2] for i in range(len(run) - 1))
    return grams


def cjk_index_terms(text: str) -> list[str]:
    """What a document indexes for CJK: every character and every pair, so that both a
    one-character query and a longer one (matched by its pairs) find it."""
    return [char for run in _CJK_RUN.findall(text) for char in run] + cjk_bigrams(text)


def _fold(text: str) -> str:
    return _ARABIC_MARKS.sub("", text)


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("chunk_id", stored=True, tokenizer_name="raw")
    builder.add_text_field("doc_id", stored=True, fast=True, tokenizer_name="raw")
    builder.add_text_field("text", tokenizer_name=_ANALYZER, index_option="freq")
    builder.add_text_field("cjk", tokenizer_name="whitespace", index_option="freq")
    return builder.build()


class LexicalIndex:
    """A persistent BM25 index of chunks, one tantivy index in a folder (a `WordIndex`)."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self._schema = _schema()
        self._analyzer = _word_analyzer()
        try:
            self._index = tantivy.Index(self._schema, path=str(path), reuse=True)
        except ValueError as exc:
            # The folder's path stays out of the message: it reaches the page and the logs.
            raise StoreError(f"Could not open the BM25 index in the data folder: {exc}") from exc
        self._index.register_tokenizer(_ANALYZER, self._analyzer)
        self._write_lock = threading.Lock()

    def add(self, chunks: Sequence[Chunk]) -> None:
        """Index chunks and commit; re-adding a chunk id replaces it."""
        with self._write_lock:
            writer = self._writer()
            for chunk in chunks:
                writer.delete_documents_by_term("chunk_id", chunk.chunk_id)
                writer.add_document(self._document(chunk))
            self._commit(writer)

    def delete_documents(self, doc_ids: Sequence[str]) -> None:
        """Remove every chunk of these documents and commit."""
        with self._write_lock:
            writer = self._writer()
            for doc_id in doc_ids:
                writer.delete_documents_by_term("doc_id", doc_id)
            self._commit(writer)

    def search(self, query: str, n: int, doc_ids: Sequence[str] | None = None) -> list[WordHit]:
        """The `n` best chunks by BM25 for free text; any words, no query syntax."""
        text_query = self._text_query(query)
        if text_query is None or n <= 0:
            return []
        if doc_ids:
            allowed = tantivy.Query.term_set_query(self._schema, "doc_id", list(doc_ids))
            text_query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, text_query), (tantivy.Occur.Must, allowed)]
            )
        searcher = self._index.searcher()
        hits = searcher.search(text_query, limit=n, count=False).hits
        return [WordHit(searcher.doc(address)["chunk_id"][0], score) for score, address in hits]

    def chunk_counts(self) -> dict[str, int]:
        """Chunks per document id, from the index's own column of document ids."""
        searcher = self._index.searcher()
        if searcher.num_docs == 0:
            return {}
        spec = {"docs": {"terms": {"field": "doc_id", "size": 1_000_000}}}
        buckets = searcher.aggregate(tantivy.Query.all_query(), spec)["docs"]["buckets"]
        return {bucket["key"]: int(bucket["doc_count"]) for bucket in buckets}

    def count(self) -> int:
        """Chunks indexed."""
        return self._index.searcher().num_docs

    def _text_query(self, query: str) -> tantivy.Query | None:
        # Terms are built one by one, so quotes, AND, field:value and the like are just words.
        clauses = [
            (tantivy.Occur.Should, tantivy.Query.term_query(self._schema, field, term))
            for field, terms in (
                ("text", self._analyzer.analyze(query)),
                ("cjk", cjk_bigrams(query)),
            )
            for term in dict.fromkeys(terms)
        ]
        return tantivy.Query.boolean_query(clauses) if clauses else None

    def _document(self, chunk: Chunk) -> tantivy.Document:
        # The header is indexed with the text: a word of the title finds every chunk.
        text = chunk.indexed_text()
        return tantivy.Document(
            chunk_id=chunk.chunk_id,
            doc_id=chunk.doc_id,
            text=_fold(text),
            cjk=" ".join(cjk_index_terms(text)),
        )

    def _writer(self) -> tantivy.IndexWriter:
        try:
            return self._index.writer(_WRITER_HEAP, 1)
        except ValueError as exc:
            raise StoreError(f"The lexical index is locked by another process: {exc}") from exc

    def _commit(self, writer: tantivy.IndexWriter) -> None:
        writer.commit()
        writer.wait_merging_threads()
        self._index.reload()
