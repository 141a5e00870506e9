"""vecclust's k-medoids against brute-force NumPy oracles (tests/reference.py).

Most properties run on integer-valued distance matrices: every sum is then exact in float64,
so the algorithms must agree with the oracles bit for bit and ties must be decided by the
documented rule (lower index first), not by rounding.
"""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import cdist

import reference as ref
import vecclust
from strategies import euclidean_matrix, integer_matrices, matrix_and_medoids, random_symmetric, separated_blobs
from vecclust import KMedoids

FUNCTIONS = {
    "fasterpam": vecclust.fasterpam,
    "fastpam1": vecclust.fastpam1,
    "pam": vecclust.pam,
    "alternate": vecclust.alternating,
}
METHODS = list(FUNCTIONS)
SWAP_METHODS = ["fasterpam", "fastpam1", "pam"]
INITS = ["random", "first", "build", "lab", "k-medoids++"]
METRICS = ["euclidean", "sqeuclidean", "manhattan", "cosine"]


def run(method, diss, medoids, **kwargs):
    kwargs.setdefault("n_threads", 1)
    return FUNCTIONS[method](diss, medoids, **kwargs)


def weights_for(data, n, low=0):
    """Optional integer sample weights in [low, 3] (never all zero)."""
    weights = data.draw(st.one_of(st.none(), arrays(np.int64, n, elements=st.integers(low, 3))))
    if weights is not None:
        assume(weights.any())
    return weights


def assert_valid_medoids(medoids, n, k):
    medoids = np.asarray(medoids)
    assert medoids.shape == (k,)
    assert np.unique(medoids).size == k, f"repeated medoids {medoids}"
    assert medoids.min() >= 0 and medoids.max() < n


def assert_same_result(a, b):
    np.testing.assert_array_equal(a.medoids, b.medoids)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.loss == b.loss
    assert (a.n_iter, a.n_swap, a.converged) == (b.n_iter, b.n_swap, b.converged)


# ---------------------------------------------------------------- the oracles themselves


def test_reference_oracles_on_the_fixture(fixture_matrix):
    F = fixture_matrix
    assert ref.total_deviation(F, [0, 1]) == 0 + 0 + 2 + 4 + 7
    assert ref.total_deviation(F, [0, 3], weights=[1, 2, 3, 4, 5]) == 2 * 1 + 3 * 2 + 5 * 1
    np.testing.assert_array_equal(ref.nearest_labels(F, [3, 0]), [1, 1, 1, 0, 0])
    assert ref.labels_are_nearest(F, [0, 3], [0, 0, 0, 1, 1])
    assert not ref.labels_are_nearest(F, [0, 3], [0, 0, 1, 1, 1])
    assert not ref.is_swap_local_optimum(F, [0, 1])
    assert ref.is_swap_local_optimum(F, [0, 3])
    assert ref.best_swap(F, [0, 1]) == (4.0, 1, 3)
    result = ref.pam_swap(F, [0, 1])
    np.testing.assert_array_equal(result["medoids"], [0, 3])
    assert (result["loss"], result["n_iter"], result["n_swap"]) == (4.0, 2, 1)
    np.testing.assert_array_equal(ref.build(F, 2), [0, 3])
    np.testing.assert_array_equal(ref.build(F, 2, weights=[1, 1, 1, 1, 100]), [4, 0])
    loss, best = ref.exhaustive_optimum(F, 2)
    assert loss == 4.0
    np.testing.assert_array_equal(best, [0, 3])


# ---------------------------------------------------------------- PAM, FastPAM1, reference PAM


@given(data=matrix_and_medoids())
def test_fastpam1_makes_exactly_the_swaps_of_pam(data):
    diss, init = data
    assert_same_result(vecclust.fastpam1(diss, init, n_threads=1), vecclust.pam(diss, init, n_threads=1))


@pytest.mark.parametrize("method", ["pam", "fastpam1"])
@given(data=st.data())
def test_pam_equals_the_reference_pam_swap(method, data):
    diss, init = data.draw(matrix_and_medoids())
    weights = weights_for(data, len(diss))
    got = run(method, diss, init, sample_weight=weights)
    expected = ref.pam_swap(diss, init, weights)
    np.testing.assert_array_equal(got.medoids, expected["medoids"])
    assert got.loss == expected["loss"]
    assert got.converged and expected["converged"]
    if init.size > 1:  # k = 1 is solved directly in one step, whatever the method
        assert (got.n_iter, got.n_swap) == (expected["n_iter"], expected["n_swap"])
    assert ref.labels_are_nearest(diss, got.medoids, got.labels, weights)


# ---------------------------------------------------------------- FasterPAM


