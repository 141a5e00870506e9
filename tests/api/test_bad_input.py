"""Invalid input must raise ValueError or TypeError with a message that says what is wrong,
never crash or return garbage."""

import re

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import vecclust
from strategies import euclidean_matrix
from vecclust import CLARA, CLARANS, KMedoids

FUNCTIONS = [vecclust.fasterpam, vecclust.fastpam1, vecclust.pam, vecclust.alternating]


@pytest.fixture
def X():
    return np.random.default_rng(0).normal(size=(20, 3))


@pytest.fixture
def D(X):
    return euclidean_matrix(X)


def fit_precomputed(diss, k=2, **params):
    return KMedoids(k, metric="precomputed", **params).fit(diss)


# ---------------------------------------------------------------- non-finite values


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_features(bad, X):
    X[3, 1] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        KMedoids(2).fit(X)
    good = KMedoids(2).fit(np.random.default_rng(1).normal(size=(20, 3)))
    with pytest.raises(ValueError, match="NaN|infinity"):
        good.predict(X)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [5, 70, 131])  # inside a SIMD block, across tiles, on the ragged edge
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_non_finite_matrix(bad, dtype, n, where):
    diss = euclidean_matrix(np.random.default_rng(n).normal(size=(n, 2))).astype(dtype)
    i, j = {"first": (0, 1), "middle": (n // 2, n // 3), "last": (n - 1, n - 2)}[where]
    diss[i, j] = diss[j, i] = bad
    for function in FUNCTIONS:
        with pytest.raises(ValueError, match="NaN or infinity"):
            function(diss, 2)
    with pytest.raises(ValueError, match="NaN or infinity"):
        vecclust.pam_build(diss, 2)
    with pytest.raises(ValueError, match="NaN or infinity"):
        fit_precomputed(diss)


def test_non_finite_on_one_side_only(D):
    D[2, 5] = np.nan  # D[5, 2] stays finite
    with pytest.raises(ValueError, match="NaN or infinity"):
        vecclust.fasterpam(D, 2)


# ---------------------------------------------------------------- sizes


def test_empty_input():
    with pytest.raises(ValueError, match="empty"):
        vecclust.fasterpam(np.empty((0, 0)), 1)
    with pytest.raises(ValueError):
        KMedoids(1).fit(np.empty((0, 3)))
    with pytest.raises(ValueError):
        fit_precomputed(np.empty((0, 0)), k=1)


def test_one_sample():
    with pytest.raises(ValueError, match="at least 2 samples"):
        vecclust.fasterpam(np.zeros((1, 1)), 1)
    with pytest.raises(ValueError, match="sample"):
        KMedoids(1).fit(np.ones((1, 3)))
    with pytest.raises(ValueError, match="sample"):
        fit_precomputed(np.zeros((1, 1)), k=1)


@pytest.mark.parametrize("k", [0, -1])
def test_k_below_one(k, X, D):
    for function in FUNCTIONS:
        with pytest.raises(ValueError, match="k=|must be"):
            function(D, k)
    with pytest.raises(ValueError, match="k=|must be"):
        vecclust.pam_build(D, k)
    with pytest.raises(ValueError, match="n_clusters"):
        KMedoids(k).fit(X)


def test_k_above_n(X, D):
    for function in FUNCTIONS:
        with pytest.raises(ValueError, match="n_samples=20"):
            function(D, 21)
    with pytest.raises(ValueError, match="n_samples=20"):
        vecclust.pam_build(D, 21)
    with pytest.raises(ValueError, match="n_clusters=21"):
        KMedoids(21).fit(X)
    with pytest.raises(ValueError, match="n_clusters=21"):
        fit_precomputed(D, k=21)


@pytest.mark.parametrize("k", [2.0, "2", None, True])
def test_k_of_the_wrong_type(k, D):
    with pytest.raises(TypeError):
        vecclust.fasterpam(D, k)
    with pytest.raises(TypeError):
        vecclust.pam_build(D, k)


def test_numpy_integer_k_is_accepted(D):
    assert vecclust.fasterpam(D, np.int32(3)).medoids.size == 3
    assert vecclust.pam_build(D, np.int64(3)).medoids.size == 3


# ---------------------------------------------------------------- matrix shape and contents


@pytest.mark.parametrize("shape", [(3, 4), (4, 3)])
def test_non_square_matrix(shape):
    diss = np.ones(shape)
    with pytest.raises(ValueError, match="square"):
        vecclust.fasterpam(diss, 2)
    with pytest.raises(ValueError, match="square"):
        fit_precomputed(diss)


@pytest.mark.parametrize("diss", [np.zeros(4), np.zeros((2, 2, 2))])
def test_matrix_of_the_wrong_dimension(diss):
    with pytest.raises(ValueError, match="2-dimensional"):
        vecclust.fasterpam(diss, 1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [5, 70, 131])
def test_asymmetric_matrix(dtype, n):
    diss = euclidean_matrix(np.random.default_rng(n).normal(size=(n, 2))).astype(dtype)
    diss[n - 1, n // 2] *= 1.5
    for function in FUNCTIONS:
        with pytest.raises(ValueError, match="symmetric"):
            function(diss, 2)
    with pytest.raises(ValueError, match="symmetric"):
        fit_precomputed(diss)


def test_rounding_level_asymmetry_is_accepted(D):
    D[2, 7] = np.nextafter(D[2, 7], np.inf)  # one ulp, as BLAS-based distance code produces
    assert vecclust.fasterpam(D, 2).medoids.size == 2


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [5, 70, 131])
def test_negative_matrix(dtype, n):
    diss = euclidean_matrix(np.random.default_rng(n).normal(size=(n, 2))).astype(dtype)
    diss[1, n - 1] = diss[n - 1, 1] = -1.0
    for function in FUNCTIONS:
        with pytest.raises(ValueError, match="negative"):
            function(diss, 2)
    with pytest.raises(ValueError, match="negative"):
        fit_precomputed(diss)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [5, 70, 131])
@pytest.mark.parametrize("where", [0, -1])
def test_non_zero_diagonal(dtype, n, where):
    diss = euclidean_matrix(np.random.default_rng(n).normal(size=(n, 2))).astype(dtype)
    diss[where, where] = 0.5
    for function in FUNCTIONS:
        with pytest.raises(ValueError, match="diagonal"):
            function(diss, 2)
    with pytest.raises(ValueError, match="diagonal"):
        fit_precomputed(diss)


def test_sparse_and_non_numeric_matrices(D):
    from scipy import sparse

    with pytest.raises(TypeError, match="sparse"):
        vecclust.fasterpam(sparse.csr_array(D), 2)
    with pytest.raises(TypeError, match="numeric"):
        vecclust.fasterpam(D.astype(str), 2)
    with pytest.raises(TypeError, match="numeric"):
        vecclust.fasterpam(D.astype(complex), 2)


def test_integer_and_float16_matrices_are_converted(D):
    rounded = np.rint(D * 10)
    expected = vecclust.fasterpam(rounded, [0, 1])
    for dtype in (np.int32, np.int64, np.uint16):
        assert vecclust.fasterpam(rounded.astype(dtype), [0, 1]).loss == expected.loss
    half = vecclust.fasterpam(D.astype(np.float16), [0, 1])
    assert half.loss == pytest.approx(vecclust.fasterpam(D, [0, 1]).loss, rel=1e-2)


# ---------------------------------------------------------------- initial medoids


@pytest.mark.parametrize("function", FUNCTIONS)
def test_duplicate_initial_medoids(function, D):
    with pytest.raises(ValueError, match="distinct"):
        function(D, [3, 5, 3])


@pytest.mark.parametrize("init", [[0, 20], [-1, 2], [25]])
def test_out_of_range_initial_medoids(init, D):
    for function in FUNCTIONS:
        with pytest.raises(ValueError, match=r"\[0, 20\)"):
            function(D, init)


@pytest.mark.parametrize("init", [[0.0, 1.0], np.array([0.0, 1.0]), np.array([0.5, 1.5])])
def test_float_initial_medoids(init, D):
    for function in FUNCTIONS:
        with pytest.raises(TypeError, match="integer"):
            function(D, init)
    with pytest.raises(TypeError, match="integer"):
        fit_precomputed(D, init=init)


@pytest.mark.parametrize("init", [[], [[0, 1]], np.zeros((2, 1), dtype=int)])
def test_badly_shaped_initial_medoids(init, D):
    with pytest.raises(ValueError, match="1-d"):
        vecclust.fasterpam(D, init)


def test_initial_medoids_in_the_estimator(X):
    with pytest.raises(ValueError, match="distinct"):
        KMedoids(3, init=[1, 1, 2]).fit(X)
    with pytest.raises(ValueError, match=r"\[0, 20\)"):
        KMedoids(2, init=[1, 20]).fit(X)
    with pytest.raises(ValueError, match="n_clusters=3"):
        KMedoids(3, init=[1, 2]).fit(X)


# ---------------------------------------------------------------- parameters


@pytest.mark.parametrize("metric", ["minkowski", "Euclidean", "l2", ""])
def test_unknown_metric(metric, X):
    with pytest.raises(ValueError, match="metric="):
        KMedoids(2, metric=metric).fit(X)


@pytest.mark.parametrize("method", ["fastpam2", "alternating", "FasterPAM", "build"])
def test_unknown_method(method, X):
    with pytest.raises(ValueError, match="method="):
        KMedoids(2, method=method).fit(X)


@pytest.mark.parametrize("init", ["heuristic", "kmeans++", "BUILD", ""])
def test_unknown_init(init, X, D):
    with pytest.raises(ValueError, match="init="):
        KMedoids(2, init=init).fit(X)
    with pytest.raises(ValueError, match="init="):
        vecclust.fasterpam(D, 2, init=init)


@pytest.mark.parametrize("init", [None, 2, np.int64(2), 2.0])
def test_init_that_is_neither_a_name_nor_indices(init, X, D):
    # an int is not "k random medoids": n_clusters says how many
    with pytest.raises(TypeError, match="init"):
        KMedoids(2, init=init).fit(X)
    with pytest.raises((ValueError, TypeError), match="init"):
        vecclust.fasterpam(D, 2, init=init)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(max_iter=0), "max_iter"),
        (dict(max_iter=-5), "max_iter"),
        (dict(max_iter=1.5), "max_iter"),
        (dict(n_init=0), "n_init"),
        (dict(precompute="yes"), "precompute"),
        (dict(n_clusters=2.0), "n_clusters"),
    ],
)
def test_bad_estimator_parameters(params, match, X):
    with pytest.raises((ValueError, TypeError), match=match):
        KMedoids(**{"n_clusters": 2, **params}).fit(X)


