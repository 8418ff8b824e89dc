"""Embedding ahead while a document is read: which chunks, when, and never in the way."""

from __future__ import annotations

import threading
import time

import numpy as np

from ingest.parsing import ParsedFile
from ingest.speculation import ROUND_PAGES, Speculation, vectors_for
from rag.documents import Chunk


def _chunks(parsed: ParsedFile) -> list[Chunk]:
    """One chunk per page, its header the document's title."""
    return [
        Chunk(f"c{n}", "d", n, text, "f.pdf", n, n, 0, len(text), 1, header=parsed.title)
        for n, text in enumerate(parsed.pages, start=1)
    ]


class _Embedder:
    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.texts += texts
        return np.array([[float(len(text)), 1.0] for text in texts])


def _read(speculation: Speculation, pages: int, outline=((1, ("Part",)),), pause=0.0) -> None:
    entries = [[page, list(path)] for page, path in outline]
    speculation.listen({"document": {"title": "T", "outline": entries}})
    for number in range(1, pages + 1):
        speculation.listen({"page": [number, pages, f"page {number}"]})
        time.sleep(pause)


def test_chunks_before_the_last_page_read_are_embedded_with_their_header():
    embed = _Embedder()
    speculation = Speculation(_chunks, embed, threading.Lock())
    _read(speculation, 3 * ROUND_PAGES, pause=0.01)
    vectors = speculation.finish()
    assert vectors and set(vectors) == set(embed.texts)
    assert all(text.startswith("T") for text in vectors)
    pages = sorted(int(text.rsplit(" ", 1)[1]) for text in vectors)
    assert pages == list(range(1, len(pages) + 1))  # in order, none twice
    assert pages[-1] < 3 * ROUND_PAGES  # never the last page read: it may continue


def test_a_short_document_costs_no_embedding():
    embed = _Embedder()
    speculation = Speculation(_chunks, embed, threading.Lock())
    _read(speculation, ROUND_PAGES - 1)
    assert speculation.finish() == {} and embed.texts == []


def test_without_an_outline_only_chunks_alike_in_two_chunkings_and_known_headings():
    embed = _Embedder()
    speculation = Speculation(_chunks, embed, threading.Lock())
    speculation.listen({"headings": [10, []]})
    _read(speculation, 3 * ROUND_PAGES, outline=(), pause=0.01)
    vectors = speculation.finish()
    assert vectors  # the second chunking agreed with the first up to page 10
    assert max(int(text.rsplit(" ", 1)[1]) for text in vectors) <= 10


def test_a_busy_embedder_is_left_alone_and_finish_does_not_wait_for_it():
    embed, busy = _Embedder(), threading.Lock()
    speculation = Speculation(_chunks, embed, busy)
    with busy:  # another file's chunks are being embedded
        _read(speculation, 3 * ROUND_PAGES, pause=0.005)
        started = time.monotonic()
        assert speculation.finish() == {}
        assert time.monotonic() - started < 1
    assert embed.texts == []


def test_a_forecast_that_fails_costs_nothing_but_itself():
    def broken(parsed: ParsedFile) -> list[Chunk]:
        raise ValueError("no usable text yet")

    speculation = Speculation(broken, _Embedder(), threading.Lock())
    _read(speculation, 2 * ROUND_PAGES, pause=0.005)
    assert speculation.finish() == {}


def test_vectors_for_takes_the_known_and_embeds_the_rest_once_in_order():
    embed = _Embedder()
    known = {"b": np.array([9.0, 9.0])}
    rows = vectors_for(["aa", "b", "aa", "cccc"], known, embed)
    assert rows.tolist() == [[2, 1], [9, 9], [2, 1], [4, 1]]
    assert embed.texts == ["aa", "cccc"]
    assert vectors_for(["b"], known, embed).tolist() == [[9, 9]] and embed.texts == ["aa", "cccc"]
