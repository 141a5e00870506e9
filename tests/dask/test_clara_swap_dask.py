"""The swap pass of vecclust.dask.CLARA's refinement and its block kernel, _core.swap_prices."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.datasets import make_blobs

from vecclust import _core

da = pytest.importorskip("dask.array")
vdask = pytest.importorskip("vecclust.dask")
from vecclust._dask.clara_refine import refine  # noqa: E402
from vecclust._dask.clara_swap import swap_pass  # noqa: E402

CDIST = {"euclidean": "euclidean", "sqeuclidean": "sqeuclidean", "manhattan": "cityblock", "cosine": "cosine"}


def brute_prices(X, medoids, candidates, metric):
    """The exact change of the loss for every (removed medoid, candidate) pair."""
    base = cdist(X, medoids, CDIST[metric]).min(axis=1).sum()
    out = np.empty((len(medoids), len(candidates)))
    for i in range(len(medoids)):
        for j in range(len(candidates)):
            swapped = medoids.copy()
            swapped[i] = candidates[j]
            out[i, j] = cdist(X, swapped, CDIST[metric]).min(axis=1).sum() - base
    return out


@pytest.mark.parametrize("metric", list(CDIST))
@pytest.mark.parametrize("shape", [(40, 3, 4, 6), (2500, 2, 3, 70)], ids=["small", "chunks_and_batches"])
def test_block_kernel_prices_equal_a_brute_force_oracle(metric, shape):
    n, d, k, c = shape
    rng = np.random.default_rng(n + k)
    X, M, C = rng.normal(size=(n, d)), rng.normal(size=(k, d)), rng.normal(size=(c, d))
    oracle = brute_prices(X, M, C, metric)
    prices = _core.swap_prices(X, M, C, metric=metric, n_threads=2)
    assert prices.shape == (k, c) and prices.dtype == np.float64
    np.testing.assert_allclose(prices, oracle, rtol=1e-9, atol=1e-9 * np.abs(oracle).max())
    f32 = _core.swap_prices(*(a.astype(np.float32) for a in (X, M, C)), metric=metric, n_threads=1)
    assert f32.dtype == np.float64
    np.testing.assert_allclose(f32, oracle, rtol=1e-3, atol=1e-4 * n)
    np.testing.assert_array_equal(prices, _core.swap_prices(X, M, C, metric=metric, n_threads=1))


def test_block_kernel_misuse_is_an_error():
    X = np.zeros((5, 2))
    with pytest.raises(TypeError, match="same dtype"):
        _core.swap_prices(X, X[:2].astype(np.float32), X[:1], metric="euclidean", n_threads=1)
    with pytest.raises(ValueError, match="at least one medoid"):
        _core.swap_prices(X, X[:0], X[:1], metric="euclidean", n_threads=1)
    with pytest.raises(ValueError, match="number of features"):
        _core.swap_prices(X, np.zeros((2, 3)), X[:1], metric="euclidean", n_threads=1)


@pytest.fixture(scope="module")
def three_blobs():
    X, y = make_blobs(600, n_features=2, centers=[(0, 0), (100, 0), (100, 4)], cluster_std=0.3, random_state=0)
    return X.astype(np.float32), y


def test_a_swap_moves_a_medoid_between_blobs(client, three_blobs):
    X, y = three_blobs
    start = np.concatenate([np.flatnonzero(y == 0)[:2], np.flatnonzero(y == 1)[:1]])  # none in blob 2
    Xd = da.from_array(X, chunks=(150, 2))
    alternating = refine(Xd, start, X[start], "euclidean", 1, 0, False)[0]
    assert np.sum(y[alternating] == 0) == 2  # alternating steps keep two medoids in the far blob 0
    loss = cdist(X, X[start]).min(axis=1).sum()
    losses = []
    indices, rows = swap_pass(Xd, start, X[start], loss, "euclidean", 1, 0, 8, False, losses)
    assert sorted(y[indices]) == [0, 1, 2]
    assert rows.dtype == np.float32
    np.testing.assert_array_equal(rows, X[indices])
    assert losses and np.all(np.diff([loss, *losses]) < 0)
    assert losses[-1] == pytest.approx(cdist(X, X[indices]).min(axis=1).sum(), rel=1e-6)


def test_swap_pass_independent_of_workers_and_chunking(client, one_worker):
    X, _ = make_blobs(6000, n_features=3, centers=10, cluster_std=3.0, random_state=5)  # above 4,096: a priced sample
    start = np.arange(0, 6000, 600)
    loss = cdist(X, X[start]).min(axis=1).sum()
    results = []
    for chunks, worker in [((1500,) * 4, client), ((700, 2300, 3000), client), ((1500,) * 4, one_worker)]:
        with worker.as_current():
            losses = []
            indices, _ = swap_pass(da.from_array(X, chunks=(chunks, 3)), start, X[start], loss, "euclidean", 1, 3, 8,
                                   False, losses)
        results.append((indices, losses))
    for indices, losses in results[1:]:
        np.testing.assert_array_equal(indices, results[0][0])
        np.testing.assert_allclose(losses, results[0][1], rtol=1e-12)
    assert not np.array_equal(results[0][0], start)


def test_estimator_loss_never_rises_and_workers_agree(client, one_worker, capsys):
    X, _ = make_blobs(3000, n_features=4, centers=12, cluster_std=2.5, random_state=7)
    Xd = da.from_array(X.astype(np.float32), chunks=(700, 4))
    two = vdask.CLARA(12, n_sampling=60, random_state=3, verbose=True).fit(Xd)
    with one_worker.as_current():
        one = vdask.CLARA(12, n_sampling=60, random_state=3).fit(Xd)
    np.testing.assert_array_equal(one.medoid_indices_, two.medoid_indices_)
    np.testing.assert_array_equal(one.refine_losses_, two.refine_losses_)
    assert two.cluster_centers_.dtype == np.float32
    steps = np.concatenate([[two.sample_losses_.min()], two.refine_losses_])
    assert np.all(np.diff(steps) < 0), steps
    assert "swaps kept" in capsys.readouterr().out
    plain = vdask.CLARA(12, n_sampling=60, random_state=3, swap_candidates=0).fit(Xd)
    assert two.inertia_ < plain.inertia_


def test_no_swap_candidates_gives_the_alternating_refinement_bit_for_bit(client):
    # recorded from the refinement before the swap pass existed
    X, _ = make_blobs(3000, n_features=4, centers=12, cluster_std=2.5, random_state=7)
    fit = vdask.CLARA(12, n_sampling=60, random_state=3, swap_candidates=0).fit(
        da.from_array(X.astype(np.float32), chunks=(700, 4)))
    assert fit.medoid_indices_.tolist() == [704, 157, 0, 1167, 185, 954, 701, 776, 2117, 2901, 895, 1831]
    assert [float(v).hex() for v in fit.refine_losses_] == ["0x1.cff0052c94000p+13", "0x1.be0b56d54c000p+13",
                                                             "0x1.b8dde998b8000p+13"]
    with pytest.raises(ValueError, match="swap_candidates"):
        vdask.CLARA(12, swap_candidates=-1).fit(da.from_array(X, chunks=(700, 4)))