def test_negative_max_iter_in_functions(D):
    with pytest.raises(ValueError, match="max_iter"):
        vecclust.fasterpam(D, 2, max_iter=-1)


# ---------------------------------------------------------------- all points identical


@pytest.mark.parametrize("precompute", [True, False])
def test_identical_points_features(precompute):
    X = np.full((10, 3), 2.5)
    with pytest.raises(ValueError, match="identical"):
        KMedoids(2, precompute=precompute).fit(X)
    one = KMedoids(1, precompute=precompute).fit(X)  # one cluster is fine
    assert one.inertia_ == 0 and one.medoid_indices_.size == 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [5, 70])
def test_identical_points_matrix(dtype, n):
    diss = np.zeros((n, n), dtype=dtype)
    for function in FUNCTIONS:
        with pytest.raises(ValueError, match="identical"):
            function(diss, 2)
        with pytest.raises(ValueError, match="identical"):
            function(diss, [0, 1])
    with pytest.raises(ValueError, match="identical"):
        vecclust.pam_build(diss, 2)
    with pytest.raises(ValueError, match="identical"):
        fit_precomputed(diss)
    assert vecclust.fasterpam(diss, 1).loss == 0


# ---------------------------------------------------------------- sample weights


@pytest.mark.parametrize("shape", [(19,), (21,), (20, 1), (2, 10)])
def test_sample_weight_of_the_wrong_shape(shape, X, D):
    weights = np.ones(shape)
    with pytest.raises(ValueError, match=r"shape \(20,\)"):
        KMedoids(2).fit(X, sample_weight=weights)
    with pytest.raises(ValueError, match=r"shape \(20,\)"):
        vecclust.fasterpam(D, 2, sample_weight=weights)


