"""Fixtures for the vecclust benchmarks.

Everything expensive (the blobs, the n x n distance matrix, the initial medoids, the untimed
reference runs used for the loss checks) is built once per session and cached by its
parameters, so the timed sections contain only the library calls being compared.
"""

from __future__ import annotations

import numpy as np
import pytest
from benchconfig import N_CENTERS, N_FEATURES, all_cpus


class BenchData:
    """Session cache of the benchmark inputs, keyed by their parameters."""

    def __init__(self):
        self._blobs = {}
        self._matrices = {}
        self._results = {}

    def blobs(self, n: int) -> np.ndarray:
        """n x 32 float32 gaussian blobs around 50 centres (fixed seed)."""
        return self.features(n, N_FEATURES, N_CENTERS)

    def features(self, n: int, n_features: int, centers: int, dtype=np.float32) -> np.ndarray:
        """sklearn make_blobs(n, n_features, centers, random_state=0) as a read-only C array."""
        key = ("make_blobs", n, n_features, centers, np.dtype(dtype).str)
        if key not in self._blobs:
            from sklearn.datasets import make_blobs

            X, _ = make_blobs(n_samples=n, n_features=n_features, centers=centers, random_state=0)
            X = np.ascontiguousarray(X, dtype=dtype)
            X.setflags(write=False)
            self._blobs[key] = X
        return self._blobs[key]

    def scale_points(self, n: int, n_features: int, centers: int) -> np.ndarray:
        """The CLARA scale benchmark's float32 blobs (bench/kmedoids/clara_scale.make_points, seed 0)."""
        key = ("scale", n, n_features, centers)
        if key not in self._blobs:
            from clara_scale import make_points

            X = make_points(n, n_features, centers)
            X.setflags(write=False)
            self._blobs[key] = X
        return self._blobs[key]

    def distance_matrix(self, n: int) -> np.ndarray:
        """The float32 euclidean distance matrix of blobs(n), computed once (never timed)."""
        if n not in self._matrices:
            from vecclust import _core

            X = self.blobs(n)
            D = _core.pairwise_distances(X, X, metric="euclidean", n_threads=all_cpus())
            assert D.dtype == np.float32 and D.shape == (n, n)
            D.setflags(write=False)  # shared by every benchmark: nobody may modify it
            self._matrices[n] = D
        return self._matrices[n]

    @staticmethod
    def initial_medoids(n: int, k: int) -> np.ndarray:
        """The fixed initial medoids for (n, k), the same for every library."""
        return np.random.default_rng(0).choice(n, k, replace=False).astype(np.int64)

    def result(self, key, compute):
        """The result cached under `key`, computed (untimed) by `compute()` on first use."""
        if key not in self._results:
            self._results[key] = compute()
        return self._results[key]

    def store(self, key, value):
        """Cache a timed run's result so another benchmark need not recompute it."""
        self._results.setdefault(key, value)


@pytest.fixture(scope="session")
def bench_data() -> BenchData:
    return BenchData()
