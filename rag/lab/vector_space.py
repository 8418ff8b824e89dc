"""The vector space of a collection, to see why vector search returns what it does.

A sample of the visible chunks' stored vectors is projected to 2-D or 3-D (PCA, or UMAP where
the `umap` package is installed); a query and its top-k vector results are placed in the same
space; a query's similarities to every sampled chunk show how its scores spread; a chunk's
nearest neighbours come from the store itself. Stored vectors are unit length, so a dot
product is the cosine similarity that vector search ranks by.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from rag.distances import DistanceRow, measure_all_ways
from rag.documents import Chunk, doc_id_of, page_label
from rag.lab.projection import Projection, project
from rag.lab.sampling import SEED, read_unit_vectors, sample_ids, unit
from rag.results import SearchOptions
from rag.stores.library import Library
from rag.stores.protocols import VectorHit
from rag.stores.storage import storage_errors

DEFAULT_SAMPLE = 2_000
PREVIEW_CHARS = 160
PERCENTILES = (5, 25, 50, 75, 95)
BINS = 30


@dataclass(frozen=True)
class ChunkPoint:
    """A chunk as the map shows it: where it is from and the start of its text."""

    chunk_id: str
    doc_id: str
    source: str
    page_start: int
    page_end: int
    preview: str
    location: str = ""

    @property
    def pages(self) -> str:
        """ "p. 3", "pp. 3-4", or the place in its format's terms ("slide 4")."""
        return self.location or page_label(self.page_start, self.page_end)

    @classmethod
    def of(cls, chunk: Chunk) -> ChunkPoint:
        """The point of a stored chunk, its text cut to a one-line preview."""
        text = " ".join(chunk.text.split())
        if len(text) > PREVIEW_CHARS:
            text = text[: PREVIEW_CHARS - 1] + "…"
        c = chunk
        return cls(c.chunk_id, c.doc_id, c.source, c.page_start, c.page_end, text, c.location)


@dataclass(frozen=True)
class VectorSample:
    """Stored vectors of (a sample of) the visible chunks, one row per point, by chunk id."""

    points: tuple[ChunkPoint, ...]
    vectors: np.ndarray = field(repr=False, compare=False)
    total: int

    @property
    def size(self) -> int:
        """How many chunks are in the sample."""
        return len(self.points)


@dataclass(frozen=True)
class MapPoint:
    """A chunk on the map; `rank` is set for the query's top-k vector results."""

    chunk: ChunkPoint
    coords: tuple[float, ...]
    similarity: float | None = None
    rank: int | None = None


@dataclass(frozen=True)
class SpaceMap:
    """The sampled chunks (and the query, if any) projected to 2-D or 3-D."""

    method: str
    dimensions: int
    points: tuple[MapPoint, ...]
    query_coords: tuple[float, ...] | None
    # PCA only: the share of variance each axis shows. Empty for UMAP.
    explained_variance: tuple[float, ...]
    sample_size: int
    total: int
    note: str = ""


@dataclass(frozen=True)
class ScoreSpread:
    """How one query's cosine similarities spread over the chunks, as a histogram."""

    query: str
    k: int
    # "collection" when every visible chunk was scored, "sample" otherwise.
    scope: str
    count: int
    total: int
    kth_score: float | None
    # Share of the scored chunks (0..100) below the k-th result's score.
    kth_percentile: float | None
    mean: float
    percentiles: dict[int, float]
    bin_edges: tuple[float, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True)
class Neighbour:
    """A chunk near another one, by the cosine similarity of their stored vectors."""

    rank: int
    chunk: ChunkPoint
    similarity: float


@dataclass(frozen=True)
class Exploration:
    """What the embedding lab shows for one query: the map and how the scores spread."""

    vector_map: SpaceMap
    spread: ScoreSpread | None


# Pure helpers ---------------------------------------------------------------------------


def score_spread(
    similarities: np.ndarray, query: str, top: Sequence[float], k: int, total: int
) -> ScoreSpread:
    """The histogram and summary of `similarities`, with the true top-k scores marked."""
    sims = np.asarray(similarities, dtype=np.float64)
    counts, edges = np.histogram(sims, bins=BINS)
    kth = float(top[k - 1]) if len(top) >= k else None
    return ScoreSpread(
        query=query,
        k=k,
        scope="collection" if len(sims) == total else "sample",
        count=len(sims),
        total=total,
        kth_score=kth,
        kth_percentile=None if kth is None else float((sims < kth).mean() * 100),
        mean=float(sims.mean()),
        percentiles={p: float(np.percentile(sims, p)) for p in PERCENTILES},
        bin_edges=tuple(float(e) for e in edges),
        counts=tuple(int(c) for c in counts),
    )


# Reading the store ----------------------------------------------------------------------