@pytest.mark.parametrize("bad, match", [(-1.0, "non-negative"), (np.nan, "NaN"), (np.inf, "infinity")])
def test_bad_sample_weight_values(bad, match, X, D):
    weights = np.ones(20)
    weights[4] = bad
    with pytest.raises(ValueError, match=match):
        KMedoids(2).fit(X, sample_weight=weights)
    with pytest.raises(ValueError, match=match):
        vecclust.pam_build(D, 2, sample_weight=weights)


def test_all_zero_sample_weight(X, D):
    with pytest.raises(ValueError, match="all zero"):
        KMedoids(2).fit(X, sample_weight=np.zeros(20))
    with pytest.raises(ValueError, match="all zero"):
        vecclust.fasterpam(D, 2, sample_weight=np.zeros(20))


def test_scalar_sample_weight_is_uniform(X):
    plain = KMedoids(3, random_state=0).fit(X)
    scaled = KMedoids(3, random_state=0).fit(X, sample_weight=2.0)
    np.testing.assert_array_equal(plain.medoid_indices_, scaled.medoid_indices_)
    assert scaled.inertia_ == pytest.approx(2 * plain.inertia_, rel=1e-12)


# ---------------------------------------------------------------- threads


@pytest.mark.parametrize("n_threads, error", [(0, ValueError), (1.5, TypeError), ("2", TypeError), (True, TypeError)])
def test_bad_n_threads(n_threads, error, X, D):
    with pytest.raises(error, match="n_threads"):
        KMedoids(2, n_threads=n_threads).fit(X)
    with pytest.raises(error, match="n_threads"):
        vecclust.fasterpam(D, 2, n_threads=n_threads)


