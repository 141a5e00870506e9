"""CLARANS (FastCLARANS) against the brute-force NumPy oracles of tests/reference.py.

Every accepted swap must lower the loss; the reported loss must be the total deviation of the
medoids; and with max_neighbor >= n the search only stops when every point has been tried
against the final medoids, so the result is a swap-local optimum.
"""

import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import adjusted_rand_score

import reference as ref
from strategies import euclidean_matrix, integer_matrices, random_symmetric, separated_blobs
from vecclust import CLARANS, _core

METRICS = ["euclidean", "sqeuclidean", "manhattan", "cosine"]
EXHAUSTIVE = 10**9  # any max_neighbor >= n: try every point before stopping


def assert_valid_medoids(medoids, n, k):
    medoids = np.asarray(medoids)
    assert medoids.shape == (k,)
    assert np.unique(medoids).size == k, f"repeated medoids {medoids}"
    assert medoids.min() >= 0 and medoids.max() < n


def assert_search_history_consistent(clarans, n_local):
    losses = clarans.local_losses_
    assert losses.shape == (n_local,)
    assert 0 <= clarans.best_local_ < n_local
    assert losses[clarans.best_local_] == losses.min()
    assert clarans.best_local_ == int(np.argmin(losses))  # the first of equal losses is kept
    swaps = clarans.swap_losses_
    assert swaps.ndim == 1 and swaps.size >= 1
    assert np.all(np.diff(swaps) < 0), f"swap_losses_ not strictly decreasing: {swaps}"
    assert swaps[-1] == losses.min()
    # the refinement starts at the best search's medoids and keeps only steps that lower the loss
    steps = np.concatenate([[losses.min()], clarans.refine_losses_])
    assert np.all(np.diff(steps) < 0), f"refinement raised the loss: {steps}"
    assert clarans.inertia_ == steps[-1]
    if clarans.n_clusters > 1:
        assert swaps.size == clarans.n_swaps_ + 1
        assert clarans.n_iter_ >= clarans.n_swaps_ + 1  # the last stretch tried at least one candidate


def weights_for(data, n):
    """Optional integer sample weights in [0, 3] (never all zero)."""
    weights = data.draw(st.one_of(st.none(), arrays(np.int64, n, elements=st.integers(0, 3))))
    if weights is not None:
        assume(weights.any())
    return weights


# ---------------------------------------------------------------- properties on small data


def fit_drawn_search(data, max_neighbor_for):
    """CLARANS on a drawn integer matrix, k, n_local, weights and seed; max_neighbor_for(n)
    gives the strategy for max_neighbor."""
    diss = data.draw(integer_matrices(min_n=2, max_n=40))
    n = len(diss)
    k = data.draw(st.integers(1, min(n, 6)))
    n_local = data.draw(st.integers(1, 3))
    weights = weights_for(data, n)
    clarans = CLARANS(k, metric="precomputed", n_local=n_local, max_neighbor=data.draw(max_neighbor_for(n)),
                      random_state=data.draw(st.integers(0, 2**31 - 1)), n_threads=1).fit(diss, sample_weight=weights)
    return diss, n, k, n_local, weights, clarans


@given(data=st.data())
def test_exhaustive_search_reaches_a_swap_local_optimum(data):
    diss, n, k, n_local, weights, clarans = fit_drawn_search(data, lambda n: st.sampled_from([n, EXHAUSTIVE]))
    medoids = clarans.medoid_indices_
    assert_valid_medoids(medoids, n, k)
    # integer distances and weights: every sum is exact, and so is the optimality check
    assert clarans.inertia_ == ref.total_deviation(diss, medoids, weights)
    assert ref.labels_are_nearest(diss, medoids, clarans.labels_, weights)
    assert ref.is_swap_local_optimum(diss, medoids, weights, rtol=0.0)
    assert_search_history_consistent(clarans, n_local)
    if k > 1:
        assert clarans.n_iter_ >= n  # the final stretch tried every point