@given(data=st.data())
def test_fasterpam_descends_to_a_swap_local_optimum(data):
    diss, init = data.draw(matrix_and_medoids(max_n=30))
    weights = weights_for(data, len(diss))
    start = ref.total_deviation(diss, init, weights)
    res = vecclust.fasterpam(diss, init, n_threads=1, sample_weight=weights)
    assert res.converged
    assert res.loss <= start
    assert res.loss == ref.total_deviation(diss, res.medoids, weights)
    # every swap is strictly improving (exact arithmetic), so no swap <=> unchanged loss
    assert (res.n_swap > 0) == (res.loss < start)
    if res.n_swap == 0:
        np.testing.assert_array_equal(res.medoids, init)
    assert ref.is_swap_local_optimum(diss, res.medoids, weights, rtol=0.0)


@pytest.mark.parametrize("seed", range(4))
def test_fasterpam_local_optimum_on_continuous_data(seed):
    diss = random_symmetric(80, seed)
    init = np.random.default_rng(seed).choice(80, size=6, replace=False)
    res = vecclust.fasterpam(diss, init, n_threads=1)
    assert res.converged and res.n_swap > 0
    assert res.loss < ref.total_deviation(diss, init)
    assert ref.is_swap_local_optimum(diss, res.medoids, rtol=1e-12)


# ---------------------------------------------------------------- every method


@pytest.mark.parametrize("method", METHODS)
@given(data=st.data())
def test_loss_and_labels_match_the_reference(method, data):
    diss, init = data.draw(matrix_and_medoids())
    weights = weights_for(data, len(diss))
    res = run(method, diss, init, sample_weight=weights)
    assert_valid_medoids(res.medoids, len(diss), init.size)
    assert res.converged
    assert res.loss == ref.total_deviation(diss, res.medoids, weights)
    assert ref.labels_are_nearest(diss, res.medoids, res.labels, weights)
    assert res.loss <= ref.total_deviation(diss, init, weights)
    if method in SWAP_METHODS:
        assert ref.is_swap_local_optimum(diss, res.medoids, weights, rtol=0.0)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", range(3))
def test_labels_are_exactly_the_nearest_medoid_on_tie_free_data(method, seed):
    diss = random_symmetric(60, seed)
    init = np.random.default_rng(seed).choice(60, size=5, replace=False)
    res = run(method, diss, init)
    np.testing.assert_array_equal(res.labels, ref.nearest_labels(diss, res.medoids))
    assert res.loss == pytest.approx(ref.total_deviation(diss, res.medoids), rel=1e-12)


@pytest.mark.parametrize("method", METHODS)
@given(data=matrix_and_medoids(max_n=10, max_k=5))
def test_no_method_beats_the_exhaustive_optimum(method, data):
    diss, init = data
    k = init.size
    optimum, _ = ref.exhaustive_optimum(diss, k)
    res = run(method, diss, init)
    assert res.loss >= optimum
    if k == 1 or k == len(diss):  # solved exactly: the best single medoid / every point
        assert res.loss == optimum


@pytest.mark.parametrize("seed", range(5))
def test_fasterpam_with_restarts_reaches_the_optimum_on_separated_data(seed):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0]])
    points = np.concatenate([c + rng.normal(size=(3, 2)) for c in centers] + [rng.normal(size=(1, 2))])
    points = points[rng.permutation(len(points))]
    diss = euclidean_matrix(points)
    optimum, best = ref.exhaustive_optimum(diss, 3)
    km = KMedoids(3, metric="precomputed", n_init=10, random_state=seed, n_threads=1).fit(diss)
    assert km.inertia_ == pytest.approx(optimum, rel=1e-12)
    assert sorted(km.medoid_indices_) == sorted(best)


# ---------------------------------------------------------------- BUILD and the initialisations


@given(data=st.data())
def test_pam_build_equals_the_reference_build(data):
    diss = data.draw(integer_matrices())
    n = len(diss)
    k = data.draw(st.integers(1, n))
    weights = weights_for(data, n)
    res = vecclust.pam_build(diss, k, sample_weight=weights, n_threads=1)
    expected = ref.build(diss, k, weights)
    np.testing.assert_array_equal(res.medoids, expected)
    assert res.loss == ref.total_deviation(diss, expected, weights)
    assert ref.labels_are_nearest(diss, res.medoids, res.labels, weights)
    assert res.n_swap == 0


@pytest.mark.parametrize("k", [1, 2, 3])
def test_pam_build_reports_no_iterations(k, fixture_matrix):
    res = vecclust.pam_build(fixture_matrix, k)
    assert (res.n_iter, res.n_swap, res.converged) == (0, 0, True)