@pytest.mark.parametrize("n_threads", [-1, -2, -100, 1, 7])
def test_negative_and_oversubscribed_n_threads_work(n_threads, D):
    expected = vecclust.fasterpam(D, [0, 1, 2], n_threads=1)
    got = vecclust.fasterpam(D, [0, 1, 2], n_threads=n_threads)
    np.testing.assert_array_equal(got.medoids, expected.medoids)
    assert got.loss == expected.loss


# ---------------------------------------------------------------- predict / transform


def test_predict_with_the_wrong_number_of_features(X):
    km = KMedoids(2).fit(X)
    with pytest.raises(ValueError, match="features"):
        km.predict(X[:, :2])
    with pytest.raises(ValueError, match="features"):
        km.transform(np.ones((4, 5)))


def test_precomputed_predict_with_the_wrong_number_of_columns(D):
    km = fit_precomputed(D)
    with pytest.raises(ValueError, match="features"):
        km.predict(D[:, :10])


@pytest.mark.parametrize("method", ["predict", "transform"])
def test_predict_before_fit(method, X):
    with pytest.raises(NotFittedError):
        getattr(KMedoids(2), method)(X)


# ================================================================ CLARA and CLARANS
# The same checks for the sampling estimators, which share KMedoids' input validation but have
# their own parameters and their own bindings to the core.

SAMPLERS = [CLARA, CLARANS]


def fit_sampler(cls, data, k=2, **params):
    return cls(k, **params).fit(data)