@given(data=st.data())
def test_short_searches_report_consistent_losses(data):
    diss, n, k, n_local, weights, clarans = fit_drawn_search(
        data, lambda n: st.one_of(st.floats(0.01, 0.99), st.integers(1, n)))
    medoids = clarans.medoid_indices_
    assert_valid_medoids(medoids, n, k)
    assert clarans.inertia_ == ref.total_deviation(diss, medoids, weights)
    assert ref.labels_are_nearest(diss, medoids, clarans.labels_, weights)
    assert_search_history_consistent(clarans, n_local)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("weighted", [False, True])
def test_exhaustive_search_on_continuous_data(seed, weighted):
    diss = random_symmetric(60, seed)
    weights = np.random.default_rng(seed).uniform(0.1, 2.0, size=60) if weighted else None
    clarans = CLARANS(5, metric="precomputed", n_local=2, max_neighbor=EXHAUSTIVE, random_state=seed).fit(
        diss, sample_weight=weights)
    assert_valid_medoids(clarans.medoid_indices_, 60, 5)
    assert clarans.n_swaps_ > 0
    assert ref.is_swap_local_optimum(diss, clarans.medoid_indices_, weights, rtol=1e-12)
    assert clarans.inertia_ == pytest.approx(ref.total_deviation(diss, clarans.medoid_indices_, weights), rel=1e-12)
    np.testing.assert_array_equal(clarans.labels_, ref.nearest_labels(diss, clarans.medoid_indices_))
    assert_search_history_consistent(clarans, 2)


def test_a_short_search_can_stop_before_a_local_optimum():
    # with a patience of 1, a search stops at the first candidate that does not improve: the
    # swap-local-optimum test above would catch a search that ignores max_neighbor, and this
    # one a search that ignores it the other way
    stopped_early = 0
    for seed in range(10):
        diss = random_symmetric(60, seed)
        clarans = CLARANS(5, metric="precomputed", n_local=1, max_neighbor=1, refine=False, random_state=seed).fit(diss)
        assert_search_history_consistent(clarans, 1)
        stopped_early += not ref.is_swap_local_optimum(diss, clarans.medoid_indices_, rtol=1e-12)
    assert stopped_early > 0


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_loss_labels_and_predict_on_features(metric, dtype):
    X = (np.random.default_rng(3).normal(size=(300, 4)) + 2.0).astype(dtype)  # no ties
    weights = np.random.default_rng(4).uniform(0.5, 2.0, size=300).astype(dtype)
    clarans = CLARANS(6, metric=metric, max_neighbor=0.2, random_state=0).fit(X, sample_weight=weights)
    medoids = clarans.medoid_indices_
    assert_valid_medoids(medoids, 300, 6)
    diss = _core.pairwise_distances(X, X, metric=metric, n_threads=1)
    np.fill_diagonal(diss, 0.0)  # a point is at distance exactly 0 from itself (cosine rounding)
    np.testing.assert_array_equal(clarans.labels_, ref.nearest_labels(diss, medoids))
    # the core forms w * d in the data's precision and sums in float64; so does this oracle
    assert clarans.inertia_ == pytest.approx(ref.total_deviation(weights[:, None] * diss, medoids), rel=1e-12)
    assert_search_history_consistent(clarans, 2)
    np.testing.assert_array_equal(clarans.predict(X), clarans.labels_)
    np.testing.assert_array_equal(clarans.cluster_centers_, X[medoids])
    assert clarans.cluster_centers_.dtype == dtype


def test_precomputed_fit_and_predict(blobs):
    X, _ = blobs
    diss = euclidean_matrix(X)
    clarans = CLARANS(4, metric="precomputed", random_state=0).fit(diss)
    assert clarans.cluster_centers_ is None
    np.testing.assert_array_equal(clarans.predict(diss), clarans.labels_)
    np.testing.assert_array_equal(clarans.transform(diss), diss[:, clarans.medoid_indices_])


