"""CLARA against KMedoids and the brute-force NumPy oracles of tests/reference.py.

A sample of all points (n_sampling >= n) is the full problem in its own order, so CLARA with
the same random_state and init must then repeat KMedoids bit for bit. With smaller samples the
result is checked for consistency: the loss is the total deviation over all points, the labels
are the nearest medoids, and the reported per-sample losses agree with the chosen medoids.
"""

import re

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score

import reference as ref
from strategies import euclidean_matrix, integer_matrices, separated_blobs
from vecclust import CLARA, KMedoids, _core

INITS = ["random", "first", "build", "lab", "k-medoids++"]
METHODS = ["fasterpam", "fastpam1", "pam", "alternate"]
METRICS = ["euclidean", "sqeuclidean", "manhattan", "cosine"]


def assert_same_fit(a, b):
    np.testing.assert_array_equal(a.medoid_indices_, b.medoid_indices_)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.inertia_ == b.inertia_  # bit for bit
    assert (a.n_iter_, a.n_swaps_) == (b.n_iter_, b.n_swaps_)


def assert_valid_medoids(medoids, n, k):
    medoids = np.asarray(medoids)
    assert medoids.shape == (k,)
    assert np.unique(medoids).size == k, f"repeated medoids {medoids}"
    assert medoids.min() >= 0 and medoids.max() < n


def assert_sample_losses_consistent(clara, n_sampling_iter):
    losses = clara.sample_losses_
    assert losses.shape == (n_sampling_iter,)
    assert np.all(np.isfinite(losses))
    assert 0 <= clara.best_sample_ < n_sampling_iter
    assert losses[clara.best_sample_] == losses.min()
    assert clara.best_sample_ == int(np.argmin(losses))  # the first of equal losses is kept
    # refinement starts from the best sample's medoids and keeps only steps that lower the loss
    steps = np.concatenate([[losses.min()], clara.refine_losses_])
    assert np.all(np.diff(steps) < 0)
    assert clara.inertia_ == steps[-1]