@pytest.mark.parametrize("method", METHODS)
@given(data=st.data())
def test_init_build_starts_from_the_reference_build(method, data):
    diss = data.draw(integer_matrices())
    k = data.draw(st.integers(1, len(diss)))
    res = run(method, diss, k, init="build", max_iter=0)
    np.testing.assert_array_equal(res.medoids, ref.build(diss, k))
    assert res.n_swap == 0 and not res.converged


@pytest.mark.parametrize("init", INITS)
@given(data=st.data())
def test_every_init_gives_k_distinct_valid_medoids(init, data):
    diss = data.draw(integer_matrices(max_n=25))
    n = len(diss)
    k = data.draw(st.integers(1, n))
    weights = weights_for(data, n)
    seed = data.draw(st.integers(0, 2**31 - 1))
    res = vecclust.fasterpam(diss, k, init=init, max_iter=0, random_state=seed, sample_weight=weights, n_threads=1)
    assert_valid_medoids(res.medoids, n, k)
    assert res.n_swap == 0
    assert res.loss == ref.total_deviation(diss, res.medoids, weights)
    if init == "first":
        np.testing.assert_array_equal(res.medoids, np.arange(k))


@pytest.mark.parametrize("init", INITS)
def test_every_init_with_more_clusters_than_distinct_points(init):
    # three distinct locations, eight points: inits must still return distinct indices
    points = np.array([[0.0], [0.0], [5.0], [5.0], [5.0], [9.0], [0.0], [9.0]])
    diss = euclidean_matrix(points)
    for seed in range(10):
        res = vecclust.fasterpam(diss, 6, init=init, max_iter=0, random_state=seed)
        assert_valid_medoids(res.medoids, 8, 6)
        assert res.loss == ref.total_deviation(diss, res.medoids)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("k", [1, 2, 3])
def test_max_iter_zero_keeps_the_initial_medoids(method, k, fixture_matrix):
    init = np.arange(k)[::-1] + 1  # e.g. [2, 1]: not a local optimum
    res = run(method, fixture_matrix, init, max_iter=0)
    np.testing.assert_array_equal(res.medoids, init)
    assert (res.n_iter, res.n_swap) == (0, 0)
    assert res.loss == ref.total_deviation(fixture_matrix, init)


# ---------------------------------------------------------------- kmedoids.md section 13 fixtures


def test_fixture_fasterpam(fixture_matrix):
    res = vecclust.fasterpam(fixture_matrix, [0, 1], max_iter=10)
    assert res.loss == 4
    assert (res.n_swap, res.n_iter) == (2, 2)
    np.testing.assert_array_equal(res.medoids, [0, 3])
    np.testing.assert_array_equal(res.labels, [0, 0, 0, 1, 1])


@pytest.mark.parametrize("method", ["fastpam1", "pam"])
def test_fixture_fastpam1_and_pam(method, fixture_matrix):
    res = run(method, fixture_matrix, [0, 1], max_iter=10)
    assert res.loss == 4
    assert (res.n_swap, res.n_iter) == (1, 2)
    np.testing.assert_array_equal(res.medoids, [0, 3])
    np.testing.assert_array_equal(res.labels, [0, 0, 0, 1, 1])


def test_fixture_pam_build(fixture_matrix):
    res = vecclust.pam_build(fixture_matrix, 2)
    np.testing.assert_array_equal(res.medoids, [0, 3])
    assert res.loss == 4


def test_fixture_pam_from_build_makes_no_swap(fixture_matrix):
    res = vecclust.pam(fixture_matrix, 2)
    np.testing.assert_array_equal(res.medoids, [0, 3])
    assert (res.loss, res.n_swap, res.n_iter) == (4, 0, 1)


def test_fixture_alternating(fixture_matrix):
    res = vecclust.alternating(fixture_matrix, [0, 1])
    np.testing.assert_array_equal(res.medoids, [3, 0])
    assert (res.loss, res.n_iter) == (4, 3)


@pytest.mark.parametrize("method", METHODS)
def test_fixture_single_medoid(method, fixture_matrix):
    res = run(method, fixture_matrix, [1])
    assert res.loss == 14
    np.testing.assert_array_equal(res.medoids, [0])
    np.testing.assert_array_equal(res.labels, np.zeros(5))
    if method == "fasterpam":
        assert (res.n_swap, res.n_iter) == (1, 1)


INT32_FIXTURE = np.array(
    [[0, 2, 3, 4, 5], [2, 0, 6, 7, 8], [3, 6, 0, 9, 10], [4, 7, 9, 0, 11], [5, 8, 10, 11, 0]], dtype=np.int32
)


