"""Tests of the PPP benchmark's rivals, data sets and quality script (not benchmarks):

    python -m pytest bench/ppp/test_ppp_rivals.py
"""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import ppp_datasets
import ppp_quality
import ppp_rivals
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

THREE_CENTRES = [[0.0, 0.0], [12.0, 0.0], [0.0, 12.0]]


def three_blobs(seed=0, n=900):
    return make_blobs(n_samples=n, centers=THREE_CENTRES, cluster_std=1.0, random_state=seed)


def one_gaussian(n, d, seed):
    return np.random.default_rng(seed).standard_normal((n, d))


def n_clusters(labels):
    return len(np.setdiff1d(np.unique(labels), [-1]))


# --------------------------------------------------------------------------------------------
# X-means and G-means


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("method", [ppp_rivals.xmeans, ppp_rivals.gmeans], ids=["xmeans", "gmeans"])
def test_three_separated_blobs(method, seed):
    X, y = three_blobs(seed)
    labels = method(X, seed)
    assert n_clusters(labels) == 3
    assert adjusted_rand_score(y, labels) > 0.99


@pytest.mark.parametrize("d", [2, 5, 20])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gmeans_keeps_one_gaussian(d, seed):
    assert n_clusters(ppp_rivals.gmeans(one_gaussian(2000, d, seed), seed)) == 1


@pytest.mark.parametrize("d", [2, 10])
def test_xmeans_keeps_one_gaussian(d):
    assert n_clusters(ppp_rivals.xmeans(one_gaussian(2000, d, 0), 0)) == 1