@pytest.mark.parametrize("cls", SAMPLERS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_sampler_non_finite_features(cls, bad, X):
    X[3, 1] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        fit_sampler(cls, X)
    good = fit_sampler(cls, np.random.default_rng(1).normal(size=(20, 3)))
    with pytest.raises(ValueError, match="NaN|infinity"):
        good.predict(X)


@pytest.mark.parametrize("cls", SAMPLERS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [5, 131])
def test_sampler_non_finite_matrix(cls, bad, dtype, n):
    diss = euclidean_matrix(np.random.default_rng(n).normal(size=(n, 2))).astype(dtype)
    diss[n - 1, n // 2] = diss[n // 2, n - 1] = bad
    with pytest.raises(ValueError, match="NaN or infinity"):
        fit_sampler(cls, diss, metric="precomputed")


@pytest.mark.parametrize("cls", SAMPLERS)
def test_sampler_empty_input_and_one_sample(cls):
    with pytest.raises(ValueError):
        fit_sampler(cls, np.empty((0, 3)), k=1)
    with pytest.raises(ValueError):
        fit_sampler(cls, np.empty((0, 0)), k=1, metric="precomputed")
    with pytest.raises(ValueError, match="sample"):
        fit_sampler(cls, np.ones((1, 3)), k=1)
    with pytest.raises(ValueError, match="sample"):
        fit_sampler(cls, np.zeros((1, 1)), k=1, metric="precomputed")


@pytest.mark.parametrize("cls", SAMPLERS)
@pytest.mark.parametrize("k", [0, -1])
def test_sampler_k_below_one(cls, k, X, D):
    with pytest.raises(ValueError, match="n_clusters"):
        fit_sampler(cls, X, k=k)
    with pytest.raises(ValueError, match="n_clusters"):
        fit_sampler(cls, D, k=k, metric="precomputed")


@pytest.mark.parametrize("cls", SAMPLERS)
def test_sampler_k_above_n(cls, X, D):
    with pytest.raises(ValueError, match="n_clusters=21"):
        fit_sampler(cls, X, k=21)
    with pytest.raises(ValueError, match="n_clusters=21"):
        fit_sampler(cls, D, k=21, metric="precomputed")


@pytest.mark.parametrize("cls", SAMPLERS)
@pytest.mark.parametrize("k", [2.0, "2", None, True])
def test_sampler_k_of_the_wrong_type(cls, k, X):
    with pytest.raises(TypeError, match="n_clusters"):
        fit_sampler(cls, X, k=k)


def test_clara_needs_more_points_than_clusters(X, D):
    # a sample must be larger than k, and a sample cannot be larger than n
    for data, metric in ((X, "euclidean"), (D, "precomputed")):
        with pytest.raises(ValueError, match="n_clusters=20 < n_samples=20"):
            CLARA(20, metric=metric).fit(data)
        with pytest.raises(ValueError, match="n_clusters=2 < n_samples=2"):
            CLARA(2, metric=metric).fit(data[:2, :2] if metric == "precomputed" else data[:2])
    assert CLARA(19).fit(X).medoid_indices_.size == 19


@pytest.mark.parametrize("n_sampling", [2, 1, 0, -5])
def test_clara_sample_not_larger_than_k(n_sampling, X):
    with pytest.raises(ValueError, match="n_sampling"):
        CLARA(2, n_sampling=n_sampling).fit(X)


@pytest.mark.parametrize("n_sampling", [10.0, 2.5, "10", True, [10]])
def test_clara_sample_size_of_the_wrong_type(n_sampling, X):
    with pytest.raises(TypeError, match="n_sampling"):
        CLARA(2, n_sampling=n_sampling).fit(X)


def test_clara_sample_size_types_that_work(X):
    expected = CLARA(2, n_sampling=10, random_state=0).fit(X)
    for n_sampling in (np.int64(10), np.int32(10)):
        got = CLARA(2, n_sampling=n_sampling, random_state=0).fit(X)
        np.testing.assert_array_equal(got.medoid_indices_, expected.medoid_indices_)
    assert CLARA(2, n_sampling=10**30).fit(X).medoid_indices_.size == 2  # capped at n


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(n_sampling_iter=0), ValueError, "n_sampling_iter"),
        (dict(n_sampling_iter=2.0), TypeError, "n_sampling_iter"),
        (dict(max_iter=0), ValueError, "max_iter"),
        (dict(max_iter=1.5), TypeError, "max_iter"),
        (dict(method="fastpam2"), ValueError, "method="),
        (dict(method="build"), ValueError, "method="),
        (dict(method="FasterPAM"), ValueError, "method="),
        (dict(init="heuristic"), ValueError, "init="),
        (dict(init="BUILD"), ValueError, "init="),
        (dict(init=[0, 1]), ValueError, "init="),  # CLARA draws its own samples: names only
        (dict(init=None), ValueError, "init="),
        (dict(keep_medoids="no"), TypeError, "keep_medoids"),
        (dict(keep_medoids=None), TypeError, "keep_medoids"),
    ],
)
def test_bad_clara_parameters(params, error, match, X):
    with pytest.raises(error, match=match):
        CLARA(2, **params).fit(X)


