"""The medoid silhouette, FasterMSC and DynMSC: brute-force NumPy oracles, parity with the
`kmedoids` package (a test oracle only) from the same initial medoids, determinism across
thread counts, and errors on bad input."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

import vecclust
from vecclust import KMedoids

kmedoids = pytest.importorskip("kmedoids")


def medoid_silhouette_oracle(D, medoids):
    d = np.sort(D[:, medoids], axis=1)
    a, b = d[:, 0], d[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(b > 0, 1 - a / b, 1.0)
    return s.mean(), s


def blobs(n, seed, centers=5, d=4, dtype=np.float64):
    rng = np.random.default_rng(seed)
    c = rng.uniform(-8, 8, size=(centers, d))
    X = c[rng.integers(0, centers, n)] + rng.normal(size=(n, d))
    return X.astype(dtype)


def matrix(X):
    D = cdist(X, X)
    D = (D + D.T) / 2
    np.fill_diagonal(D, 0)
    return np.ascontiguousarray(D, dtype=X.dtype)


# ---------------------------------------------------------------- medoid silhouette

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k", [2, 3, 10])
def test_medoid_silhouette_matches_oracle_and_kmedoids(dtype, k):
    X = blobs(200, k, dtype=dtype)
    D = matrix(X)
    medoids = np.random.default_rng(k).choice(200, k, replace=False)
    expected, expected_s = medoid_silhouette_oracle(D.astype(np.float64), medoids)
    score, s = vecclust.medoid_silhouette(D, medoids, metric="precomputed", samples=True)
    np.testing.assert_allclose(s, expected_s, rtol=1e-12 if dtype == np.float64 else 1e-6, atol=1e-12)
    peer, peer_s = kmedoids.medoid_silhouette(D, medoids.astype(np.uintp), samples=True)
    assert score == pytest.approx(peer, rel=1e-12 if dtype == np.float64 else 1e-6)
    np.testing.assert_allclose(s, peer_s, rtol=1e-12 if dtype == np.float64 else 1e-6, atol=1e-12)
    from_features = vecclust.medoid_silhouette(X, medoids)
    assert from_features == pytest.approx(score, rel=1e-12 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "manhattan", "cosine"])
def test_medoid_silhouette_from_features(metric):
    X = blobs(150, 1)
    medoids = np.array([3, 70, 140, 11])
    D = cdist(X, X, {"manhattan": "cityblock"}.get(metric, metric))
    np.fill_diagonal(D, 0)
    score = vecclust.medoid_silhouette(X, medoids, metric=metric)
    assert score == pytest.approx(medoid_silhouette_oracle(D, medoids)[0], rel=1e-12)


def test_medoid_silhouette_duplicates():
    X = np.array([[0.0], [0.0], [1.0], [5.0], [5.0], [6.0]])
    score, s = vecclust.medoid_silhouette(X, [0, 1, 3], samples=True)
    np.testing.assert_allclose(s, medoid_silhouette_oracle(matrix(X), [0, 1, 3])[1])
    assert s[0] == 1.0 and s[1] == 1.0  # two medoids at distance 0: a / b = 0 / 0 counts as 0


def test_medoid_silhouette_bad_input():
    X = blobs(20, 2)
    D = matrix(X)
    with pytest.raises(ValueError, match="at least 2"):
        vecclust.medoid_silhouette(X, [3])
    with pytest.raises(ValueError, match="distinct"):
        vecclust.medoid_silhouette(X, [3, 3])
    with pytest.raises(ValueError, match=r"\[0, 20\)"):
        vecclust.medoid_silhouette(X, [3, 20])
    D[3, 7] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        vecclust.medoid_silhouette(D, [3, 5], metric="precomputed")
    with pytest.raises(ValueError, match="infinity"):
        vecclust.medoid_silhouette(np.where(X > 1, np.inf, X), [3, 5])


# ---------------------------------------------------------------- FasterMSC and DynMSC

def msc_objective(D, medoids):
    return medoid_silhouette_oracle(D, np.asarray(medoids))[0]


CASES = [pytest.param(dtype, seed, k, id=f"{np.dtype(dtype).name}-seed{seed}-k{k}")
         for dtype in (np.float64, np.float32) for seed in (0, 1) for k in (2, 3, 7)]


@pytest.mark.parametrize("dtype, seed, k", CASES)
def test_fastermsc_same_result_as_kmedoids(dtype, seed, k):
    D = matrix(blobs(300, seed, dtype=dtype))
    init = np.random.default_rng(100 + seed + k).choice(300, k, replace=False)
    expected = kmedoids.fastermsc(D, init.astype(np.uintp))
    got = vecclust.fastermsc(D, init, n_threads=1)
    np.testing.assert_array_equal(got.medoids, np.asarray(expected.medoids).astype(np.int64))
    np.testing.assert_array_equal(got.labels, np.asarray(expected.labels).astype(np.int64))
    peer_score = kmedoids.medoid_silhouette(D, np.asarray(expected.medoids))[0]
    assert got.silhouette == pytest.approx(peer_score, rel=1e-12)
    assert got.silhouette == pytest.approx(msc_objective(D.astype(np.float64), got.medoids), rel=1e-9)


def dynmsc_chain(D, init, drop):
    """DynMSC spelled out with the peer's FasterMSC: after each k, the medoid chosen by `drop`
    (from the silhouettes left by removing each one) gives its slot to the last medoid."""
    medoids, values = init.copy(), []
    for k in range(len(init), 1, -1):
        medoids = np.asarray(kmedoids.fastermsc(D, medoids.astype(np.uintp)).medoids).astype(np.int64)
        values.append(msc_objective(D, medoids))
        left = [msc_objective(D, np.delete(medoids, i)) for i in range(k)] if k > 2 else [0.0]
        medoids[drop(left)] = medoids[-1]
        medoids = medoids[:-1]
    return np.array(values[::-1])


@pytest.mark.parametrize("seed", [0, 1, 2, 5])
def test_dynmsc_against_kmedoids(seed):
    """vecclust drops, after each k, the medoid whose removal lowers the medoid silhouette
    least. kmedoids.dynmsc drops the one whose removal lowers it most (it takes the smallest
    of its removal gains): seeds 2 and 5 are cases where that changes the k = 2 result, and
    the peer's values are then those of the chain with the other rule."""
    D = matrix(blobs(250, seed, centers=4))
    init = np.random.default_rng(seed).choice(250, 8, replace=False)
    expected = kmedoids.dynmsc(D, init.astype(np.uintp), 2)
    got = vecclust.dynmsc(D, init, min_k=2, n_threads=1)
    assert list(got.range_k) == list(expected.rangek)
    np.testing.assert_allclose(got.silhouettes, dynmsc_chain(D, init, np.argmax), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(expected.losses), dynmsc_chain(D, init, np.argmin), rtol=1e-12)
    np.testing.assert_allclose(got.silhouettes[1:], np.asarray(expected.losses)[1:], rtol=1e-12)
    differs = abs(got.silhouettes[0] - expected.losses[0]) > 1e-9
    assert differs == (seed in (2, 5))
    assert got.best_k == expected.bestk
    np.testing.assert_array_equal(np.sort(got.medoids), np.sort(np.asarray(expected.medoids).astype(np.int64)))


