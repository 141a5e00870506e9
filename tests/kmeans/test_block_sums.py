"""The per-block reduction of a Lloyd iteration (what vecclust.dask adds up block by block):
per-centre sums, counts and inertia of the nearest centres, in float64, the same for any
thread count."""

import numpy as np
import pytest

from vecclust import _core


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 37, 5000])
def test_block_sums_equal_a_numpy_oracle_and_do_not_depend_on_threads(dtype, n):
    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, 5)).astype(dtype)
    centers = rng.normal(size=(7, 5)).astype(dtype)
    out = _core.kmeans_block_sums(X, centers, n_threads=1)
    distances = ((X.astype(np.float64)[:, None] - centers.astype(np.float64)[None]) ** 2).sum(-1)
    nearest = distances.argmin(axis=1)
    counts = np.bincount(nearest, minlength=7).astype(np.float64)
    sums = np.zeros((7, 5))
    np.add.at(sums, nearest, X.astype(np.float64))
    np.testing.assert_array_equal(out["counts"], counts)
    np.testing.assert_allclose(out["sums"], sums, rtol=1e-6 if dtype == np.float32 else 1e-12, atol=1e-9)
    assert out["inertia"] == pytest.approx(distances.min(axis=1).sum(), rel=1e-5 if dtype == np.float32 else 1e-12)
    for threads in (2, 3):
        again = _core.kmeans_block_sums(X, centers, n_threads=threads)
        assert again["inertia"] == out["inertia"]
        np.testing.assert_array_equal(again["sums"], out["sums"])