def test_clara_keep_medoids_accepts_numpy_booleans(X):
    a = CLARA(2, n_sampling=8, keep_medoids=np.bool_(False), random_state=0).fit(X)
    b = CLARA(2, n_sampling=8, keep_medoids=False, random_state=0).fit(X)
    np.testing.assert_array_equal(a.sample_losses_, b.sample_losses_)


@pytest.mark.parametrize("max_neighbor", [0, 0.0, -1, -0.5, np.nan])
def test_clarans_max_neighbor_not_positive(max_neighbor, X):
    with pytest.raises(ValueError, match="max_neighbor"):
        CLARANS(2, max_neighbor=max_neighbor).fit(X)


@pytest.mark.parametrize("max_neighbor", ["0.1", None, True, [5], 1j])
def test_clarans_max_neighbor_not_a_number(max_neighbor, X):
    with pytest.raises(TypeError, match="max_neighbor"):
        CLARANS(2, max_neighbor=max_neighbor).fit(X)


@pytest.mark.parametrize("max_neighbor", [np.inf, 10**30, 1e300])
def test_clarans_huge_max_neighbor_is_capped_at_n(max_neighbor, X):
    expected = CLARANS(2, max_neighbor=20, random_state=0).fit(X)
    got = CLARANS(2, max_neighbor=max_neighbor, random_state=0).fit(X)
    np.testing.assert_array_equal(got.medoid_indices_, expected.medoid_indices_)
    assert got.n_iter_ == expected.n_iter_


@pytest.mark.parametrize("n_local, error", [(0, ValueError), (-1, ValueError), (2.0, TypeError), ("2", TypeError),
                                            (None, TypeError)])
def test_clarans_bad_n_local(n_local, error, X):
    with pytest.raises(error, match="n_local"):
        CLARANS(2, n_local=n_local).fit(X)


def test_clarans_as_many_clusters_as_points_is_allowed(X):
    clarans = CLARANS(20, random_state=0).fit(X)
    assert sorted(clarans.medoid_indices_) == list(range(20)) and clarans.inertia_ == 0


@pytest.mark.parametrize("cls", SAMPLERS)
@pytest.mark.parametrize("metric", ["minkowski", "Euclidean", "l2", "", None])
def test_sampler_unknown_metric(cls, metric, X):
    with pytest.raises(ValueError, match="metric="):
        fit_sampler(cls, X, metric=metric)


@pytest.mark.parametrize("cls", SAMPLERS)
@pytest.mark.parametrize("shape", [(3, 4), (4, 3)])
def test_sampler_non_square_matrix(cls, shape):
    with pytest.raises(ValueError, match="square"):
        fit_sampler(cls, np.ones(shape), metric="precomputed")


