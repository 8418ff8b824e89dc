"""Embedding a long PDF's first chunks while its later pages are still being read.

Reading the 352-page book takes 8 s before its first chunk could be embedded. The parser
process sends each page as it reads it (`ingest.pdf_stream`); from the pages so far, this
chunks the document provisionally now and then and embeds the chunks that lie before the
last page read, keyed by the exact text embedded. A document without an outline takes its
sections from headings known only for the pages read so far: there, only chunks that came
out the same in two chunkings are embedded. Once the
file is read, the document is chunked for real as always, and a chunk whose text was
embedded early takes that vector: the outcome is what it would have been, only sooner.
A forecast that turns out wrong (a scanned page read later, headings that change) costs
some embedding, never a wrong vector.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ingest.parsing import ParsedFile, heading_entries, outline_entries
from rag.documents import Chunk

log = logging.getLogger(__name__)

# Pages read between two provisional chunkings: each costs a chunking of all pages so far.
ROUND_PAGES = 24
# Chunks embedded at a time: small, so that the embedder is soon free for other files.
BATCH = 32
# How long to wait for the embedder while another file's chunks are being embedded.
POLL_S = 0.05

Vectors = Mapping[str, np.ndarray]


class Speculation:
    """Embeds chunks of a document being read, as its pages arrive (`listen`).

    `chunk` cuts a provisional ParsedFile into chunks; `embed` makes their vectors; the
    embedder is used only while `embedder` (a lock that ingestion holds while embedding)
    is free, so a file waiting its turn never slows the one being committed.
    """

    def __init__(
        self,
        chunk: Callable[[ParsedFile], Sequence[Chunk]],
        embed: Callable[[list[str]], np.ndarray],
        embedder: threading.Lock,
    ) -> None:
        self._chunk, self._embed, self._embedder = chunk, embed, embedder
        self._pages: list[str] = []
        self._total = 0  # pages in the document
        self._title = ""
        self._outline: tuple | None = None  # None until the parser has sent it
        self._headings: tuple = ()
        self._headings_through = 0
        self._vectors: dict[str, np.ndarray] = {}
        self._forecast_at = 0  # pages read at the last forecast
        self._arrived = threading.Condition()
        self._done = False
        self._thread: threading.Thread | None = None

    def listen(self, message: dict) -> None:
        """Take one line the parser sent before its reply."""
        with self._arrived:
            if "document" in message:
                self._title = str(message["document"]["title"])
                self._outline = outline_entries(message["document"]["outline"])
            elif "headings" in message:
                through, found = message["headings"]
                self._headings, self._headings_through = heading_entries(found), int(through)
            elif "page" in message:
                _, self._total, text = message["page"]
                self._pages.append(str(text))
                self._start_once_worthwhile()
            self._arrived.notify()

    def finish(self) -> Vectors:
        """Stop (after the batch being embedded, if any); the vectors made, by text."""
        with self._arrived:
            self._done = True
            self._arrived.notify()
        if self._thread is not None:
            self._thread.join()
        return dict(self._vectors)

    def _start_once_worthwhile(self) -> None:
        # A short document is read before a round would pay: no thread for it.
        if self._thread is None and len(self._pages) >= ROUND_PAGES:
            self._thread = threading.Thread(target=self._run, name="speculation", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        seen: set[str] = set()
        try:
            while (forecast := self._next_forecast()) is not None:
                seen = self._round(*forecast, seen)
        except Exception:  # a forecast must never cost the file: it is read as always
            log.exception("Embedding pages ahead of the end of the file failed")

    def _next_forecast(self) -> tuple[ParsedFile, int] | None:
        """(the pages read so far as a provisional file, the last page whose chunks may be
        embedded), once a round's worth of pages has arrived; None when finished."""
        with self._arrived:
            wanted = self._forecast_at + ROUND_PAGES
            self._arrived.wait_for(lambda: self._done or len(self._pages) >= wanted)
            self._forecast_at = len(self._pages)
            if self._done or self._outline is None:
                return None
            # The pages not read yet, as empty pages: every bookmark then has its page, and
            # the chunk size, which leaves room for the longest header, is the final one.
            pages = (*self._pages, *[""] * (self._total - len(self._pages)))
            headings, title = self._headings, self._title
            parsed = ParsedFile(pages, title=title, outline=self._outline, headings=headings)
            # The last page may continue on the next; without an outline, sections come
            # from headings, known only up to the pages they were worked out on.
            last = len(self._pages) - 1  # (and the pages after it are empty here)
            if not self._outline:
                last = min(last, self._headings_through)
            return parsed, last

    def _round(self, parsed: ParsedFile, last: int, seen: set[str]) -> set[str]:
        """Chunk the provisional file and embed its settled chunks up to page `last`; the
        texts of this round's chunks there."""
        try:
            chunks = self._chunk(parsed)
        except Exception:
            return seen  # nothing usable yet (too little text): wait for more pages
        texts = [chunk.indexed_text() for chunk in chunks if chunk.page_end <= last]
        settled = (lambda text: text in seen) if not parsed.outline else (lambda text: True)
        todo = [t for t in dict.fromkeys(texts) if settled(t) and t not in self._vectors]
        for start in range(0, len(todo), BATCH):
            if not self._embed_when_free(todo[start : start + BATCH]):
                break
        return set(texts)

    def _embed_when_free(self, texts: list[str]) -> bool:
        """Embed `texts` once the embedder is free; False when finished first."""
        while not self._embedder.acquire(timeout=POLL_S):
            if self._done:
                return False
        try:
            vectors = self._embed(texts)
        finally:
            self._embedder.release()
        self._vectors.update(zip(texts, vectors, strict=True))
        return not self._done


def vectors_for(
    texts: list[str], known: Vectors, embed: Callable[[list[str]], np.ndarray]
) -> np.ndarray:
    """The vectors of `texts`, one row each: those `known`, the others embedded now."""
    missing = [text for text in dict.fromkeys(texts) if text not in known]
    made = dict(zip(missing, embed(missing), strict=True)) if missing else {}
    return np.vstack([known[text] if text in known else made[text] for text in texts])
