"""FastMSC, PAMMEDSIL and PAMSIL: parity with the `kmedoids` package (a test oracle only) from
the same initial medoids, brute force on tiny inputs, every accepted swap raising the
objective, determinism across thread counts, and errors on bad input."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist
from sklearn.metrics import silhouette_score as sklearn_silhouette

import vecclust
from vecclust import KMedoids

kmedoids = pytest.importorskip("kmedoids")

METHODS = ["fastmsc", "pammedsil", "pamsil"]


def blobs(n, seed, centers=4, d=3, dtype=np.float64):
    rng = np.random.default_rng(seed)
    c = rng.uniform(-6, 6, size=(centers, d))
    return (c[rng.integers(0, centers, n)] + rng.normal(size=(n, d))).astype(dtype)


def matrix(X):
    D = cdist(X, X)
    D = (D + D.T) / 2
    np.fill_diagonal(D, 0)
    return np.ascontiguousarray(D, dtype=X.dtype)


def nearest(D, medoids):
    """Labels by nearest medoid (ties to the first; a medoid is its own)."""
    labels = np.argmin(D[:, medoids], axis=1)
    labels[medoids] = np.arange(len(medoids))
    return labels


def medoid_silhouette(D, medoids):
    d = np.sort(D[:, medoids], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.mean(np.where(d[:, 1] > 0, 1 - d[:, 0] / d[:, 1], 1.0)))


def silhouette(D, medoids):
    labels = nearest(D, medoids)
    if len(np.unique(labels)) < 2:
        return 0.0
    return float(sklearn_silhouette(D, labels, metric="precomputed"))


def objective(method, D, medoids):
    return silhouette(D, medoids) if method == "pamsil" else medoid_silhouette(D, medoids)


# ---------------------------------------------------------------- parity with kmedoids

CASES = [pytest.param(method, dtype, seed, k, id=f"{method}-{np.dtype(dtype).name}-seed{seed}-k{k}")
         for method in METHODS for dtype in (np.float64, np.float32) for seed in (0, 1) for k in (2, 3, 5)]


@pytest.mark.parametrize("method, dtype, seed, k", CASES)
def test_same_result_as_kmedoids(method, dtype, seed, k):
    n = 60 if method == "pamsil" else 150
    D = matrix(blobs(n, seed, dtype=dtype))
    init = np.random.default_rng(100 + seed + k).choice(n, k, replace=False)
    expected = getattr(kmedoids, method)(D, init.astype(np.uintp))
    got = getattr(vecclust, method)(D, init, n_threads=1)
    np.testing.assert_array_equal(got.medoids, np.asarray(expected.medoids).astype(np.int64))
    np.testing.assert_array_equal(got.labels, np.asarray(expected.labels).astype(np.int64))
    assert got.silhouette == pytest.approx(float(expected.loss), rel=1e-6 if dtype == np.float32 else 1e-12)
    assert (got.n_iter, got.n_swap) == (expected.n_iter, expected.n_swap)
    oracle = objective(method, D.astype(np.float64), got.medoids)
    assert got.silhouette == pytest.approx(oracle, rel=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fastmsc_and_pammedsil_make_the_same_swaps(seed):
    D = matrix(blobs(120, seed, centers=5))
    init = np.random.default_rng(seed).choice(120, 4, replace=False)
    fast = vecclust.fastmsc(D, init, n_threads=1)
    slow = vecclust.pammedsil(D, init, n_threads=1)
    np.testing.assert_array_equal(fast.medoids, slow.medoids)
    assert (fast.n_iter, fast.n_swap) == (slow.n_iter, slow.n_swap)
    assert fast.silhouette == pytest.approx(slow.silhouette, rel=1e-12)


# ---------------------------------------------------------------- brute force

@pytest.mark.parametrize("seed", range(6))
def test_pamsil_on_tiny_inputs_against_brute_force(seed):
    """n <= 10: PAMSIL ends where no single swap raises the silhouette; every medoid set's
    silhouette is enumerated, and PAMSIL started at the best one stays there."""
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(6, 11)), int(rng.integers(2, 4))
    D = matrix(rng.normal(size=(n, 2)))
    values = {m: silhouette(D, list(m)) for m in itertools.combinations(range(n), k)}
    best_set = max(values, key=values.get)
    r = vecclust.pamsil(D, rng.choice(n, k, replace=False), n_threads=1)
    assert r.silhouette == pytest.approx(values[tuple(sorted(r.medoids))], abs=1e-12)
    assert r.silhouette <= values[best_set] + 1e-12
    for slot, candidate in itertools.product(range(k), range(n)):
        if candidate not in r.medoids:
            trial = list(r.medoids)
            trial[slot] = candidate
            assert silhouette(D, trial) <= r.silhouette + 1e-12
    at_best = vecclust.pamsil(D, np.array(best_set), n_threads=1)
    assert at_best.n_swap == 0 and at_best.silhouette == pytest.approx(values[best_set], abs=1e-12)


# ---------------------------------------------------------------- properties

@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(METHODS))
def test_every_accepted_swap_raises_the_objective(seed, method):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(6, 25))
    k = int(rng.integers(2, min(4, n - 1) + 1))
    D = matrix(rng.normal(size=(n, 2)))
    init = rng.choice(n, k, replace=False)
    previous = objective(method, D, init)
    for max_iter in range(1, 5):  # one swap per iteration: the objective after each one
        r = getattr(vecclust, method)(D, init, max_iter=max_iter, n_threads=1)
        assert r.n_swap <= max_iter
        value = objective(method, D, r.medoids)
        assert r.silhouette == pytest.approx(value, abs=1e-12)
        if r.n_swap == max_iter:
            assert value > previous  # a swap is made only if it raises the objective
        else:
            assert value == pytest.approx(previous, abs=1e-12)  # converged: nothing changes
            break
        previous = value


@pytest.mark.parametrize("method", METHODS)
def test_same_result_for_any_thread_count(method):
    n = 80 if method == "pamsil" else 300
    D = matrix(blobs(n, 3, centers=5, dtype=np.float32))
    runs = [getattr(vecclust, method)(D, 5, init="random", random_state=0, n_threads=t) for t in (1, 2, 3)]
    for other in runs[1:]:
        np.testing.assert_array_equal(other.medoids, runs[0].medoids)
        assert other.silhouette == runs[0].silhouette
        assert (other.n_iter, other.n_swap) == (runs[0].n_iter, runs[0].n_swap)


@pytest.mark.parametrize("method", METHODS)
def test_estimator_route(method):
    X = blobs(70, 8)
    D = matrix(X)
    init = np.array([5, 20, 40, 60])
    r = getattr(vecclust, method)(D, init, n_threads=1)
    for precompute in (True, False):
        m = KMedoids(4, method=method, init=init, precompute=precompute, n_threads=1).fit(X)
        np.testing.assert_array_equal(m.medoid_indices_, r.medoids)
        np.testing.assert_array_equal(m.labels_, r.labels)
        assert m.silhouettes_[0] == pytest.approx(r.silhouette, rel=1e-12)
        assert m.inertia_ == pytest.approx(D[np.arange(70), m.medoid_indices_[m.labels_]].sum(), rel=1e-12)
    pre = KMedoids(4, method=method, metric="precomputed", init=init, n_threads=1).fit(D)
    np.testing.assert_array_equal(pre.medoid_indices_, r.medoids)


@pytest.mark.parametrize("method", METHODS)
def test_bad_input(method):
    D = matrix(blobs(12, 9))
    function = getattr(vecclust, method)
    with pytest.raises(ValueError, match="at least 2 clusters"):
        function(D, 1)
    with pytest.raises(ValueError, match="must be < n_samples"):
        function(D, 12)
    bad = D.copy()
    bad[1, 2] = bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        function(bad, 3)
    with pytest.raises(ValueError, match="square"):
        function(D[:, :5], 2)
    with pytest.raises(ValueError, match="n_clusters"):
        KMedoids(1, method=method).fit(blobs(12, 9))
    with pytest.raises(ValueError, match="sample_weight"):
        KMedoids(3, method=method).fit(blobs(12, 9), sample_weight=np.ones(12))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_bits_at_every_instruction_set(dtype):
    """The medoid silhouette kernel is vectorised (isa::dispatch); 203 points: a tail too."""
    from vecclust import _core

    D = matrix(blobs(203, 11, centers=5, dtype=dtype))
    init = np.random.default_rng(12).choice(203, 7, replace=False)
    results = {}
    try:
        for level in ("baseline", "avx2", "avx512"):
            _core.set_isa_limit(level)
            runs = [vecclust.fastermsc(D, init), vecclust.fastmsc(D, init), vecclust.dynmsc(D, init)]
            results[level] = [(r.medoids.tolist(), r.silhouettes.tolist(), r.n_iter, r.n_swap) for r in runs]
    finally:
        _core.set_isa_limit("avx512")
    assert results["avx2"] == results["baseline"] and results["avx512"] == results["baseline"]