@pytest.mark.parametrize("cls", SAMPLERS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [5, 70, 131])
def test_sampler_asymmetric_matrix(cls, dtype, n):
    diss = euclidean_matrix(np.random.default_rng(n).normal(size=(n, 2))).astype(dtype)
    diss[n - 1, n // 2] *= 1.5
    with pytest.raises(ValueError, match="symmetric"):
        fit_sampler(cls, diss, metric="precomputed")


@pytest.mark.parametrize("cls", SAMPLERS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [5, 70, 131])
def test_sampler_negative_matrix(cls, dtype, n):
    diss = euclidean_matrix(np.random.default_rng(n).normal(size=(n, 2))).astype(dtype)
    diss[1, n - 1] = diss[n - 1, 1] = -1.0
    with pytest.raises(ValueError, match="negative"):
        fit_sampler(cls, diss, metric="precomputed")


@pytest.mark.parametrize("cls", SAMPLERS)
@pytest.mark.parametrize("where", [0, -1])
def test_sampler_non_zero_diagonal(cls, where):
    diss = euclidean_matrix(np.random.default_rng(5).normal(size=(70, 2)))
    diss[where, where] = 0.5
    with pytest.raises(ValueError, match="diagonal"):
        fit_sampler(cls, diss, metric="precomputed")


@pytest.mark.parametrize("cls", SAMPLERS)
def test_sampler_identical_points_features(cls):
    X = np.full((10, 3), 2.5)
    with pytest.raises(ValueError, match="identical"):
        fit_sampler(cls, X)
    one = fit_sampler(cls, X, k=1)  # one cluster is fine
    assert one.inertia_ == 0 and one.medoid_indices_.size == 1


@pytest.mark.parametrize("cls", SAMPLERS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sampler_identical_points_matrix(cls, dtype):
    diss = np.zeros((10, 10), dtype=dtype)
    assert fit_sampler(cls, diss, k=1, metric="precomputed").inertia_ == 0  # one cluster is fine
    with pytest.raises(ValueError, match="identical"):
        fit_sampler(cls, diss, metric="precomputed")


@pytest.mark.parametrize("cls", SAMPLERS)
def test_sampler_bad_sample_weight(cls, X):
    with pytest.raises(ValueError, match=r"shape \(20,\)"):
        cls(2).fit(X, sample_weight=np.ones(19))
    for bad, match in [(-1.0, "non-negative"), (np.nan, "NaN"), (np.inf, "infinity")]:
        weights = np.ones(20)
        weights[4] = bad
        with pytest.raises(ValueError, match=match):
            cls(2).fit(X, sample_weight=weights)
    with pytest.raises(ValueError, match="all zero"):
        cls(2).fit(X, sample_weight=np.zeros(20))


@pytest.mark.parametrize("cls", SAMPLERS)
@pytest.mark.parametrize("n_threads, error", [(0, ValueError), (1.5, TypeError), ("2", TypeError)])
def test_sampler_bad_n_threads(cls, n_threads, error, X):
    with pytest.raises(error, match="n_threads"):
        cls(2, n_threads=n_threads).fit(X)


@pytest.mark.parametrize("cls", SAMPLERS)
def test_sampler_predict_errors(cls, X, D):
    for method in ("predict", "transform"):
        with pytest.raises(NotFittedError):
            getattr(cls(2), method)(X)
    fitted = cls(2).fit(X)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(X[:, :2])
    with pytest.raises(ValueError, match="features"):
        cls(2, metric="precomputed").fit(D).predict(D[:, :10])


def _integer_parameters(estimator):
    from vecclust._utils.validation import Integer
    return [name for name, rule in estimator._parameter_constraints.items() if isinstance(rule, Integer)]


@pytest.mark.parametrize("estimator, args", [(vecclust.KMedoids, {"n_clusters": 2}), (vecclust.CLARA, {"n_clusters": 2}),
                                             (vecclust.CLARANS, {"n_clusters": 2}), (vecclust.KMeans, {"n_clusters": 2}),
                                             (vecclust.GaussianMixture, {"n_components": 2}), (vecclust.PPP, {})],
                         ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("value", [2**63, 2**64])
def test_integers_beyond_the_cpp_types_name_the_limit(estimator, args, value):
    # They used to pass the Python checks and reach pybind11's "incompatible function arguments"
    # TypeError (which, in the CLI, printed the whole data array).
    X = np.random.default_rng(0).normal(size=(30, 2))
    names = _integer_parameters(estimator) + ["n_threads"]
    assert len(names) >= 2
    for name in names:
        try:  # a value above n where n is the natural cap (CLARA's n_sampling) is fine
            estimator(**{**args, name: value}).fit(X)
        except ValueError as error:
            assert name in str(error) and re.search(r"must be <= \d+|at most \d+", str(error)), str(error)