@given(st.integers(0, 10_000))
def test_every_accepted_swap_raises_the_medoid_silhouette(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(6, 30))
    k = int(rng.integers(2, min(5, n - 1) + 1))
    D = matrix(rng.normal(size=(n, 2)))
    init = rng.choice(n, k, replace=False)
    start = msc_objective(D, init)
    previous = start
    for max_iter in range(1, 4):  # the objective after 1, 2, 3 passes never falls
        r = vecclust.fastermsc(D, init, max_iter=max_iter, n_threads=1)
        assert r.silhouette >= previous - 1e-12
        previous = r.silhouette
    assert r.silhouette == pytest.approx(msc_objective(D, r.medoids), abs=1e-12)


def test_fastermsc_reaches_a_local_optimum():
    D = matrix(blobs(60, 5, centers=3))
    r = vecclust.fastermsc(D, 3, init="build", n_threads=1)
    best = r.silhouette
    medoids = list(r.medoids)
    for slot, candidate in itertools.product(range(3), range(60)):
        if candidate in medoids:
            continue
        trial = medoids.copy()
        trial[slot] = candidate
        assert msc_objective(D, trial) <= best + 1e-12


@pytest.mark.parametrize("function", ["fastermsc", "dynmsc"])
def test_msc_same_result_for_any_thread_count(function):
    D = matrix(blobs(700, 3, centers=6, dtype=np.float32))
    runs = [getattr(vecclust, function)(D, 9, random_state=0, n_threads=t) for t in (1, 2, 4)]
    for other in runs[1:]:
        np.testing.assert_array_equal(other.medoids, runs[0].medoids)
        np.testing.assert_array_equal(other.silhouettes, runs[0].silhouettes)
        assert (other.n_iter, other.n_swap) == (runs[0].n_iter, runs[0].n_swap)