@pytest.mark.parametrize("k", [1, 2, 5])
def test_swap_losses_start_with_the_initial_loss_and_record_every_swap(k):
    diss = random_symmetric(50, 0)
    clarans = CLARANS(k, metric="precomputed", n_local=1, max_neighbor=EXHAUSTIVE, random_state=0).fit(diss)
    assert clarans.n_swaps_ >= 1  # the random start (1 in 50 chance to be the best) was improved on
    assert clarans.swap_losses_.size == clarans.n_swaps_ + 1
    assert clarans.swap_losses_[0] > clarans.inertia_


def test_single_cluster_is_the_exact_optimum():
    diss = random_symmetric(50, 1)
    clarans = CLARANS(1, metric="precomputed", n_local=1, random_state=3).fit(diss)
    assert clarans.medoid_indices_.tolist() == [int(np.argmin(diss.sum(axis=0)))]
    assert clarans.inertia_ == pytest.approx(diss.sum(axis=0).min(), rel=1e-12)
    np.testing.assert_array_equal(clarans.labels_, np.zeros(50))


def test_as_many_clusters_as_points():
    X = np.random.default_rng(0).normal(size=(12, 2))
    clarans = CLARANS(12, random_state=0).fit(X)
    assert sorted(clarans.medoid_indices_) == list(range(12))
    assert clarans.inertia_ == 0
    np.testing.assert_array_equal(clarans.medoid_indices_[clarans.labels_], np.arange(12))


# ---------------------------------------------------------------- max_neighbor


def fit_pair(X, first, second, k=4, **params):
    a = CLARANS(k, max_neighbor=first, random_state=5, **params).fit(X)
    b = CLARANS(k, max_neighbor=second, random_state=5, **params).fit(X)
    return a, b


def assert_same_fit(a, b):
    np.testing.assert_array_equal(a.medoid_indices_, b.medoid_indices_)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.inertia_ == b.inertia_
    assert (a.n_iter_, a.n_swaps_) == (b.n_iter_, b.n_swaps_)
    np.testing.assert_array_equal(a.swap_losses_, b.swap_losses_)
    np.testing.assert_array_equal(a.local_losses_, b.local_losses_)


@pytest.mark.parametrize("fraction, count", [(0.013, 3), (0.05, 10), (0.1, 20), (0.333, 67), (0.5, 100)])
def test_max_neighbor_below_one_is_a_fraction_of_n_minus_k(fraction, count):
    X = np.random.default_rng(7).normal(size=(204, 3))  # n - k = 200; counts round up
    as_fraction, as_count = fit_pair(X, fraction, count)
    assert_same_fit(as_fraction, as_count)
    assert as_fraction.n_iter_ >= count  # the best search ended with `count` failures in a row


def test_max_neighbor_fraction_and_count_boundaries():
    X = np.random.default_rng(7).normal(size=(204, 3))
    assert_same_fit(*fit_pair(X, 1e-9, 1))  # a tiny fraction still tries one candidate
    assert_same_fit(*fit_pair(X, 1, 1.0))  # 1 is a count, not 100 %
    assert_same_fit(*fit_pair(X, 7.9, 7))  # a count is truncated
    assert_same_fit(*fit_pair(X, np.float32(0.25), 0.25))
    assert_same_fit(*fit_pair(X, np.int64(9), 9))
    # a count is capped at n: everything from n on is the same exhaustive search
    exhaustive, capped = fit_pair(X, 204, EXHAUSTIVE)
    assert_same_fit(exhaustive, capped)
    assert_same_fit(exhaustive, CLARANS(4, max_neighbor=float("inf"), random_state=5).fit(X))
    assert exhaustive.n_iter_ >= 204
    # and a count is not a fraction: 0.99 of 200 is 198 tries, the count 198 is the same
    assert_same_fit(*fit_pair(X, 0.99, 198))


