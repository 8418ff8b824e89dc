"""Chunk vectors mapped to 2-D or 3-D: PCA always, UMAP where the `umap` package is installed.

Distances on such a map are approximate: the caption of the lab's map says how much of the
variance each PCA axis shows.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field

import numpy as np

# UMAP's neighbour graph means little on fewer points than this; PCA is used instead.
UMAP_MIN_POINTS = 20
SEED = 0


@dataclass(frozen=True)
class PCA:
    """A principal component analysis fitted with an SVD of the centred vectors."""

    mean: np.ndarray = field(repr=False, compare=False)
    components: np.ndarray = field(repr=False, compare=False)
    # Share of the total variance along each component, largest first.
    explained_variance: tuple[float, ...]

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        """Coordinates of `vectors` (one row each, or a single vector) on the components."""
        return (np.atleast_2d(vectors) - self.mean) @ self.components.T


@dataclass(frozen=True)
class Projection:
    """Points mapped to 2-D or 3-D, and the method that did it ("pca" or "umap")."""

    method: str
    coords: np.ndarray = field(repr=False, compare=False)
    # Where the extra vector (a query) lands; None when there was none.
    extra: np.ndarray | None = field(repr=False, compare=False)
    explained_variance: tuple[float, ...]
    note: str = ""


def available_methods() -> tuple[str, ...]:
    """Projection methods that can run here: PCA always, UMAP when `umap` is installed."""
    return ("pca", "umap") if importlib.util.find_spec("umap") else ("pca",)


def fit_pca(vectors: np.ndarray, dimensions: int) -> PCA:
    """PCA by SVD of the centred rows; fewer rows than `dimensions` give zero axes."""
    vectors = np.asarray(vectors, dtype=np.float64)
    mean = vectors.mean(axis=0)
    _, singular, vt = np.linalg.svd(vectors - mean, full_matrices=False)
    # An SVD's signs are arbitrary: make each axis's largest loading positive, so the same
    # data always gives the same picture.
    signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])
    vt = vt * np.where(signs == 0, 1.0, signs)[:, None]
    variance = singular**2
    shares = variance / variance.sum() if variance.sum() > 0 else np.zeros_like(variance)
    components = np.zeros((dimensions, vectors.shape[1]))
    used = min(dimensions, len(vt))
    components[:used] = vt[:used]
    explained = [float(s) for s in shares[:used]] + [0.0] * (dimensions - used)
    return PCA(mean, components, tuple(explained))


def project(
    vectors: np.ndarray,
    dimensions: int,
    method: str = "pca",
    extra: np.ndarray | None = None,
    seed: int = SEED,
) -> Projection:
    """Map `vectors` (and an `extra` vector, such as a query) to `dimensions` axes.

    UMAP runs only where it is installed and there are enough points; otherwise PCA does,
    and the projection's note says why.
    """
    if method not in ("pca", "umap"):
        raise ValueError(f"unknown projection method {method!r}")
    note = ""
    if method == "umap" and "umap" not in available_methods():
        method, note = "pca", "UMAP is not installed (pip install umap-learn): PCA is shown."
    elif method == "umap" and len(vectors) < UMAP_MIN_POINTS:
        method, note = "pca", f"UMAP needs at least {UMAP_MIN_POINTS} chunks: PCA is shown."
    if method == "umap":
        import umap  # optional: only where the user installed it

        reducer = umap.UMAP(n_components=dimensions, metric="cosine", random_state=seed)
        coords = np.asarray(reducer.fit_transform(vectors))
        placed = None if extra is None else np.asarray(reducer.transform(np.atleast_2d(extra)))[0]
        return Projection(method, coords, placed, (), note)
    pca = fit_pca(vectors, dimensions)
    placed = None if extra is None else pca.transform(extra)[0]
    return Projection(method, pca.transform(vectors), placed, pca.explained_variance, note)
