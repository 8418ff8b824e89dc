"""How to search and what retrieval returns: every chunk with every score, its kind and rank."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum

from rag.documents import Chunk, page_label, with_header


class SearchMode(StrEnum):
    """Which retrievers run: the vector store, the lexical index, or both fused."""

    VECTOR = "vector"
    BM25 = "bm25"
    HYBRID = "hybrid"


class Fusion(StrEnum):
    """How hybrid search merges the two lists: by rank alone, or by normalised scores."""

    RRF = "rrf"
    RELATIVE = "relative"


class VectorIndex(StrEnum):
    """Which index vector search uses: Chroma's HNSW graph, or bits with rescoring."""

    HNSW = "hnsw"
    BINARY = "binary"


# The constant from Cormack et al. (2009); it damps the weight of the very first ranks.
DEFAULT_RRF_K = 60


@dataclass(frozen=True)
class SearchOptions:
    """How to search. Minimum scores apply to each retriever's own list before fusion."""

    mode: SearchMode = SearchMode.HYBRID
    k: int = 5
    # Relative score fusion: it keeps how sure each retriever is, which RRF's ranks discard
    # (Bruch et al. 2023, "An Analysis of Fusion Functions for Hybrid Retrieval"; measured on
    # SciFact in BENCHMARKS.md).
    fusion: Fusion = Fusion.RELATIVE
    rrf_k: int = DEFAULT_RRF_K
    vector_weight: float = 1.0
    bm25_weight: float = 1.0
    doc_ids: tuple[str, ...] = ()
    min_vector: float | None = None
    min_bm25: float | None = None
    min_fused: float | None = None
    # Each retriever proposes this many candidates (at least k) before fusion.
    candidates: int = 50
    # BINARY: sign bits in memory, candidates rescored in float32 (rag.binary_index).
    vector_index: VectorIndex = VectorIndex.HNSW
    # Score the first `rerank_candidates` chunks of the ranking again with the configured
    # reranker (a cross-encoder reads query and chunk together) and reorder them.
    rerank: bool = False
    rerank_candidates: int = 30

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError("k must be at least 1")
        if self.rerank_candidates < 1:
            raise ValueError("rerank_candidates must be at least 1")
        object.__setattr__(self, "mode", SearchMode(self.mode))
        object.__setattr__(self, "fusion", Fusion(self.fusion))
        object.__setattr__(self, "vector_index", VectorIndex(self.vector_index))


@dataclass(frozen=True)
class ScoreKind:
    """What a score means, so no number is shown without its scale."""

    name: str
    label: str
    scale: str
    higher_is_better: bool = True

    def describe(self) -> str:
        """A short label for people, for example "cosine similarity, -1..1"."""
        return f"{self.label}, {self.scale}"


VECTOR_SCORE = ScoreKind("vector", "cosine similarity", "-1..1")
BM25_SCORE = ScoreKind("bm25", "BM25", "unbounded")
FUSED_SCORE = ScoreKind("fused", "RRF", "sum of weight / (k + rank)")
RELATIVE_SCORE = ScoreKind("fused", "relative score", "0..1, weighted mean of min-max scores")
FUSED_SCORES = {Fusion.RRF: FUSED_SCORE, Fusion.RELATIVE: RELATIVE_SCORE}
NOT_RETURNED = "not returned"
# Where a reranker ran but did not score a chunk (beyond its candidates, or it failed).
NOT_RERANKED = "not reranked"


@dataclass(frozen=True)
class Score:
    """One retriever's verdict on one chunk: the score and the 1-based rank it gave."""

    kind: ScoreKind
    value: float
    rank: int

    def as_dict(self) -> dict[str, float | int | str]:
        """JSON-friendly form."""
        return {"score": self.value, "rank": self.rank, "kind": self.kind.describe()}