def test_more_patience_searches_longer():
    X = np.random.default_rng(8).normal(size=(300, 2))
    tries = [CLARANS(8, n_local=1, max_neighbor=m, random_state=1).fit(X).n_iter_ for m in (2, 30, 300)]
    assert tries[0] < tries[2]
    assert tries[1] >= 30 and tries[2] >= 300


# ---------------------------------------------------------------- verbose, quality


LINE = re.compile(r"CLARANS search (\d+)/(\d+): (\d+) swaps? in (\d+) tries, .*?([0-9]+\.[0-9]+)( \(best so far\))?$")


def test_verbose_prints_one_line_per_search(capsys):
    X = np.random.default_rng(6).normal(size=(300, 2))
    clarans = CLARANS(6, n_local=5, max_neighbor=0.05, random_state=2, verbose=True).fit(X)
    lines = capsys.readouterr().out.strip().splitlines()
    refinement = [line for line in lines if line.startswith("refinement step")]
    assert lines[5:] == refinement and len(refinement) >= clarans.refine_losses_.size
    matches = ref.check_progress_lines(lines[:5], LINE, clarans.local_losses_)
    assert len(matches) == 5
    match = matches[clarans.best_local_]
    assert (int(match[3]), int(match[4])) == (clarans.n_swaps_, clarans.n_iter_)
    CLARANS(6, n_local=5, random_state=2).fit(X)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("source", ["features", "precomputed"])
def test_finds_well_separated_blobs(seed, source):
    X, y = separated_blobs(100, seed=seed)  # 400 points, 4 blobs
    data = euclidean_matrix(X) if source == "precomputed" else X
    metric = "precomputed" if source == "precomputed" else "euclidean"
    clarans = CLARANS(4, metric=metric, n_local=3, random_state=seed).fit(data)
    assert adjusted_rand_score(y, clarans.labels_) > 0.9
    assert clarans.inertia_ < 2.0 * len(X)


def test_more_local_searches_never_hurt():
    # the first search of n_local=5 is the search of n_local=1 (same seed stream)
    X = np.random.default_rng(10).normal(size=(300, 2))
    for seed in range(3):
        one = CLARANS(8, n_local=1, refine=False, random_state=seed).fit(X)
        five = CLARANS(8, n_local=5, refine=False, random_state=seed).fit(X)
        assert five.local_losses_[0] == one.inertia_
        assert five.inertia_ <= one.inertia_


def test_swaps_whose_gain_is_rounding_end_the_search():
    # 1-d cosine: every dissimilarity is 0 or 2 up to rounding, and the loss of the right split is
    # rounding (4e-16). Swaps with gains of -4e-16 passed the relative threshold without lowering
    # the loss, and CLARANS cycled through them for ever. Run in a child process with a timeout,
    # so that a hang fails the test instead of the run.
    script = """
import numpy as np
from vecclust import CLARANS
X = np.array([2.1257302210933933, -0.1321048632913019, 1.640422650443282, 2.10490011715304, 0.46433062683888904,
              0.36159505490948474, 3.3040000451301372, 2.9470809631292423, 1.2962647641930074, -1.2654214710460525,
              -0.6232744625373522])[:, None]
w = np.array([1.7160914166974566, 1.0391932935046773, 1.3835242193534436, 0.2792950792072963, 0.547993174198779,
              2.0777483611421648, 2.0121306324079002, 1.9230783121475106, 1.2742971519332735, 2.9921878202097907,
              2.946338948573444])
for refine in (False, True):
    m = CLARANS(2, metric="cosine", n_local=1, max_neighbor=0.1, random_state=0, refine=refine, n_threads=1)
    m.fit(X, sample_weight=w)
    print(sorted(np.sign(X[m.medoid_indices_, 0]).tolist()), m.inertia_ < 1e-12)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["[-1.0, 1.0] True"] * 2