def test_int32_fixture():
    assert vecclust.pam_build(INT32_FIXTURE, 2).loss == 9
    assert vecclust.pam(INT32_FIXTURE, 2).loss == 9
    one = vecclust.fasterpam(INT32_FIXTURE, 2, init="build", n_threads=1)
    two = vecclust.fasterpam(INT32_FIXTURE, 2, init="build", n_threads=2)
    assert one.loss == 9
    assert_same_result(one, two)


# ---------------------------------------------------------------- sample weights


@pytest.mark.parametrize("method", ["fastpam1", "pam", "alternate"])
@given(data=st.data())
def test_integer_weights_equal_duplicated_points(method, data):
    diss, init = data.draw(matrix_and_medoids(max_n=14))
    n = len(diss)
    weights = data.draw(arrays(np.int64, n, elements=st.integers(1, 4)))
    if method == "alternate":
        # Alternating depends on the partition: a medoid keeps itself, but a copy of a medoid
        # that coincides with another medoid joins the lower slot, so copies could split
        # between clusters. With pairwise distinct initial medoids copies never split.
        off_diagonal = diss[np.ix_(init, init)][~np.eye(init.size, dtype=bool)]
        assume(np.all(off_diagonal > 0))
    rows = np.concatenate([np.arange(n), np.repeat(np.arange(n), weights - 1)])  # copies go last
    duplicated = diss[np.ix_(rows, rows)]
    weighted = run(method, diss, init, sample_weight=weights)
    repeated = run(method, duplicated, init)
    np.testing.assert_array_equal(weighted.medoids, repeated.medoids)
    assert weighted.loss == repeated.loss
    assert (weighted.n_iter, weighted.n_swap) == (repeated.n_iter, repeated.n_swap)
    np.testing.assert_array_equal(weighted.labels, repeated.labels[:n])


@given(data=st.data())
def test_integer_weights_equal_duplicated_points_fasterpam_and_build(data):
    diss, init = data.draw(matrix_and_medoids(max_n=14))
    n = len(diss)
    weights = data.draw(arrays(np.int64, n, elements=st.integers(1, 4)))
    rows = np.concatenate([np.arange(n), np.repeat(np.arange(n), weights - 1)])
    duplicated = diss[np.ix_(rows, rows)]
    # the loss of the same medoids is the same
    start = vecclust.fasterpam(diss, init, max_iter=0, sample_weight=weights)
    assert start.loss == vecclust.fasterpam(duplicated, init, max_iter=0).loss
    # FasterPAM's weighted result is a local optimum of the duplicated problem
    res = vecclust.fasterpam(diss, init, sample_weight=weights)
    assert res.loss == ref.total_deviation(duplicated, res.medoids)
    assert ref.is_swap_local_optimum(duplicated, res.medoids, rtol=0.0)
    # BUILD picks the same points
    k = init.size
    np.testing.assert_array_equal(
        vecclust.pam_build(diss, k, sample_weight=weights).medoids, vecclust.pam_build(duplicated, k).medoids
    )


def test_weighted_loss_by_hand(fixture_matrix):
    weights = np.array([1.0, 2.0, 0.0, 3.0, 0.5])
    res = vecclust.fasterpam(fixture_matrix, [0, 3], max_iter=0, sample_weight=weights)
    # point 1 -> medoid 0 (1), point 2 -> medoid 0 (weight 0), point 4 -> medoid 3 (1)
    assert res.loss == 1 * 2.0 + 1 * 0.5


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("init", ["array", "build"])
def test_far_zero_weight_points_are_ignored(method, init):
    X, _ = separated_blobs(15, seed=3)
    rng = np.random.default_rng(3)
    outliers = 1000.0 + 50.0 * rng.normal(size=(8, 3))
    points = np.concatenate([X, outliers])
    order = rng.permutation(len(points))
    points = points[order]
    weights = (order < len(X)).astype(np.float64)
    keep = np.flatnonzero(weights)
    diss = euclidean_matrix(points)
    sub = diss[np.ix_(keep, keep)]
    if init == "array":
        positions = rng.choice(len(keep), size=4, replace=False)
        full = run(method, diss, keep[positions], sample_weight=weights)
        part = run(method, sub, positions)
    else:
        full = run(method, diss, 4, init="build", sample_weight=weights)
        part = run(method, sub, 4, init="build")
    np.testing.assert_array_equal(full.medoids, keep[part.medoids])
    assert full.loss == part.loss
    np.testing.assert_array_equal(full.labels[keep], part.labels)


# ---------------------------------------------------------------- dtypes