@dataclass(frozen=True)
class ScoredChunk:
    """A retrieved chunk. A score is None where its retriever did not return the chunk.

    `rank` is the final place; each score keeps the rank its own list gave (a reranked
    chunk's fused rank is still its place in the fused list).
    """

    rank: int
    chunk_id: str
    doc_id: str
    source: str
    page_start: int
    page_end: int
    text: str
    vector: Score | None
    bm25: Score | None
    fused: Score | None
    # The chunk's document title and section ("" for chunks stored without one).
    header: str = ""
    # Its place in its format's terms ("slide 4"); "" for pages. Whether text recognition
    # read any of it from a scanned page.
    location: str = ""
    ocr: bool = False
    # The reranker's score and rank; None where no reranker scored the chunk.
    rerank: Score | None = None
    # The knowledge base it came from when several were searched together; "" for one.
    knowledge_base: str = ""

    @classmethod
    def of(
        cls, chunk: Chunk, rank: int, *, vector: Score | None, bm25: Score | None, fused=None
    ) -> ScoredChunk:
        """A stored chunk at `rank`, with the scores its retrievers gave it."""
        c = chunk
        return cls(
            rank, c.chunk_id, c.doc_id, c.source, c.page_start, c.page_end, c.text,
            vector, bm25, fused, header=c.header, location=c.location, ocr=c.ocr,
        )  # fmt: skip

    def scores(self) -> dict[str, Score | None]:
        """The four scores by name, in display order: vector, BM25, fused, rerank."""
        return {
            "vector": self.vector,
            "bm25": self.bm25,
            "fused": self.fused,
            "rerank": self.rerank,
        }

    def indexed_text(self) -> str:
        """What was embedded and indexed for this chunk (and what a reranker reads): its
        header, then its text."""
        return with_header(self.header, self.text)

    @property
    def pages(self) -> str:
        """Where it is, as citations say: "p. 3", "pp. 3-4", "slide 4", "sheet Revenue,
        rows 2-40", "chapter 3" or "section Risk factors"."""
        return self.location or page_label(self.page_start, self.page_end)

    def as_dict(self) -> dict:
        """JSON-friendly form; a missing score is null."""
        return {
            "rank": self.rank,
            "chunk_id": self.chunk_id,
            "doc_id": self.doc_id,
            "source": self.source,
            "page_start": self.page_start,
            "page_end": self.page_end,
            "header": self.header,
            "location": self.pages,
            "ocr": self.ocr,
            "knowledge_base": self.knowledge_base,
            "text": self.text,
            "scores": {k: (s.as_dict() if s else None) for k, s in self.scores().items()},
        }


@dataclass(frozen=True)
class SearchTimings:
    """Milliseconds each step of one search took; None for a step that did not run.

    BM25 runs beside query embedding and vector search, so the steps overlap; `total_ms` is
    the wall time of the whole search.
    """

    embed_ms: float | None = None
    vector_ms: float | None = None
    bm25_ms: float | None = None
    # Fusion, and reading the fused top-k chunks from the store.
    fusion_ms: float | None = None
    # Scoring the candidates again with the reranker and reordering them.
    rerank_ms: float | None = None
    total_ms: float = 0.0

    def as_dict(self) -> dict[str, float]:
        """The steps that ran, by name (as `--json` prints them)."""
        return {name: ms for name, ms in asdict(self).items() if ms is not None}


@dataclass(frozen=True)
class SearchResult:
    """The chunks found for a query, how they were found, and how long each step took.

    `reranker` names the reranker asked to reorder them (None when none was); `notice` tells
    the user something went otherwise than asked (no reranker, or it failed).
    """

    query: str
    mode: SearchMode
    chunks: tuple[ScoredChunk, ...]
    timings: SearchTimings = field(default_factory=SearchTimings)
    reranker: str | None = None
    notice: str | None = None

    def as_dict(self) -> dict:
        """JSON-friendly form, as `python -m rag.search --json` prints it."""
        data = {
            "query": self.query,
            "mode": self.mode.value,
            "results": [chunk.as_dict() for chunk in self.chunks],
            "timings_ms": self.timings.as_dict(),
        }
        extra = {"reranker": self.reranker, "notice": self.notice}
        return data | {name: value for name, value in extra.items() if value is not None}
