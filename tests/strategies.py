"""Hypothesis strategies and small data generators shared by the test modules."""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays


@st.composite
def integer_matrices(draw, min_n: int = 2, max_n: int = 20) -> np.ndarray:
    """A valid integer-valued float64 dissimilarity matrix (small values, so many ties):
    either rounded Euclidean distances of integer grid points (metric, with duplicates) or
    an arbitrary symmetric non-negative integer matrix (not metric). Never all zero."""
    n = draw(st.integers(min_n, max_n))
    if draw(st.booleans()):
        dim = draw(st.integers(1, 3))
        points = draw(arrays(np.int64, (n, dim), elements=st.integers(0, 6)))
        diss = np.rint(np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=-1)))
    else:
        upper = np.triu(draw(arrays(np.int64, (n, n), elements=st.integers(0, 9))), 1)
        diss = (upper + upper.T).astype(np.float64)
    assume(diss.any())
    return diss


@st.composite
def matrix_and_medoids(draw, min_n: int = 2, max_n: int = 20, max_k: int = 6):
    """(integer matrix, distinct initial medoid indices) with 1 <= k <= min(n, max_k)."""
    diss = draw(integer_matrices(min_n, max_n))
    n = diss.shape[0]
    k = draw(st.integers(1, min(n, max_k)))
    order = draw(st.permutations(range(n)))
    return diss, np.array(order[:k], dtype=np.int64)


def random_points(n: int, dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim))


def euclidean_matrix(points: np.ndarray) -> np.ndarray:
    diff = points[:, None, :] - points[None, :, :]
    diss = np.sqrt((diff**2).sum(axis=-1))
    return (diss + diss.T) / 2  # exactly symmetric, zero diagonal


def random_symmetric(n: int, seed: int) -> np.ndarray:
    """Continuous random dissimilarities (not metric); ties have probability zero."""
    upper = np.triu(np.random.default_rng(seed).uniform(0.1, 10.0, size=(n, n)), 1)
    return upper + upper.T


def separated_blobs(n_per_cluster: int = 30, seed: int = 0, dtype=np.float64):
    """Four tight, far-apart clusters in 3-d, also well separated in angle (for cosine)."""
    centers = np.array([[20.0, 1.0, 1.0], [1.0, 20.0, 1.0], [1.0, 1.0, 20.0], [20.0, 20.0, -15.0]])
    rng = np.random.default_rng(seed)
    X = np.concatenate([c + 0.5 * rng.normal(size=(n_per_cluster, 3)) for c in centers])
    y = np.repeat(np.arange(len(centers)), n_per_cluster)
    perm = rng.permutation(len(X))
    return X[perm].astype(dtype), y[perm]