def test_gmeans_splits_two_close_gaussians():
    """Centres 3 sd apart (the clusters overlap): the projection is far enough from normal for
    the test at alpha = 1e-4; with a huge critical value G-means keeps one cluster."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.standard_normal((1500, 2)), rng.standard_normal((1500, 2)) + [3.0, 0.0]])
    assert n_clusters(ppp_rivals.gmeans(X, 0)) == 2
    assert n_clusters(ppp_rivals.gmeans(X, 0, critical=1e6)) == 1


@pytest.mark.parametrize("method", [ppp_rivals.xmeans, ppp_rivals.gmeans], ids=["xmeans", "gmeans"])
def test_kmax_caps_the_number_of_clusters(method):
    X, _ = make_blobs(n_samples=2000, centers=12, n_features=5, cluster_std=0.5, random_state=0)
    for kmax in (2, 4):
        assert 2 <= n_clusters(method(X, 1, kmax=kmax)) <= kmax


def test_xmeans_depends_only_on_the_seed():
    X, _ = make_blobs(n_samples=600, centers=5, n_features=3, cluster_std=1.5, random_state=3)
    np.testing.assert_array_equal(ppp_rivals.xmeans(X, 7), ppp_rivals.xmeans(X, 7))


def test_gmeans_is_deterministic():
    X, _ = make_blobs(n_samples=600, centers=5, n_features=3, cluster_std=1.5, random_state=3)
    np.testing.assert_array_equal(ppp_rivals.gmeans(X, 0), ppp_rivals.gmeans(X, 1))


def brute_force_spherical_bic(X, labels, centers):
    """The same model written out point by point: mixing weight R_n / R times an isotropic
    Gaussian density with variance SSE / (M (R - K)), minus p/2 ln R."""
    R, M = X.shape
    K = len(centers)
    variance = float(((X - centers[labels]) ** 2).sum()) / (M * (R - K))
    sizes = np.bincount(labels, minlength=K)
    log_likelihood = sum(
        math.log(sizes[labels[i]] / R)
        + stats.multivariate_normal(centers[labels[i]], variance * np.eye(M)).logpdf(X[i])
        for i in range(R))
    return log_likelihood - 0.5 * ((K - 1) + M * K + 1) * math.log(R)


@settings(max_examples=25, deadline=None)
@given(st.integers(20, 80), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**31 - 1))
def test_spherical_bic_matches_the_pointwise_likelihood(R, M, K, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(R, M)) * rng.uniform(0.5, 3.0)
    labels = np.concatenate([np.arange(K), rng.integers(0, K, R - K)])  # every cluster used
    centers = np.array([X[labels == j].mean(axis=0) for j in range(K)])
    assert ppp_rivals.spherical_bic(X, labels, centers) == pytest.approx(
        brute_force_spherical_bic(X, labels, centers), rel=1e-9, abs=1e-6)


@settings(max_examples=30, deadline=None)
@given(st.integers(8, 400), st.integers(0, 2**31 - 1), st.sampled_from(["normal", "uniform", "exponential"]))
def test_anderson_darling_matches_scipy(n, seed, law):
    x = getattr(np.random.default_rng(seed), law)(size=n)
    expected = stats.anderson(x, dist="norm", method="interpolate").statistic * (1 + 4 / n - 25 / n**2)
    assert ppp_rivals.anderson_darling_normal(x) == pytest.approx(expected, rel=1e-9)


def test_anderson_darling_separates_normal_from_uniform_at_the_gmeans_level():
    rng = np.random.default_rng(0)
    critical = ppp_rivals.GMEANS_CRITICAL_VALUE
    assert ppp_rivals.anderson_darling_normal(rng.standard_normal(2000)) < critical
    assert ppp_rivals.anderson_darling_normal(rng.uniform(size=2000)) > critical
    assert ppp_rivals.anderson_darling_normal(np.ones(10)) == math.inf


# --------------------------------------------------------------------------------------------
# scikit-learn based rivals and the registry


def test_gmm_bic_sweep_picks_the_minimum_bic():
    X, y = three_blobs(0, n=300)
    labels = ppp_rivals.gmm_bic_sweep(X, 0, kmax=6)
    assert n_clusters(labels) == 3 and adjusted_rand_score(y, labels) > 0.99


def test_hdbscan_and_bisecting_kmeans():
    X, y = three_blobs(0)
    assert adjusted_rand_score(y, ppp_rivals.hdbscan(X, 0)) > 0.95
    labels = ppp_rivals.bisecting_kmeans(X, 0, n_clusters=3)
    assert n_clusters(labels) == 3 and adjusted_rand_score(y, labels) > 0.99


def test_hdbscan_may_return_one_cluster():
    labels = ppp_rivals.hdbscan(one_gaussian(1000, 2, 0), 0)
    assert n_clusters(labels) == 1


def test_registry():
    names = [m.name for m in ppp_rivals.METHODS]
    assert len(set(names)) == len(names)
    assert {"PPP", "X-means", "G-means", "GMM-BIC", "HDBSCAN"} <= set(names)
    assert set(ppp_rivals.RIVALS_CHOOSING_K) <= set(names)
    X, y = three_blobs(0, n=300)
    for method in ppp_rivals.METHODS:
        if method.is_ppp:
            assert method.available() == ppp_rivals.ppp_available()
        if method.available() and method.name != "GMM-BIC":  # the sweep is covered above
            labels = method(X, 0, n_clusters=3, n_threads=1)
            assert labels.shape == (len(X),)
            assert adjusted_rand_score(y, labels) > 0.9, method.name


def test_ppp_is_skipped_without_vecclust_ppp(monkeypatch):
    import vecclust

    monkeypatch.delattr(vecclust, "PPP", raising=False)
    assert not ppp_rivals.ppp_available()
    assert not ppp_rivals.METHODS_BY_NAME["PPP"].available()
    assert ppp_rivals.METHODS_BY_NAME["G-means"].available()


# --------------------------------------------------------------------------------------------
# Data sets


def test_full_data_sets():
    sets = ppp_datasets.datasets()
    names = [s.name for s in sets]
    assert len(set(names)) == len(names)
    assert {s.group for s in sets} == set(ppp_datasets.GROUPS)
    for s in sets:
        assert s.X.dtype == np.float64 and s.X.flags.c_contiguous and np.isfinite(s.X).all()
        assert s.y.shape == (len(s.X),)
        if s.group == ppp_datasets.NULL:
            assert s.n_clusters == 1
        if s.params.get("kind") == "blobs":
            separated = s.oracle_ari >= ppp_datasets.SEPARATED_ORACLE_ARI
            assert (s.group == ppp_datasets.WELL_SEPARATED) == separated
            assert s.n_clusters == s.params["k"] and len(s.X) == ppp_datasets.blob_size(s.params["k"])
            if s.params["d"] >= 10 and s.params["cluster_std"] <= 1.0:  # ppp.md's criterion is included
                assert s.group == ppp_datasets.WELL_SEPARATED
        if s.group == ppp_datasets.REAL:
            np.testing.assert_allclose(s.X.mean(axis=0), 0.0, atol=1e-9)
    kinds = {s.params["kind"] for s in sets}
    assert {"anisotropic", "varied", "unequal", "gaussian", "uniform", "real", "blobs"} == kinds
    assert {s.n_clusters for s in sets if s.params["kind"] == "blobs"} == set(ppp_datasets.BLOB_KS)


def test_quick_data_sets_are_a_subset():
    full = {s.name for s in ppp_datasets.datasets()}
    quick = ppp_datasets.datasets(quick=True)
    assert {s.name for s in quick} <= full
    assert {s.group for s in quick} == set(ppp_datasets.GROUPS)


def test_shape_sets_are_the_example_sets():
    anisotropic, varied, unequal = ppp_datasets.shape_sets()
    X, _ = make_blobs(n_samples=1500, random_state=170)
    np.testing.assert_allclose(anisotropic.X, X @ np.array([[0.6, -0.6], [-0.4, 0.8]]))
    assert np.bincount(unequal.y).tolist() == [1000, 200, 50]
    assert varied.params["cluster_std"] == [1.0, 2.5, 0.5]


# --------------------------------------------------------------------------------------------
# Quality script


class RowRule:
    """A stand-in method labelling each row by its own values (so any row order gives the same
    labels once mapped back); `flip` swaps the label names on odd runs."""

    name = "rule"
    is_ppp = False

    def __call__(self, X, seed, n_clusters=None, n_threads=1):
        labels = (X[:, 0] > 0).astype(np.intp)
        return 1 - labels if seed % 2 else labels


class RowIndex(RowRule):
    """Labels that depend on the row position, hence change under row permutations."""

    def __call__(self, X, seed, n_clusters=None, n_threads=1):
        return (np.arange(len(X)) < len(X) // 2).astype(np.intp)


def test_permuted_runs_are_mapped_back():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 2))
    dataset = ppp_datasets.Dataset("half planes", "null", X, (X[:, 0] > 0).astype(np.intp))
    result = ppp_quality.evaluate(RowRule(), dataset, runs=4, threads=1)
    assert result["stability"] == 1.0 and result["ari"] == 1.0 and result["k_hats"] == [2, 2, 2, 2]
    assert len(result["times"]) == 4
    result = ppp_quality.evaluate(RowIndex(), dataset, runs=4, threads=1)
    assert result["stability"] < 0.5  # position-dependent labels are caught by the permutations


def fake_result(ari, k_hats, stability=1.0, median_time=1.0, identical=True):
    return dict(ari=ari, nmi=ari, k_hats=k_hats, abs_k_error=0.0, exact_k_rate=1.0, noise_fraction=0.0,
                stability=stability, median_time=median_time, times=[median_time], repeat_identical=identical)


def test_bar_checks():
    def ds(name, group, kind):
        return ppp_datasets.Dataset(name, group, np.zeros((4, 2)), np.zeros(4, dtype=np.intp), {"kind": kind})

    sets = [ds("blob", ppp_datasets.WELL_SEPARATED, "blobs"), ds("null", ppp_datasets.NULL, "gaussian"),
            ds("aniso", ppp_datasets.SHAPES, "anisotropic")]
    good = {"blob": {"PPP": fake_result(1.0, [3]), "GMM-BIC": fake_result(1.0, [3], median_time=10.0),
                     "G-means": fake_result(0.9, [3])},
            "null": {"PPP": fake_result(1.0, [1]), "GMM-BIC": fake_result(1.0, [1], median_time=10.0)},
            "aniso": {"PPP": fake_result(0.97, [3]), "GMM-BIC": fake_result(1.0, [3], median_time=10.0)}}
    checks = ppp_quality.bar_checks(good, sets)
    assert len(checks) == 8 and all(ok for *_, ok in checks)

    bad = json.loads(json.dumps(good))
    bad["blob"]["PPP"] = fake_result(0.95, [4], stability=0.9, median_time=5.0, identical=False)
    bad["blob"]["G-means"] = fake_result(0.96, [3])
    bad["null"]["PPP"] = fake_result(0.0, [2])
    failed = [text for text, _, ok in ppp_quality.bar_checks(bad, sets) if not ok]
    assert len(failed) == 7  # all but the anisotropic one
    assert ppp_quality.bar_checks({name: {} for name in good}, sets) == []  # PPP did not run


def test_quality_script_end_to_end(tmp_path, capsys):
    out = tmp_path / "q.json"
    plot = tmp_path / "ari.png"
    assert ppp_quality.main(["--quick", "--groups", "anisotropic/varied", "--methods", "G-means", "HDBSCAN",
                             "--runs", "2", "--json", str(out), "--plot", str(plot)]) == 0
    text = capsys.readouterr().out
    if importlib.util.find_spec("matplotlib"):
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "### anisotropic/varied (3 sets)" in text and "### Summary" in text
    payload = json.loads(out.read_text())
    assert payload["meta"]["threads"] == 1 and payload["meta"]["runs"] == 2
    assert [s["name"] for s in payload["sets"]] == [s.name for s in ppp_datasets.shape_sets()]
    for s in payload["sets"]:
        assert set(s["results"]) == {"G-means", "HDBSCAN"}
        assert s["results"]["G-means"]["stability"] == 1.0  # deterministic