def read_sample(
    library: Library, limit: int = DEFAULT_SAMPLE, keep: Iterable[str] = (), seed: int = SEED
) -> VectorSample:
    """At most `limit` visible chunks with their vectors; the ids in `keep` always included."""
    reader = library.vector_reader()
    ids = reader.visible_chunk_ids()
    chunks, vectors = read_unit_vectors(reader, sample_ids(ids, limit, keep, seed))
    return VectorSample(tuple(ChunkPoint.of(c) for c in chunks), vectors, len(ids))


def vector_top_k(library: Library, vector: np.ndarray, k: int) -> list[VectorHit]:
    """The top-k visible chunks for a query vector, found as vector search finds them."""
    visible = library.visible_ids()
    # The same request as the retriever's vector search, so the scores agree exactly.
    fetch = max(SearchOptions().candidates, k)
    with storage_errors("search the vectors"):
        hits = library.search_vectors(vector, fetch)
    # The lab speaks in cosines whatever distance the collection ranks by (same order).
    cosine = library.distance.cosine
    return [
        replace(h, similarity=cosine(h.similarity))
        for h in hits
        if doc_id_of(h.chunk_id) in visible
    ][:k]


# What the page calls --------------------------------------------------------------------


def explore(
    library: Library,
    query: str = "",
    k: int = 5,
    dimensions: int = 2,
    method: str = "pca",
    limit: int = DEFAULT_SAMPLE,
) -> Exploration:
    """The map of the visible chunks, with a query's top-k marked and its score spread.

    The top-k results come from the vector store, as vector search finds them, and are
    always on the map even when the rest of the collection is sampled.
    """
    if dimensions not in (2, 3):
        raise ValueError("a map has 2 or 3 dimensions")
    query = query.strip()
    vector = unit(np.asarray(library.embed_query(query))) if query else None
    hits = vector_top_k(library, vector, k) if vector is not None else []
    sample = read_sample(library, limit, keep=[h.chunk_id for h in hits])
    if not sample.size:
        return Exploration(SpaceMap(method, dimensions, (), None, (), 0, sample.total), None)
    sims = None if vector is None else sample.vectors @ vector
    projection = project(sample.vectors, dimensions, method, extra=vector)
    spread = None
    if sims is not None:
        spread = score_spread(sims, query, [h.similarity for h in hits], k, sample.total)
    return Exploration(_space_map(sample, projection, sims, hits), spread)


def _space_map(
    sample: VectorSample, projection: Projection, sims: np.ndarray | None, hits: list[VectorHit]
) -> SpaceMap:
    ranks = {h.chunk_id: (rank, h.similarity) for rank, h in enumerate(hits, start=1)}
    points = []
    for i, (point, row) in enumerate(zip(sample.points, projection.coords, strict=True)):
        rank, reported = ranks.get(point.chunk_id, (None, None))
        # A top-k result shows the similarity the search reported, as the Search page does.
        similarity = reported if reported is not None or sims is None else float(sims[i])
        points.append(MapPoint(point, tuple(float(x) for x in row), similarity, rank))
    placed = projection.extra
    return SpaceMap(
        method=projection.method,
        dimensions=projection.coords.shape[1],
        points=tuple(points),
        query_coords=None if placed is None else tuple(float(x) for x in placed),
        explained_variance=projection.explained_variance,
        sample_size=sample.size,
        total=sample.total,
        note=projection.note,
    )


def nearest_neighbours(library: Library, chunk_id: str, n: int = 10) -> tuple[Neighbour, ...]:
    """The `n` visible chunks nearest to a chunk's stored vector (itself left out).

    Empty when the chunk is no longer in the library.
    """
    chunks, vectors = read_unit_vectors(library.vector_reader(), [chunk_id])
    if not chunks:
        return ()
    hits = [h for h in vector_top_k(library, vectors[0], n + 1) if h.chunk_id != chunk_id][:n]
    with storage_errors("read the chunks"):
        stored = library.stored_chunks([h.chunk_id for h in hits])
    return tuple(
        Neighbour(rank, ChunkPoint.of(stored[h.chunk_id]), h.similarity)
        for rank, h in enumerate((h for h in hits if h.chunk_id in stored), start=1)
    )


@dataclass(frozen=True)
class MeasuredResult:
    """One vector search result, its stored vector measured against the query three ways."""

    rank: int
    chunk: ChunkPoint
    measured: DistanceRow


def measure_results(library: Library, query: str, k: int = 5) -> tuple[MeasuredResult, ...]:
    """The query's top-k by vector search, each measured by cosine, dot and Euclidean
    distance from the vectors as stored (not re-normalised), to show how the three relate."""
    if not query.strip():
        return ()
    vector = library.embed_query(query)
    hits = vector_top_k(library, vector, k)
    chunks, vectors = library.vector_reader().read([h.chunk_id for h in hits])
    rows = measure_all_ways(vector, vectors)
    return tuple(
        MeasuredResult(rank, ChunkPoint.of(chunk), row)
        for rank, (chunk, row) in enumerate(zip(chunks, rows, strict=True), start=1)
    )
