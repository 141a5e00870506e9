"""GaussianMixture and the EM helpers: scikit-learn parity from identical starts, NumPy/SciPy
oracles for the E-step and the M-step, EM monotonicity, degenerate data, bad input, float32,
determinism."""

import pickle
import re
import sys
import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture
from threadpoolctl import threadpool_limits

import vecclust
from vecclust import GaussianMixture, _core
from vecclust._mixture.gmm import EMResult, fit_em, log_responsibilities, n_parameters

COVARIANCE_TYPES = ["full", "diag"]


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    """scikit-learn's small matrix products are slower, not faster, with several BLAS threads."""
    with threadpool_limits(1):
        yield


# ---------------------------------------------------------------- helpers and oracles


def blobs(n, d, centers, seed=0, dtype=np.float64):
    X, _ = make_blobs(n_samples=n, n_features=d, centers=centers, cluster_std=1.5, random_state=seed)
    return np.ascontiguousarray(X, dtype=dtype)


def spd_matrices(rng, k, d):
    """k well-conditioned random covariance matrices."""
    A = rng.normal(size=(k, d, d))
    return A @ np.swapaxes(A, 1, 2) / d + 0.5 * np.eye(d)


def initial_values(X, k, covariance_type, seed=1):
    """(weights, means, precisions) to start both libraries from: random data points, a random
    weight vector and random precisions."""
    rng = np.random.default_rng(seed)
    d = X.shape[1]
    weights = rng.uniform(0.5, 1.5, size=k)
    weights /= weights.sum()
    means = X[rng.choice(len(X), k, replace=False)].astype(np.float64)
    if covariance_type == "full":
        precisions = np.linalg.inv(spd_matrices(rng, k, d) * np.var(X))
    else:
        precisions = 1.0 / (rng.uniform(0.5, 2.0, size=(k, d)) * np.var(X))
    return weights, means, precisions


def cholesky_of_precisions(precisions, covariance_type):
    if covariance_type == "diag":
        return np.sqrt(precisions)
    return np.ascontiguousarray(np.linalg.cholesky(precisions[:, ::-1, ::-1])[:, ::-1, ::-1])


def covariance_matrices(params: EMResult):
    if params.covariance_type == "full":
        return params.covariances
    return np.stack([np.diag(c) for c in params.covariances])


def oracle_weighted_log_prob(X, weights, means, covariances):
    """log(w_k) + log N(x | mean_k, cov_k) with scipy, (n, k)."""
    return np.stack([np.log(w) + multivariate_normal(m, c).logpdf(X).reshape(len(X))
                     for w, m, c in zip(weights, means, covariances)], axis=1)


def oracle_m_step(X, resp, reg_covar, covariance_type):
    """scikit-learn's M-step written out with two-pass centred sums in float64."""
    nk = resp.sum(axis=0) + 10 * np.finfo(np.float64).eps
    means = resp.T @ X / nk[:, None]
    covariances = []
    for c in range(resp.shape[1]):
        diff = X - means[c]
        cov = (resp[:, c, None] * diff).T @ diff / nk[c]
        covariances.append(cov + reg_covar * np.eye(X.shape[1]) if covariance_type == "full"
                           else np.diag(cov) + reg_covar)
    return nk / nk.sum(), means, np.array(covariances)


