"""The exact silhouette: equal to scikit-learn's (the oracle) and to a brute-force NumPy
definition of the weighted version, the same for any thread count and instruction set, and
clear errors on bad input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.distance import cdist
from sklearn.metrics import silhouette_samples as sk_samples
from sklearn.metrics import silhouette_score as sk_score

import vecclust
from vecclust import _core

METRICS = ["euclidean", "sqeuclidean", "manhattan", "cosine"]
SCIPY = {"euclidean": "euclidean", "sqeuclidean": "sqeuclidean", "manhattan": "cityblock", "cosine": "cosine"}


def labelling(n, k, seed, singletons=0):
    """Random labels with every cluster present, and `singletons` clusters of one sample."""
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.arange(k), rng.integers(0, k, n - k - singletons), k + np.arange(singletons)])
    return rng.permutation(labels)


def weighted_oracle(D, labels, w):
    """The weighted silhouette straight from its definition (see silhouette_samples)."""
    n = len(labels)
    classes = np.unique(labels)
    s = np.zeros(n)
    for i in range(n):
        own = labels == labels[i]
        others = own.copy()
        others[i] = False
        if w[others].sum() == 0:
            continue
        a = (w[others] * D[i, others]).sum() / w[others].sum()
        bs = [(w[labels == c] * D[i, labels == c]).sum() / w[labels == c].sum()
              for c in classes if c != labels[i] and w[labels == c].sum() > 0]
        if not bs:
            continue
        b = min(bs)
        s[i] = 0.0 if max(a, b) == 0 else (b - a) / max(a, b)
    return s


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("n, d, k, singletons", [(200, 5, 4, 0), (301, 13, 7, 3), (150, 3, 2, 0), (97, 40, 30, 5)])
def test_equals_sklearn(metric, n, d, k, singletons):
    X = np.random.default_rng(n + d).normal(size=(n, d))
    labels = labelling(n, k, seed=d, singletons=singletons)
    expected = sk_samples(X, labels, metric=metric)
    got = vecclust.silhouette_samples(X, labels, metric=metric)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    assert vecclust.silhouette_score(X, labels, metric=metric) == pytest.approx(sk_score(X, labels, metric=metric),
                                                                              rel=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_precomputed_equals_sklearn(dtype):
    X = np.random.default_rng(1).normal(size=(180, 4))
    D = cdist(X, X).astype(dtype)
    labels = labelling(180, 6, seed=2, singletons=2)
    expected = sk_samples(D.astype(np.float64), labels, metric="precomputed")
    got = vecclust.silhouette_samples(D, labels, metric="precomputed")
    np.testing.assert_allclose(got, expected, rtol=1e-9 if dtype == np.float64 else 1e-5, atol=1e-6)


def test_float32_stays_close_to_float64():
    X = np.random.default_rng(3).normal(size=(500, 32))
    labels = labelling(500, 10, seed=4)
    s64 = vecclust.silhouette_samples(X, labels)
    s32 = vecclust.silhouette_samples(X.astype(np.float32), labels)
    assert s32.dtype == np.float64
    np.testing.assert_allclose(s32, s64, atol=1e-5)


def test_any_label_values():
    X = np.random.default_rng(5).normal(size=(60, 3))
    labels = labelling(60, 3, seed=6)
    names = np.array(["b", "a", "c"])[labels]
    assert vecclust.silhouette_score(X, names) == pytest.approx(sk_score(X, labels), rel=1e-12)
    assert vecclust.silhouette_score(X, labels * 10 - 7) == pytest.approx(sk_score(X, labels), rel=1e-12)


def test_duplicates_and_zero_distances():
    X = np.repeat(np.random.default_rng(7).normal(size=(10, 2)), 3, axis=0)
    labels = np.repeat(np.arange(10) % 4, 3)
    np.testing.assert_allclose(vecclust.silhouette_samples(X, labels), sk_samples(X, labels), rtol=1e-9, atol=1e-12)
    same = np.zeros((6, 2))  # every distance 0: every s(i) is 0
    np.testing.assert_array_equal(vecclust.silhouette_samples(same, [0, 0, 1, 1, 2, 2]), np.zeros(6))


@given(st.integers(0, 10_000), st.sampled_from(METRICS))
def test_weights_match_the_definition(seed, metric):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 40))
    k = int(rng.integers(2, min(6, n - 1) + 1))
    X = rng.normal(size=(n, 3))
    labels = labelling(n, k, seed)
    w = rng.choice([0.0, 0.5, 1.0, 2.0, 3.0], size=n)
    w[0] = 1.0
    D = cdist(X, X, SCIPY[metric])
    np.fill_diagonal(D, 0)
    got = vecclust.silhouette_samples(X, labels, metric=metric, sample_weight=w)
    np.testing.assert_allclose(got, weighted_oracle(D, labels, w), rtol=1e-9, atol=1e-12)
    score = vecclust.silhouette_score(X, labels, metric=metric, sample_weight=w)
    assert score == pytest.approx(np.average(weighted_oracle(D, labels, w), weights=w), rel=1e-9, abs=1e-12)


def test_zero_weight_is_removal():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(120, 4))
    labels = labelling(120, 5, seed=9)
    w = (rng.random(120) > 0.3).astype(float)
    keep = w > 0
    got = vecclust.silhouette_score(X, labels, sample_weight=w)
    assert got == pytest.approx(sk_score(X[keep], labels[keep]), rel=1e-9)
    np.testing.assert_allclose(vecclust.silhouette_samples(X, labels, sample_weight=w)[keep],
                               sk_samples(X[keep], labels[keep]), rtol=1e-9, atol=1e-12)


def test_ones_as_weights_change_nothing():
    X = np.random.default_rng(10).normal(size=(90, 3))
    labels = labelling(90, 4, seed=11)
    np.testing.assert_array_equal(vecclust.silhouette_samples(X, labels, sample_weight=np.ones(90)),
                                  vecclust.silhouette_samples(X, labels))


@pytest.mark.parametrize("metric", METRICS + ["precomputed"])
def test_same_bits_for_any_thread_count(metric):
    X = np.random.default_rng(12).normal(size=(1500, 9)).astype(np.float32)
    labels = labelling(1500, 3, seed=13, singletons=1)
    if metric == "precomputed":
        X = np.ascontiguousarray(cdist(X, X).astype(np.float32))
    runs = [vecclust.silhouette_samples(X, labels, metric=metric, n_threads=t) for t in (1, 2, 3, 7)]
    for other in runs[1:]:
        np.testing.assert_array_equal(other, runs[0])


def test_same_bits_at_every_instruction_set():
    X = np.random.default_rng(14).normal(size=(400, 13))
    labels = labelling(400, 5, seed=15)
    results = {}
    try:
        for level in ("baseline", "avx2", "avx512"):
            _core.set_isa_limit(level)
            for dtype in (np.float32, np.float64):
                for metric in METRICS:
                    results[level, dtype, metric] = vecclust.silhouette_samples(X.astype(dtype), labels, metric=metric)
    finally:
        _core.set_isa_limit("avx512")
    for (level, dtype, metric), values in results.items():
        np.testing.assert_array_equal(values, results["baseline", dtype, metric])


def test_extreme_magnitudes():
    X = np.random.default_rng(16).normal(size=(50, 3))
    labels = labelling(50, 3, seed=17)
    expected = vecclust.silhouette_samples(X, labels)
    for factor in (2.0**500, 2.0**-540):
        np.testing.assert_allclose(vecclust.silhouette_samples(X * factor, labels), expected, rtol=1e-12, atol=1e-12)
    big = (X * 2.0**60).astype(np.float32)
    assert np.all(np.isfinite(vecclust.silhouette_samples(big, labels)))


def test_bad_input():
    X = np.random.default_rng(18).normal(size=(20, 2))
    labels = labelling(20, 3, seed=19)
    with pytest.raises(ValueError, match="distinct labels is 1"):
        vecclust.silhouette_score(X, np.zeros(20))
    with pytest.raises(ValueError, match="distinct labels is 20"):
        vecclust.silhouette_score(X, np.arange(20))
    with pytest.raises(ValueError, match="19 entries"):
        vecclust.silhouette_score(X, labels[:19])
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        vecclust.silhouette_score(bad, labels)
    with pytest.raises(ValueError, match="NaN"):
        vecclust.silhouette_score(X, np.where(labels == 0, np.nan, labels))
    D = cdist(X, X)
    for value in (np.nan, np.inf, -1.0):
        broken = D.copy()
        broken[2, 5] = value
        with pytest.raises(ValueError, match="NaN, infinity or a negative"):
            vecclust.silhouette_score(broken, labels, metric="precomputed")
    D[4, 4] = 1.0
    with pytest.raises(ValueError, match="diagonal"):
        vecclust.silhouette_score(D, labels, metric="precomputed")
    with pytest.raises(ValueError, match="square"):
        vecclust.silhouette_score(X, labels, metric="precomputed")
    with pytest.raises(ValueError, match="metric"):
        vecclust.silhouette_score(X, labels, metric="chebyshev")
    with pytest.raises(ValueError, match="sample_weight"):
        vecclust.silhouette_score(X, labels, sample_weight=-np.ones(20))
    with pytest.raises(ValueError):
        vecclust.silhouette_score(np.empty((0, 2)), [])