def test_dynmsc_finds_the_number_of_blobs():
    X = blobs(400, 7, centers=5, d=6)
    r = vecclust.dynmsc(matrix(X), 10, init="build")
    assert r.best_k == 5
    assert r.silhouettes.shape == (9,) and r.silhouettes[r.best_k - 2] == r.silhouette == r.silhouettes.max()


def test_estimator_routes():
    X = blobs(300, 8, centers=4, d=5)
    D = matrix(X)
    init = np.array([5, 50, 150, 250])
    m = KMedoids(4, method="fastermsc", init=init, n_threads=1).fit(X)
    r = vecclust.fastermsc(D, init, n_threads=1)
    np.testing.assert_array_equal(m.medoid_indices_, r.medoids)
    assert m.n_clusters_ == 4 and m.silhouettes_[0] == pytest.approx(r.silhouette, rel=1e-12)
    assert m.inertia_ == pytest.approx(D[np.arange(300), m.medoid_indices_[m.labels_]].sum(), rel=1e-12)
    for precompute in (True, False):
        auto = KMedoids("auto", max_clusters=8, init="build", precompute=precompute, n_threads=1).fit(X)
        assert auto.n_clusters_ == 4 and auto.medoid_indices_.shape == (4,)
        assert auto.silhouettes_.shape == (7,)
    pre = KMedoids("auto", metric="precomputed", max_clusters=8, init="build", n_threads=1).fit(D)
    np.testing.assert_array_equal(pre.medoid_indices_, auto.medoid_indices_)


def test_msc_bad_input():
    D = matrix(blobs(20, 9))
    with pytest.raises(ValueError, match="at least 2 clusters"):
        vecclust.fastermsc(D, 1)
    with pytest.raises(ValueError, match="must be < n_samples"):
        vecclust.fastermsc(D, 20)
    with pytest.raises(ValueError, match="min_k"):
        vecclust.dynmsc(D, 5, min_k=6)
    with pytest.raises(ValueError, match="min_k"):
        vecclust.dynmsc(D, 5, min_k=1)
    bad = D.copy()
    bad[1, 2] = bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        vecclust.fastermsc(bad, 3)
    with pytest.raises(ValueError, match="sample_weight"):
        KMedoids(3, method="fastermsc").fit(blobs(20, 9), sample_weight=np.ones(20))
    with pytest.raises(ValueError, match="max_clusters"):
        KMedoids("auto", max_clusters=20).fit(blobs(20, 9))
    with pytest.raises(ValueError, match="min_clusters"):
        KMedoids("auto", max_clusters=4, min_clusters=5).fit(blobs(20, 9))
    with pytest.raises(TypeError, match="n_clusters"):
        KMedoids("many").fit(blobs(20, 9))