def fit_both(X, k, covariance_type, **kwargs):
    weights, means, precisions = initial_values(X, k, covariance_type)
    params = dict(n_components=k, covariance_type=covariance_type, weights_init=weights, means_init=means,
                  precisions_init=precisions, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = GaussianMixture(**params).fit(X)
        theirs = SklearnGaussianMixture(**params).fit(X)
    return ours, theirs


def assert_same_fit(ours, theirs, rtol=1e-7, lower_bound_rtol=1e-10, first_bound_rtol=None):
    scale = max(np.abs(theirs.covariances_).max(), 1.0)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.converged_ == theirs.converged_
    assert ours.lower_bound_ == pytest.approx(theirs.lower_bound_, rel=lower_bound_rtol)
    assert ours.lower_bounds_[0] == pytest.approx(theirs.lower_bounds_[0], rel=first_bound_rtol or lower_bound_rtol)
    np.testing.assert_allclose(ours.lower_bounds_[1:], theirs.lower_bounds_[1:], rtol=lower_bound_rtol)
    np.testing.assert_allclose(ours.weights_, theirs.weights_, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=rtol, atol=rtol * np.abs(theirs.means_).max())
    np.testing.assert_allclose(ours.covariances_, theirs.covariances_, rtol=rtol, atol=rtol * scale)
    # precisions amplify the covariances' relative differences by their condition number
    precision_rtol = max(rtol, 1e-6)
    np.testing.assert_allclose(ours.precisions_, theirs.precisions_, rtol=precision_rtol,
                               atol=precision_rtol * np.abs(theirs.precisions_).max())
    np.testing.assert_allclose(ours.precisions_cholesky_, theirs.precisions_cholesky_, rtol=precision_rtol,
                               atol=precision_rtol * np.abs(theirs.precisions_cholesky_).max())


# ---------------------------------------------------------------- parity with scikit-learn


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("n, d, k", [(300, 1, 1), (500, 2, 3), (1500, 5, 4), (3000, 8, 6), (5000, 3, 2)])
def test_same_fit_as_sklearn_from_the_same_start(covariance_type, n, d, k):
    X = blobs(n, d, centers=max(k, 2), seed=n + d)
    ours, theirs = fit_both(X, k, covariance_type, tol=1e-6, max_iter=300)
    assert ours.n_iter_ > 2
    assert_same_fit(ours, theirs)
    X_new = blobs(200, d, centers=max(k, 2), seed=7)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_array_equal(ours.fit_predict(X), theirs.fit_predict(X))
    np.testing.assert_array_equal(ours.predict(X_new), theirs.predict(X_new))
    np.testing.assert_allclose(ours.score_samples(X_new), theirs.score_samples(X_new), rtol=1e-9)
    np.testing.assert_allclose(ours.predict_proba(X_new), theirs.predict_proba(X_new), rtol=1e-6, atol=1e-9)
    assert ours.score(X) == pytest.approx(theirs.score(X), rel=1e-10)
    assert ours.bic(X) == pytest.approx(theirs.bic(X), rel=1e-10)
    assert ours.aic(X) == pytest.approx(theirs.aic(X), rel=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("init_params", ["random", "random_from_data"])
def test_random_initialisations_match_sklearn_for_the_same_seed(covariance_type, init_params):
    # Both draw the responsibilities (or the seed points) from the same RandomState stream.
    X = blobs(800, 3, centers=4, seed=5)
    params = dict(n_components=4, covariance_type=covariance_type, init_params=init_params, random_state=11,
                  n_init=2, tol=1e-7, max_iter=300)
    # From single seed points scikit-learn's diagonal variances are E[x^2] - mean^2 + reg_covar
    # with E[x^2] ~ 100 and a true variance ~ 1e-13: its cancellation error (~1e-14) is ~1e-7 of
    # reg_covar, and so is its first lower bound's (the core's centred sums are exact there).
    first_bound_rtol = 1e-6 if (covariance_type, init_params) == ("diag", "random_from_data") else None
    assert_same_fit(GaussianMixture(**params).fit(X), SklearnGaussianMixture(**params).fit(X),
                    first_bound_rtol=first_bound_rtol)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_partial_initial_values_override_like_sklearn(covariance_type):
    # Only means given: weights and precisions still come from the random responsibilities, and
    # the covariances around the responsibilities' own means, as in scikit-learn.
    X = blobs(600, 3, centers=3, seed=2)
    _, means, precisions = initial_values(X, 3, covariance_type)
    for extra in (dict(means_init=means), dict(precisions_init=precisions)):
        params = dict(n_components=3, covariance_type=covariance_type, init_params="random", random_state=4,
                      tol=1e-8, max_iter=400, **extra)
        assert_same_fit(GaussianMixture(**params).fit(X), SklearnGaussianMixture(**params).fit(X))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_warm_start_continues_like_sklearn(covariance_type):
    X = blobs(700, 3, centers=3, seed=8)
    weights, means, precisions = initial_values(X, 3, covariance_type)
    params = dict(n_components=3, covariance_type=covariance_type, weights_init=weights, means_init=means,
                  precisions_init=precisions, warm_start=True, max_iter=3, tol=1e-10)
    ours, theirs = GaussianMixture(**params), SklearnGaussianMixture(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(3):
            ours.fit(X)
            theirs.fit(X)
            assert_same_fit(ours, theirs)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_far_initial_means_still_give_centred_covariances(covariance_type):
    # Means that start 1e5 standard deviations away make the first M-step's moments about the
    # old means cancel badly; the core then sums again around the new means.
    X = blobs(1000, 4, centers=3, seed=3)
    weights, means, precisions = initial_values(X, 3, covariance_type)
    params = dict(n_components=3, covariance_type=covariance_type, weights_init=weights, means_init=means + 1e5,
                  precisions_init=precisions * 1e-10, tol=1e-8, max_iter=200)
    assert_same_fit(GaussianMixture(**params).fit(X), SklearnGaussianMixture(**params).fit(X))


def test_n_parameters_matches_sklearn():
    X = blobs(100, 4, centers=2)
    for covariance_type in COVARIANCE_TYPES:
        for k in (1, 2, 5):
            theirs = SklearnGaussianMixture(k, covariance_type=covariance_type, random_state=0).fit(X)
            assert n_parameters(k, 4, covariance_type) == theirs._n_parameters()
    with pytest.raises(ValueError, match="covariance_type"):
        n_parameters(2, 3, "tied")


# ---------------------------------------------------------------- oracles


@st.composite
def mixtures(draw):
    """(X, EMResult) with random well-conditioned parameters and points spread around them."""
    k = draw(st.integers(1, 5))
    d = draw(st.integers(1, 6))
    covariance_type = draw(st.sampled_from(COVARIANCE_TYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(1, 150))
    weights = rng.uniform(0.1, 1.0, size=k)
    weights /= weights.sum()
    means = rng.normal(scale=3.0, size=(k, d))
    if covariance_type == "full":
        covariances = spd_matrices(rng, k, d)
        precisions = np.linalg.inv(covariances)
    else:
        covariances = rng.uniform(0.3, 3.0, size=(k, d))
        precisions = 1.0 / covariances
    X = rng.normal(scale=4.0, size=(n, d))
    params = EMResult(weights, means, covariances, cholesky_of_precisions(precisions, covariance_type))
    return X, params


@given(mixtures())
def test_log_probabilities_match_scipy(case):
    X, params = case
    expected = oracle_weighted_log_prob(X, params.weights, params.means, covariance_matrices(params))
    log_prob_norm, log_resp = log_responsibilities(X, params, n_threads=2)
    np.testing.assert_allclose(log_prob_norm, logsumexp(expected, axis=1), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(log_resp, expected - logsumexp(expected, axis=1, keepdims=True), rtol=1e-9, atol=1e-9)
    weighted = _core.gmm_log_prob(X, params.weights, params.means, params.precisions_cholesky,
                                  covariance_type=params.covariance_type, n_threads=1)["weighted_log_prob"]
    np.testing.assert_allclose(weighted, expected, rtol=1e-10, atol=1e-10)


@given(mixtures(), st.sampled_from([0.0, 1e-6, 0.1]))
def test_one_em_iteration_matches_numpy(case, reg_covar):
    X, params = case
    assume(len(X) >= 2)
    expected = oracle_weighted_log_prob(X, params.weights, params.means, covariance_matrices(params))
    resp = np.exp(expected - logsumexp(expected, axis=1, keepdims=True))
    weights, means, covariances = oracle_m_step(X, resp, reg_covar, params.covariance_type)
    if reg_covar == 0.0:
        # a component may be (numerically) singular with reg_covar=0; that is the error case
        eigen = np.linalg.eigvalsh(covariances) if params.covariance_type == "full" else covariances
        assume(np.all(eigen > 1e-8 * np.abs(eigen).max()))
    result = fit_em(X, params.weights, params.means, params.precisions_cholesky,
                    covariance_type=params.covariance_type, reg_covar=reg_covar, tol=0.0, max_iter=1, n_threads=2)
    assert result.n_iter == 1 and not result.converged
    assert result.lower_bound == pytest.approx(np.mean(logsumexp(expected, axis=1)), rel=1e-10, abs=1e-10)
    assert result.lower_bounds == [result.lower_bound]
    np.testing.assert_allclose(result.weights, weights, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(result.means, means, rtol=1e-8, atol=1e-8 * max(1.0, np.abs(means).max()))
    scale = np.abs(covariances).max()
    np.testing.assert_allclose(result.covariances, covariances, rtol=1e-7, atol=1e-9 * scale)
    if params.covariance_type == "full":
        U = result.precisions_cholesky
        np.testing.assert_array_equal(np.tril(U, -1), 0.0)  # upper-triangular
        np.testing.assert_allclose(np.linalg.inv(U @ np.swapaxes(U, 1, 2)), result.covariances, rtol=1e-6,
                                   atol=1e-8 * scale)
    else:
        np.testing.assert_allclose(result.precisions_cholesky, 1 / np.sqrt(result.covariances), rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_large_models_match_numpy_and_do_not_depend_on_threads(covariance_type):
    # d=40, k=10 full: the per-component partial sums exceed the core's per-thread budget, so
    # they are folded after every tile instead of once per task. (9000 samples: enough for the
    # core to use a second thread, one per 4096.)
    rng = np.random.default_rng(4)
    d, k = 40, 10
    X = blobs(9000, d, centers=k, seed=4)
    weights = np.full(k, 1 / k)
    means = X[rng.choice(len(X), k, replace=False)]
    covariances = spd_matrices(rng, k, d) * 4
    if covariance_type == "diag":
        covariances = np.stack([np.diag(c) for c in covariances])
        params = EMResult(weights, means, covariances, 1 / np.sqrt(covariances))
    else:
        params = EMResult(weights, means, covariances, cholesky_of_precisions(np.linalg.inv(covariances), "full"))
    expected = oracle_weighted_log_prob(X, weights, means, covariance_matrices(params))
    resp = np.exp(expected - logsumexp(expected, axis=1, keepdims=True))
    _, expected_means, expected_covariances = oracle_m_step(X, resp, 1e-6, covariance_type)
    runs = [fit_em(X, weights, means, params.precisions_cholesky, covariance_type=covariance_type, reg_covar=1e-6,
                   tol=0.0, max_iter=1, n_threads=n_threads) for n_threads in (1, 2)]
    np.testing.assert_allclose(runs[0].means, expected_means, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(runs[0].covariances, expected_covariances, rtol=1e-7, atol=1e-9)
    assert runs[0].lower_bound == pytest.approx(np.mean(logsumexp(expected, axis=1)), rel=1e-10)
    for name in ("weights", "means", "covariances", "precisions_cholesky", "lower_bound"):
        np.testing.assert_array_equal(getattr(runs[0], name), getattr(runs[1], name))


def test_diag_covariances_stay_accurate_far_from_the_origin():
    # scikit-learn's diagonal M-step computes E[x^2] - mean^2, which loses about 12 of 16
    # digits for data at 1e6 with unit spread; the core's sums are centred.
    rng = np.random.default_rng(0)
    X = 1e6 + rng.normal(size=(500, 3)) * [1.0, 2.0, 0.5]
    params = EMResult(np.array([0.5, 0.5]), np.array([[1e6] * 3, [1e6 + 1] * 3]), None, np.ones((2, 3)))
    _, log_resp = log_responsibilities(X, params, 1)
    _, _, expected = oracle_m_step(X, np.exp(log_resp), 1e-6, "diag")
    result = fit_em(X, params.weights, params.means, params.precisions_cholesky, covariance_type="diag",
                    reg_covar=1e-6, tol=0.0, max_iter=1, n_threads=1)
    np.testing.assert_allclose(result.covariances, expected, rtol=1e-9)


def test_icl_is_bic_plus_twice_the_classification_entropy():
    X = blobs(400, 2, centers=3, seed=4)
    gm = GaussianMixture(3, random_state=0).fit(X)
    resp = gm.predict_proba(X)
    entropy = -np.sum(resp[resp > 0] * np.log(resp[resp > 0]))
    assert gm.icl(X) == pytest.approx(gm.bic(X) + 2 * entropy, rel=1e-10)
    assert gm.icl(X) >= gm.bic(X)
    one = GaussianMixture(1).fit(X)
    assert one.icl(X) == pytest.approx(one.bic(X), rel=1e-12)  # a single component: no entropy
    log_likelihood = one.score(X) * len(X)
    assert one.bic(X) == pytest.approx(-2 * log_likelihood + n_parameters(1, 2, "full") * np.log(len(X)))


@st.composite
def clustered_data(draw):
    d = draw(st.integers(1, 4))
    k_true = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    sizes = rng.integers(12 * (d + 1), 40 * (d + 1), size=k_true)
    centers = rng.normal(scale=draw(st.floats(0.5, 8.0)), size=(k_true, d))
    scales = rng.uniform(0.2, 3.0, size=(k_true, d))
    X = np.concatenate([c + s * rng.normal(size=(m, d)) for c, s, m in zip(centers, scales, sizes)])
    return X, draw(st.integers(1, 4)), draw(st.sampled_from(COVARIANCE_TYPES)), draw(st.integers(0, 1000))


@given(clustered_data())
def test_log_likelihood_never_decreases(case):
    X, k, covariance_type, seed = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(k, covariance_type=covariance_type, init_params="random", tol=1e-9, max_iter=60,
                             random_state=seed).fit(X)
    # A component left with about d points has a nearly singular covariance that only reg_covar
    # props up; EM's guarantee is for the unregularised M-step, so such fits are not judged.
    assume(gm.weights_.min() * len(X) >= 3 * (X.shape[1] + 1))
    bounds = np.array(gm.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-10 * np.abs(bounds[1:]))
    assert gm.lower_bound_ == bounds[-1]


# ---------------------------------------------------------------- float32


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_agrees_with_float64(covariance_type):
    X = blobs(2000, 4, centers=3, seed=6)
    X32 = X.astype(np.float32)
    weights, means, precisions = initial_values(X, 3, covariance_type)
    params = dict(n_components=3, covariance_type=covariance_type, weights_init=weights, means_init=means,
                  precisions_init=precisions, tol=1e-6)
    g64 = GaussianMixture(**params).fit(X32.astype(np.float64))
    g32 = GaussianMixture(**params).fit(X32)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert getattr(g32, name).dtype == np.float64
        # the same points (the float32 values), only read differently: float64 accuracy
        np.testing.assert_allclose(getattr(g32, name), getattr(g64, name), rtol=1e-12, atol=1e-12)
    assert g32.n_iter_ == g64.n_iter_
    assert g32.lower_bound_ == pytest.approx(g64.lower_bound_, rel=1e-13)
    np.testing.assert_array_equal(g32.predict(X32), g64.predict(X32.astype(np.float64)))
    assert g32.score_samples(X32).dtype == np.float64
    # and close to the fit of the unrounded data
    g = GaussianMixture(**params).fit(X)
    np.testing.assert_allclose(g32.means_, g.means_, rtol=1e-5, atol=1e-5)
    assert g32.lower_bound_ == pytest.approx(g.lower_bound_, rel=1e-5)


def test_float32_data_is_not_copied_to_float64():
    X = blobs(100_000, 16, centers=2, seed=0, dtype=np.float32)
    weights, means, precisions = initial_values(X, 2, "diag")
    gm = GaussianMixture(2, covariance_type="diag", weights_init=weights, means_init=means, precisions_init=precisions,
                         max_iter=2, tol=0.0)
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm.fit(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes  # a float64 copy alone would take 2 * X.nbytes


# ---------------------------------------------------------------- degenerate data


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_degenerate_clusters_do_not_crash(covariance_type, init_params):
    rng = np.random.default_rng(0)
    duplicates = np.tile([[5.0, -3.0, 1.0]], (40, 1))                      # a cluster of one repeated point
    constant_feature = np.column_stack([rng.normal(size=(60, 2)), np.full(60, 7.0)])  # zero variance in x3
    single = np.array([[100.0, 100.0, 100.0]])                             # a cluster of one point
    X = np.concatenate([duplicates, constant_feature, single])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(3, covariance_type=covariance_type, init_params=init_params, random_state=0).fit(X)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert np.all(np.isfinite(getattr(gm, name)))
    assert np.all(np.isfinite(gm.score_samples(X)))
    assert np.isfinite(gm.lower_bound_)
    np.testing.assert_allclose(gm.predict_proba(X).sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_degenerate_clusters_match_sklearn(covariance_type):
    rng = np.random.default_rng(1)
    X = np.concatenate([np.tile([[1.0, 2.0]], (30, 1)), rng.normal(size=(50, 2)) + 10, [[-50.0, 40.0]]])
    means = np.array([[1.0, 2.0], [10.0, 10.0], [-50.0, 40.0]])
    precisions = np.stack([np.eye(2)] * 3) if covariance_type == "full" else np.ones((3, 2))
    params = dict(n_components=3, covariance_type=covariance_type, weights_init=np.full(3, 1 / 3), means_init=means,
                  precisions_init=precisions, tol=1e-8)
    ours, theirs = GaussianMixture(**params).fit(X), SklearnGaussianMixture(**params).fit(X)
    # The repeated point and the single point are components of variance 0: reg_covar exactly.
    variances = ours.covariances_ if covariance_type == "diag" else np.diagonal(ours.covariances_, axis1=1, axis2=2)
    np.testing.assert_allclose(variances[[0, 2]], 1e-6, rtol=1e-9)
    if covariance_type == "full":
        assert_same_fit(ours, theirs, rtol=1e-6, lower_bound_rtol=1e-9)
    else:
        # scikit-learn's diagonal steps expand the squares: its variance of the single point at
        # (-50, 40) is E[x^2] - mean^2 + reg_covar with E[x^2] ~ 2500, off by ~1e-11 (~1e-5 of
        # reg_covar), and its E-step's |x - mean|^2 prec is a sum of terms ~x^2 prec ~ 1e9.
        assert_same_fit(ours, theirs, rtol=1e-4, lower_bound_rtol=1e-7)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_singular_covariance_without_regularisation_raises(covariance_type):
    X = np.concatenate([np.tile([[1.0, 2.0]], (30, 1)), np.random.default_rng(0).normal(size=(30, 2)) + 9])
    gm = GaussianMixture(2, covariance_type=covariance_type, reg_covar=0.0, random_state=0)
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        gm.fit(X)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_rejected(bad):
    X = blobs(50, 2, centers=2)
    X[3, 1] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        GaussianMixture(2).fit(X)
    gm = GaussianMixture(2, random_state=0).fit(blobs(50, 2, centers=2))
    for method in (gm.predict, gm.predict_proba, gm.score_samples, gm.score, gm.bic, gm.icl):
        with pytest.raises(ValueError, match="NaN|infinity"):
            method(X)


def test_bad_shapes_and_sizes_are_rejected():
    with pytest.raises(ValueError, match="0 sample"):
        GaussianMixture().fit(np.empty((0, 3)))
    with pytest.raises(ValueError, match="1 sample"):
        GaussianMixture().fit(np.ones((1, 3)))
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        GaussianMixture(5).fit(blobs(4, 2, centers=2))
    with pytest.raises(ValueError, match="2D array"):
        GaussianMixture().fit(np.arange(10.0))
    with pytest.raises(ValueError, match="0 feature"):
        GaussianMixture().fit(np.empty((5, 0)))
    gm = GaussianMixture(2, random_state=0).fit(blobs(50, 2, centers=2))
    with pytest.raises(ValueError, match="3 features"):
        gm.predict(np.ones((4, 3)))
    with pytest.raises(NotFittedError):
        GaussianMixture().predict(np.ones((4, 3)))
    with pytest.raises(ValueError, match="n_samples"):
        gm.sample(0)


@pytest.mark.parametrize("params, error, match", [
    (dict(n_components=0), ValueError, "n_components"),
    (dict(n_components=1.5), TypeError, "n_components"),
    (dict(covariance_type="tied"), ValueError, "covariance_type"),
    (dict(covariance_type="spherical"), ValueError, "covariance_type"),
    (dict(tol=-1.0), ValueError, "tol"),
    (dict(reg_covar=-1e-6), ValueError, "reg_covar"),
    (dict(reg_covar=np.nan), ValueError, "reg_covar"),
    (dict(max_iter=-1), ValueError, "max_iter"),
    (dict(n_init=0), ValueError, "n_init"),
    (dict(init_params="kmeans++"), ValueError, "init_params"),
    (dict(n_threads=0), ValueError, "n_threads"),
    (dict(warm_start="yes"), TypeError, "warm_start"),
    (dict(weights_init=[0.5, 0.6]), ValueError, "normalized"),
    (dict(weights_init=[1.5, -0.5]), ValueError, "range"),
    (dict(weights_init=[1.0]), ValueError, "shape"),
    (dict(means_init=np.zeros((2, 3))), ValueError, "shape"),
    (dict(means_init=[[0.0, np.nan], [1.0, 1.0]]), ValueError, "NaN"),
    (dict(precisions_init=np.zeros((2, 2, 2))), ValueError, "positive-definite"),
    (dict(precisions_init=np.array([[[1.0, 2.0], [0.0, 1.0]]] * 2)), ValueError, "symmetric"),
    (dict(precisions_init=np.ones((2, 2))), ValueError, "shape"),
    (dict(covariance_type="diag", precisions_init=-np.ones((2, 2))), ValueError, "positive"),
])
def test_bad_parameters_are_rejected(params, error, match):
    X = blobs(60, 2, centers=2)
    with pytest.raises(error, match=match):
        GaussianMixture(**{"n_components": 2, **params}).fit(X)


def test_warm_start_with_other_shapes_is_rejected():
    X = blobs(60, 2, centers=2)
    gm = GaussianMixture(2, warm_start=True, random_state=0).fit(X)
    with pytest.raises(ValueError, match="warm_start"):
        gm.set_params(n_components=3).fit(X)
    with pytest.raises(ValueError, match="warm_start"):
        gm.set_params(n_components=2, covariance_type="diag").fit(X)


def test_core_rejects_inconsistent_arrays():
    X = blobs(20, 2, centers=2)
    w, m, u = np.full(2, 0.5), np.zeros((2, 2)), np.stack([np.eye(2)] * 2)
    with pytest.raises(ValueError, match="weights"):
        _core.gmm_em(X, np.ones(3) / 3, m, u, covariance_type="full", reg_covar=1e-6, tol=1e-3, max_iter=10,
                     previous_lower_bound=-np.inf, n_threads=1)
    with pytest.raises(ValueError, match="means"):
        _core.gmm_log_prob(X, w, np.zeros((2, 3)), u, covariance_type="full", n_threads=1)
    with pytest.raises(ValueError, match="precisions_cholesky"):
        _core.gmm_log_prob(X, w, m, np.ones((2, 2)), covariance_type="full", n_threads=1)
    with pytest.raises(ValueError, match="covariance_type"):
        _core.gmm_log_prob(X, w, m, u, covariance_type="tied", n_threads=1)
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.gmm_log_prob(np.asfortranarray(X), w, m, u, covariance_type="full", n_threads=1)
    with pytest.raises(TypeError, match="float32 or float64"):
        _core.gmm_log_prob(X.astype(np.int64), w, m, u, covariance_type="full", n_threads=1)
    with pytest.raises(ValueError, match="labels must be in"):
        _core.gmm_parameters_from_responsibilities(X, labels=np.full(20, 2), n_components=2, covariance_type="full",
                                                   reg_covar=1e-6, n_threads=1)
    with pytest.raises(ValueError, match="resp must have shape"):
        _core.gmm_parameters_from_responsibilities(X, resp=np.ones((20, 3)), n_components=2, covariance_type="full",
                                                   reg_covar=1e-6, n_threads=1)


# ---------------------------------------------------------------- determinism and threads


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_bit_identical_for_any_thread_count(covariance_type, dtype):
    X = blobs(9000, 5, centers=6, seed=3, dtype=dtype)  # several parallel tasks, two threads

    def fit(n_threads):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return GaussianMixture(6, covariance_type=covariance_type, n_init=2, max_iter=30, random_state=5,
                                   n_threads=n_threads).fit(X)

    one, two = fit(1), fit(2)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_", "lower_bounds_"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))
    assert (one.n_iter_, one.lower_bound_, one.converged_) == (two.n_iter_, two.lower_bound_, two.converged_)
    np.testing.assert_array_equal(one.score_samples(X), two.score_samples(X))
    np.testing.assert_array_equal(one.predict_proba(X), two.predict_proba(X))


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_fixed_random_state_is_reproducible(init_params):
    X = blobs(1500, 3, centers=4, seed=9)
    fits = [GaussianMixture(4, init_params=init_params, n_init=2, random_state=seed).fit(X) for seed in (3, 3, 4)]
    np.testing.assert_array_equal(fits[0].means_, fits[1].means_)
    np.testing.assert_array_equal(fits[0].covariances_, fits[1].covariances_)
    assert fits[0].lower_bounds_ == fits[1].lower_bounds_
    np.testing.assert_array_equal(fits[0].sample(50)[0], fits[1].sample(50)[0])
    if init_params != "kmeans":  # (k-means from other seeds may well find the same clusters)
        assert fits[2].lower_bounds_[0] != fits[0].lower_bounds_[0]  # another seed, another start


def test_kmeans_initialisation_finds_well_separated_blobs():
    X, y = make_blobs(600, n_features=2, centers=[[0, 0], [20, 0], [0, 20]], random_state=0)
    gm = GaussianMixture(3, random_state=0).fit(X)
    labels = gm.predict(X)
    assert len(set(zip(labels.tolist(), y.tolist()))) == 3  # the blobs, up to renaming
    assert gm.converged_ and gm.n_iter_ <= 3


# ---------------------------------------------------------------- estimator behaviour


def test_attributes_shapes_and_types():
    X = blobs(300, 3, centers=2)
    for covariance_type, shape in (("full", (2, 3, 3)), ("diag", (2, 3))):
        gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
        assert gm.weights_.shape == (2,) and gm.means_.shape == (2, 3)
        for name in ("covariances_", "precisions_", "precisions_cholesky_"):
            assert getattr(gm, name).shape == shape
        assert isinstance(gm.lower_bounds_, list) and len(gm.lower_bounds_) == gm.n_iter_
        assert isinstance(gm.lower_bound_, float) and isinstance(gm.converged_, bool)
        assert gm.n_features_in_ == 3
        assert gm.weights_.sum() == pytest.approx(1.0, abs=1e-12)


def test_max_iter_zero_keeps_the_initial_parameters():
    X = blobs(200, 2, centers=2)
    weights, means, precisions = initial_values(X, 2, "full")
    gm = GaussianMixture(2, weights_init=weights, means_init=means, precisions_init=precisions, max_iter=0).fit(X)
    np.testing.assert_array_equal(gm.weights_, weights)
    np.testing.assert_array_equal(gm.means_, means)
    np.testing.assert_allclose(gm.precisions_, precisions, rtol=1e-12)
    np.testing.assert_allclose(gm.covariances_, np.linalg.inv(precisions), rtol=1e-10)
    assert (gm.n_iter_, gm.lower_bound_, gm.lower_bounds_, gm.converged_) == (0, -np.inf, [], False)


def test_convergence_warning_when_max_iter_is_reached():
    X = blobs(300, 2, centers=3)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        gm = GaussianMixture(3, init_params="random", max_iter=2, tol=1e-12, random_state=0).fit(X)
    assert not gm.converged_ and gm.n_iter_ == 2


def test_sample_matches_sklearn_for_the_same_parameters():
    X = blobs(300, 2, centers=3)
    for covariance_type in COVARIANCE_TYPES:
        ours = GaussianMixture(3, covariance_type=covariance_type, random_state=2).fit(X)
        theirs = SklearnGaussianMixture(3, covariance_type=covariance_type, random_state=2)
        for name in ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"):
            setattr(theirs, name, getattr(ours, name))
        theirs.converged_ = True
        samples, labels = ours.sample(500)
        expected_samples, expected_labels = theirs.sample(500)
        np.testing.assert_array_equal(samples, expected_samples)
        np.testing.assert_array_equal(labels, expected_labels)
        assert samples.shape == (500, 2) and np.bincount(labels, minlength=3).sum() == 500


def test_pickle_round_trip():
    X = blobs(300, 3, centers=3)
    gm = GaussianMixture(3, random_state=0).fit(X)
    restored = pickle.loads(pickle.dumps(gm))
    np.testing.assert_array_equal(restored.predict_proba(X), gm.predict_proba(X))
    assert restored.get_params() == gm.get_params()


def test_verbose_prints_iterations(capsys):
    X = blobs(300, 2, centers=2)
    GaussianMixture(2, verbose=1, random_state=0).fit(X)
    out = capsys.readouterr().out
    assert "Initialization 0" in out and "Iteration 1" in out and "lower bound" in out
    assert "Initialization converged." in out


def test_fit_em_api_and_the_estimator_agree():
    X = blobs(500, 3, centers=3, seed=1)
    weights, means, precisions = initial_values(X, 3, "full")
    gm = GaussianMixture(3, weights_init=weights, means_init=means, precisions_init=precisions).fit(X)
    result = fit_em(X, weights, means, cholesky_of_precisions(precisions, "full"), covariance_type="full",
                    reg_covar=1e-6, tol=1e-3, max_iter=100, n_threads=None)
    assert isinstance(result, EMResult)
    np.testing.assert_array_equal(result.means, gm.means_)
    np.testing.assert_array_equal(result.covariances, gm.covariances_)
    assert (result.lower_bound, result.lower_bounds, result.n_iter, result.converged) == (
        gm.lower_bound_, gm.lower_bounds_, gm.n_iter_, gm.converged_)
    log_prob_norm, log_resp = log_responsibilities(X, result, n_threads=1)
    np.testing.assert_array_equal(log_prob_norm, gm.score_samples(X))
    # a strided view is accepted (made contiguous), with the same result
    strided = np.repeat(X, 2, axis=0)[::2]
    assert not strided.flags.c_contiguous
    np.testing.assert_array_equal(log_responsibilities(strided, result)[1], log_resp)
    unchanged = fit_em(X, weights, means, cholesky_of_precisions(precisions, "full"), covariance_type="full",
                       reg_covar=1e-6, tol=1e-3, max_iter=0, n_threads=1)
    np.testing.assert_array_equal(unchanged.means, means)
    np.testing.assert_allclose(unchanged.covariances, np.linalg.inv(precisions), rtol=1e-10)
    assert (unchanged.n_iter, unchanged.lower_bounds, unchanged.converged) == (0, [], False)
    np.testing.assert_array_equal(np.argmax(log_resp, axis=1), gm.predict(X))
    assert "GaussianMixture" in vecclust.__all__


@pytest.mark.parametrize("dtype, scale", [(np.float32, 1e20), (np.float32, 1e30), (np.float64, 1e160)])
def test_data_whose_squared_distances_overflow_is_refused_naming_the_limit(dtype, scale):
    # Used to blame "collapsed samples" (an overflow of the covariances); reg_covar is in the
    # data's units, so the data cannot be rescaled behind the user's back.
    X, _ = make_blobs(n_samples=200, n_features=4, centers=3, random_state=0)
    limit = np.sqrt(np.finfo(dtype).max / 32)
    with pytest.raises(ValueError, match=re.escape(f"above {limit:.3g}, the largest whose squared distances")):
        GaussianMixture(3, random_state=0).fit((X * scale).astype(dtype))
    model = GaussianMixture(3, random_state=0).fit(X.astype(dtype))
    with pytest.raises(ValueError, match="GaussianMixture: X has a value of magnitude"):
        model.predict((X * scale).astype(dtype))
    below = (X / np.abs(X).max() * limit * 0.5).astype(dtype)  # at the limit: fitted, finite
    assert np.isfinite(GaussianMixture(3, random_state=0).fit(below).lower_bound_)