@pytest.mark.parametrize("method", METHODS)
def test_float32_and_float64_agree_on_separated_data(method, blobs):
    X, _ = blobs
    diss = euclidean_matrix(X)
    diss32 = diss.astype(np.float32)
    init = np.array([0, 1, 2, 3])
    a = run(method, diss, init)
    b = run(method, diss32, init)
    np.testing.assert_array_equal(a.medoids, b.medoids)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert b.loss == pytest.approx(a.loss, rel=1e-5)
    assert b.loss == pytest.approx(ref.total_deviation(diss32, b.medoids), rel=1e-12)


def test_integer_matrix_is_exact():
    big = 2**40  # 2**40 + 1 is not representable in float32
    diss = np.array([[0, big + 1, big + 3], [big + 1, 0, 3], [big + 3, 3, 0]], dtype=np.int64)
    res = vecclust.fasterpam(diss, [1, 2], max_iter=0)
    assert res.loss == big + 1


# ---------------------------------------------------------------- features mode


def precomputed(X, scipy_metric):
    diss = cdist(X, X, scipy_metric)
    diss = np.maximum((diss + diss.T) / 2, 0.0)
    np.fill_diagonal(diss, 0.0)
    return diss


@pytest.mark.parametrize(
    "metric, scipy_metric",
    [("euclidean", "euclidean"), ("sqeuclidean", "sqeuclidean"), ("manhattan", "cityblock"), ("cosine", "cosine")],
)
@pytest.mark.parametrize("method", METHODS)
def test_features_mode_equals_the_cdist_matrix(metric, scipy_metric, method, blobs):
    X, _ = blobs
    diss = precomputed(X, scipy_metric)
    init = np.array([0, 1, 2, 3])
    features = KMedoids(4, metric=metric, method=method, init=init).fit(X)
    matrix = KMedoids(4, metric="precomputed", method=method, init=init).fit(diss)
    np.testing.assert_array_equal(features.medoid_indices_, matrix.medoid_indices_)
    np.testing.assert_array_equal(features.labels_, matrix.labels_)
    assert features.inertia_ == pytest.approx(matrix.inertia_, rel=1e-5)
    assert features.inertia_ == pytest.approx(ref.total_deviation(diss, features.medoid_indices_), rel=1e-5)
    np.testing.assert_allclose(features.transform(X), diss[:, features.medoid_indices_], rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(features.cluster_centers_, X[features.medoid_indices_])


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_precompute_false_equals_precompute_true_exactly(metric, method, dtype):
    X, _ = separated_blobs(40, seed=1, dtype=dtype)
    X = X + np.random.default_rng(1).normal(scale=4.0, size=X.shape).astype(dtype)  # overlapping: more swaps
    weights = np.random.default_rng(2).integers(0, 3, size=len(X)).astype(dtype)
    fits = [
        KMedoids(6, metric=metric, method=method, init="k-medoids++", precompute=pre, random_state=7).fit(
            X, sample_weight=weights
        )
        for pre in (True, False)
    ]
    stored, on_demand = fits
    np.testing.assert_array_equal(stored.medoid_indices_, on_demand.medoid_indices_)
    np.testing.assert_array_equal(stored.labels_, on_demand.labels_)
    assert stored.inertia_ == on_demand.inertia_
    assert (stored.n_iter_, stored.n_swaps_) == (on_demand.n_iter_, on_demand.n_swaps_)
    assert stored.n_swaps_ > 0


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("init", INITS)
def test_precompute_false_equals_precompute_true_for_every_init(metric, init):
    X = np.random.default_rng(5).normal(size=(150, 4)) + 3.0
    stored = KMedoids(5, metric=metric, init=init, precompute=True, random_state=11, n_init=2).fit(X)
    on_demand = KMedoids(5, metric=metric, init=init, precompute=False, random_state=11, n_init=2).fit(X)
    np.testing.assert_array_equal(stored.medoid_indices_, on_demand.medoid_indices_)
    np.testing.assert_array_equal(stored.labels_, on_demand.labels_)
    assert stored.inertia_ == on_demand.inertia_


def test_precompute_false_never_builds_the_matrix():
    # 12000 float32 points: the n x n matrix would take 549 MiB; on demand needs O(n k).
    import subprocess
    import sys

    code = """
import resource
import numpy as np
from vecclust import KMedoids
X = np.random.default_rng(0).normal(size=(12000, 3)).astype(np.float32)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
KMedoids(5, precompute=False, init="k-medoids++", random_state=0).fit(X)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    growth_mib = float(out.stdout.strip().splitlines()[-1])
    assert growth_mib < 100, f"peak memory grew by {growth_mib:.0f} MiB"