@pytest.fixture(scope="module")
def overlapping():
    """(X, weights): 90 points in 4-d from overlapping clusters (so swaps happen and there are
    no distance ties) and positive sample weights."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(90, 4)) + rng.integers(0, 3, size=(90, 1)) * 1.5
    weights = rng.uniform(0.2, 3.0, size=90)
    return X, weights


# ---------------------------------------------------------------- a sample of all points is KMedoids


def full_sample_pair(X, weights, dtype, source, n_sampling, refine=True, **params):
    X = X.astype(dtype)
    w = None if weights is None else weights.astype(dtype)
    if source == "precomputed":
        data = _core.pairwise_distances(X, X, metric="euclidean", n_threads=1)
        params["metric"] = "precomputed"
    else:
        data = X
    km = KMedoids(5, random_state=7, **params).fit(data, sample_weight=w)
    clara = CLARA(5, n_sampling=n_sampling, n_sampling_iter=1, random_state=7, refine=refine, **params).fit(
        data, sample_weight=w)
    return km, clara, data


@pytest.mark.parametrize("n_sampling", [None, 90, 10**6])  # None: 80 + 4k = 100 > n, capped at n
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("source", ["features", "precomputed"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("init", INITS)
def test_full_sample_equals_kmedoids(init, dtype, source, weighted, n_sampling, overlapping):
    X, weights = overlapping
    km, clara, _ = full_sample_pair(X, weights if weighted else None, dtype, source, n_sampling, init=init)
    assert_same_fit(km, clara)
    assert clara.sample_losses_.tolist() == [clara.inertia_]
    assert clara.best_sample_ == 0
    assert km.n_swaps_ > 0 or init == "build"  # the comparison covers the swap phase too


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("init", ["random", "build"])
@pytest.mark.parametrize("source", ["features", "precomputed"])
def test_full_sample_equals_kmedoids_for_every_method(method, init, source, overlapping):
    X, weights = overlapping
    km, clara, _ = full_sample_pair(X, weights, np.float64, source, None, init=init, method=method)
    if method == "alternate":
        # an alternating optimum need not be a swap-local one: the refinement's swaps may improve it
        assert clara.inertia_ <= km.inertia_
        km, clara, _ = full_sample_pair(X, weights, np.float64, source, None, refine=False, init=init, method=method)
    assert_same_fit(km, clara)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_full_sample_equals_kmedoids_for_every_metric(metric, dtype, overlapping):
    X, weights = overlapping
    X = X.astype(dtype)
    for precompute in (True, False):
        km = KMedoids(5, metric=metric, init="k-medoids++", precompute=precompute, random_state=2).fit(X)
        clara = CLARA(5, metric=metric, init="k-medoids++", n_sampling=len(X), n_sampling_iter=1,
                      random_state=2).fit(X)
        assert_same_fit(km, clara)


@pytest.mark.parametrize("init", ["first", "build"])
def test_full_samples_with_a_deterministic_init_all_repeat_kmedoids(init, overlapping):
    # every sample is the whole data set and the init does not depend on the seed: each sample
    # finds the same medoids, and the first one found is kept
    X, weights = overlapping
    km = KMedoids(5, init=init, random_state=1).fit(X, sample_weight=weights)
    clara = CLARA(5, init=init, n_sampling=len(X), n_sampling_iter=4, random_state=1).fit(X, sample_weight=weights)
    assert_same_fit(km, clara)
    assert clara.sample_losses_.tolist() == [km.inertia_] * 4
    assert clara.best_sample_ == 0


@pytest.mark.parametrize("init", ["random", "lab", "k-medoids++"])
def test_full_samples_with_a_random_init_start_with_kmedoids(init, overlapping):
    # the first seed drawn from random_state initialises both; later samples start elsewhere
    # and can only replace the result by a strictly better one
    X, _ = overlapping
    for seed in range(3):
        km = KMedoids(7, init=init, random_state=seed).fit(X)
        clara = CLARA(7, init=init, n_sampling=len(X), n_sampling_iter=4, random_state=seed).fit(X)
        assert clara.sample_losses_[0] == km.inertia_
        assert clara.inertia_ <= km.inertia_
        assert_sample_losses_consistent(clara, 4)
        if clara.best_sample_ == 0:
            assert_same_fit(km, clara)


def test_default_sample_size_is_80_plus_4k_capped_at_n():
    X = np.random.default_rng(4).normal(size=(150, 3))
    # k = 5: 100 < 150 points, so the default equals n_sampling=100 exactly
    default = CLARA(5, random_state=3).fit(X)
    assert_same_fit(default, CLARA(5, n_sampling=100, random_state=3).fit(X))
    assert default.sample_losses_.shape == (5,)
    # k = 20: 160 > 150, so the default sample is every point and the first sample is KMedoids
    km = KMedoids(20, random_state=3).fit(X)
    capped = CLARA(20, n_sampling_iter=1, random_state=3).fit(X)
    assert_same_fit(km, capped)


def test_zero_weights_with_a_full_sample(overlapping):
    # Medoids and loss repeat KMedoids. Zero-weight points cost nothing wherever they go: CLARA
    # labels them with their nearest medoid, KMedoids with the first of its (all zero)
    # weighted distances, so labels are only compared where the weight is positive.
    X, weights = overlapping
    weights = weights.copy()
    weights[::4] = 0.0
    km = KMedoids(5, init="build", random_state=0).fit(X, sample_weight=weights)
    clara = CLARA(5, init="build", n_sampling=len(X), n_sampling_iter=1, random_state=0).fit(X, sample_weight=weights)
    np.testing.assert_array_equal(km.medoid_indices_, clara.medoid_indices_)
    assert km.inertia_ == clara.inertia_
    positive = weights > 0
    np.testing.assert_array_equal(km.labels_[positive], clara.labels_[positive])
    diss = euclidean_matrix(X)
    assert ref.labels_are_nearest(diss, clara.medoid_indices_, clara.labels_, weights)
    np.testing.assert_array_equal(clara.labels_, clara.predict(X))


# ---------------------------------------------------------------- samples smaller than the data


def weights_for(data, n):
    """Optional integer sample weights in [0, 3] (never all zero)."""
    weights = data.draw(st.one_of(st.none(), arrays(np.int64, n, elements=st.integers(0, 3))))
    if weights is not None:
        assume(weights.any())
    return weights


@given(data=st.data())
def test_result_matches_the_oracles_on_integer_matrices(data):
    diss = data.draw(integer_matrices(min_n=3, max_n=30))
    n = len(diss)
    k = data.draw(st.integers(1, min(n - 1, 5)))
    n_sampling = data.draw(st.integers(k + 1, n + 3))
    n_sampling_iter = data.draw(st.integers(1, 4))
    weights = weights_for(data, n)
    clara = CLARA(k, metric="precomputed", n_sampling=n_sampling, n_sampling_iter=n_sampling_iter,
                  init=data.draw(st.sampled_from(INITS)), method=data.draw(st.sampled_from(METHODS)),
                  keep_medoids=data.draw(st.booleans()), random_state=data.draw(st.integers(0, 2**31 - 1)),
                  n_threads=1).fit(diss, sample_weight=weights)
    medoids = clara.medoid_indices_
    assert_valid_medoids(medoids, n, k)
    # integer distances and weights: the loss over all points is exact
    assert clara.inertia_ == ref.total_deviation(diss, medoids, weights)
    assert_sample_losses_consistent(clara, n_sampling_iter)
    if weights is None or weights.all():
        np.testing.assert_array_equal(clara.labels_, ref.nearest_labels(diss, medoids))
    else:
        assert ref.labels_are_nearest(diss, medoids, clara.labels_, weights)
    np.testing.assert_array_equal(clara.predict(diss), np.argmin(diss[:, medoids], axis=1))


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_labels_and_predict_on_continuous_data(metric, dtype, weighted):
    rng = np.random.default_rng(5)
    X = (rng.normal(size=(400, 5)) + 2.0).astype(dtype)  # overlapping clusters, no ties
    weights = rng.uniform(0.5, 2.0, size=400).astype(dtype) if weighted else None
    clara = CLARA(6, metric=metric, n_sampling=60, n_sampling_iter=4, random_state=1).fit(X, sample_weight=weights)
    medoids = clara.medoid_indices_
    assert_valid_medoids(medoids, 400, 6)
    diss = _core.pairwise_distances(X, X, metric=metric, n_threads=1)
    np.fill_diagonal(diss, 0.0)  # a point is at distance exactly 0 from itself (cosine rounding)
    np.testing.assert_array_equal(clara.labels_, ref.nearest_labels(diss, medoids))
    # the core forms w * d in the data's precision and sums in float64; so does this oracle
    cost = diss if weights is None else weights[:, None] * diss
    assert clara.inertia_ == pytest.approx(ref.total_deviation(cost, medoids), rel=1e-12)
    assert_sample_losses_consistent(clara, 4)
    np.testing.assert_array_equal(clara.predict(X), clara.labels_)
    np.testing.assert_array_equal(clara.fit_predict(X, sample_weight=weights), clara.labels_)
    np.testing.assert_array_equal(clara.cluster_centers_, X[medoids])
    assert clara.cluster_centers_.dtype == dtype
    assert clara.transform(X).shape == (400, 6)


def test_precomputed_fit_and_predict(blobs):
    X, _ = blobs
    diss = euclidean_matrix(X)
    clara = CLARA(4, metric="precomputed", n_sampling=30, random_state=0).fit(diss)
    assert clara.cluster_centers_ is None
    np.testing.assert_array_equal(clara.predict(diss), clara.labels_)
    np.testing.assert_array_equal(clara.transform(diss), diss[:, clara.medoid_indices_])
    assert clara.inertia_ == pytest.approx(ref.total_deviation(diss, clara.medoid_indices_), rel=1e-12)


@pytest.mark.parametrize("keep_medoids", [True, False])
def test_sample_losses_are_the_losses_of_each_sample(keep_medoids):
    X = np.random.default_rng(8).normal(size=(300, 2))
    improved = 0
    for seed in range(6):
        clara = CLARA(10, n_sampling=25, n_sampling_iter=6, keep_medoids=keep_medoids, random_state=seed).fit(X)
        assert_sample_losses_consistent(clara, 6)
        # one of the samples' medoids, re-scored over all points: the reported loss
        assert clara.inertia_ == pytest.approx(ref.total_deviation(euclidean_matrix(X), clara.medoid_indices_),
                                               rel=1e-12)
        improved += clara.best_sample_ > 0
    assert improved > 0, "no later sample ever improved: the samples are not being scored"


def test_keep_medoids_changes_later_samples_only():
    X = np.random.default_rng(9).normal(size=(300, 2))
    differ = 0
    for seed in range(4):
        kept = CLARA(10, n_sampling=30, n_sampling_iter=4, keep_medoids=True, random_state=seed).fit(X)
        fresh = CLARA(10, n_sampling=30, n_sampling_iter=4, keep_medoids=False, random_state=seed).fit(X)
        # the first sample has nothing to keep yet
        assert kept.sample_losses_[0] == fresh.sample_losses_[0]
        differ += not np.array_equal(kept.sample_losses_[1:], fresh.sample_losses_[1:])
    assert differ > 0, "keep_medoids has no effect"


def test_single_cluster_with_a_full_sample_is_the_exact_optimum():
    diss = euclidean_matrix(np.random.default_rng(2).normal(size=(40, 3)))
    clara = CLARA(1, metric="precomputed", n_sampling=40, random_state=0).fit(diss)
    assert clara.inertia_ == pytest.approx(diss.sum(axis=0).min(), rel=1e-12)
    assert clara.medoid_indices_.tolist() == [int(np.argmin(diss.sum(axis=0)))]
    np.testing.assert_array_equal(clara.labels_, np.zeros(40))


def test_duplicated_points_labels_follow_the_tie_rule():
    # integer coordinates with many exact duplicates: a medoid labels itself, any other point
    # goes to the first of its closest medoids
    rng = np.random.default_rng(3)
    X = rng.integers(0, 4, size=(120, 2)).astype(np.float64)
    diss = _core.pairwise_distances(X, X, metric="manhattan", n_threads=1)
    for seed in range(5):
        clara = CLARA(6, metric="manhattan", n_sampling=20, n_sampling_iter=3, random_state=seed).fit(X)
        assert_valid_medoids(clara.medoid_indices_, 120, 6)
        np.testing.assert_array_equal(clara.labels_, ref.nearest_labels(diss, clara.medoid_indices_))
        assert clara.inertia_ == ref.total_deviation(diss, clara.medoid_indices_)


# ---------------------------------------------------------------- verbose, warnings, quality


LINE = re.compile(r"CLARA sample (\d+)/(\d+): (\d+) swaps?, .*?([0-9]+\.[0-9]+)( \(best so far\))?$")


def test_verbose_prints_one_line_per_sample(capsys):
    X = np.random.default_rng(6).normal(size=(300, 2))
    clara = CLARA(6, n_sampling=30, n_sampling_iter=7, random_state=4, verbose=True).fit(X)
    lines = capsys.readouterr().out.strip().splitlines()
    refinement = [line for line in lines if line.startswith("refinement step")]
    matches = ref.check_progress_lines(lines[:7], LINE, clara.sample_losses_)
    assert len(matches) == 7 and lines[7:] == refinement
    # every refinement step is reported with its loss; the kept ones are refine_losses_
    kept = [float(line.split()[-1]) for line in refinement if not line.endswith("discarded)")]
    np.testing.assert_allclose(kept, clara.refine_losses_, atol=1e-6)
    assert len(refinement) >= len(clara.refine_losses_) > 0
    assert int(matches[clara.best_sample_][3]) == clara.n_swaps_
    CLARA(6, n_sampling=30, random_state=4).fit(X)
    assert capsys.readouterr().out == ""


def test_convergence_warning_at_max_iter():
    X, _ = separated_blobs(50, seed=4)
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        CLARA(8, method="pam", init="first", max_iter=1, n_sampling=100, n_sampling_iter=2).fit(X)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("source", ["features", "precomputed"])
def test_finds_well_separated_blobs(seed, source):
    X, y = separated_blobs(100, seed=seed)  # 400 points, 4 blobs
    data = euclidean_matrix(X) if source == "precomputed" else X
    metric = "precomputed" if source == "precomputed" else "euclidean"
    clara = CLARA(4, metric=metric, n_sampling=60, random_state=seed).fit(data)
    assert adjusted_rand_score(y, clara.labels_) > 0.9
    # the blobs have radius ~1 and are ~20 apart: a loss near n * (mean radius) means every
    # blob got its own medoid
    assert clara.inertia_ < 2.0 * len(X)


def test_random_state_objects_and_refits(overlapping):
    X, _ = overlapping

    def fit(random_state):
        return CLARA(5, n_sampling=30, random_state=random_state).fit(X)

    assert_same_fit(fit(np.random.RandomState(9)), fit(np.random.RandomState(9)))
    assert_same_fit(fit(np.random.default_rng(9)), fit(np.random.default_rng(9)))
    clara = CLARA(5, n_sampling=30, random_state=4)
    first = clara.fit(X).sample_losses_.copy()
    np.testing.assert_array_equal(clara.fit(X).sample_losses_, first)  # an int seed repeats itself
    assert fit(None).medoid_indices_.shape == (5,)
