"""Reproducibility: a fixed random_state gives bit-identical results for every thread count,
memory layout and calling thread; the GIL is released while the core runs."""

import threading
import time

import numpy as np
import pytest

import vecclust
from strategies import euclidean_matrix
from vecclust import CLARA, CLARANS, KMedoids

METHODS = ["fasterpam", "fastpam1", "pam", "alternate"]
INITS = ["random", "first", "build", "lab", "k-medoids++"]


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(2024)
    centers = rng.uniform(-10, 10, size=(12, 4))
    return centers[rng.integers(0, 12, size=1500)] + rng.normal(scale=2.0, size=(1500, 4))


@pytest.fixture(scope="module")
def matrix(points):
    diss = euclidean_matrix(points)
    diss.setflags(write=False)
    return diss


def assert_identical_fits(a, b):
    np.testing.assert_array_equal(a.medoid_indices_, b.medoid_indices_)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.inertia_ == b.inertia_  # bit for bit, not approximately
    assert (a.n_iter_, a.n_swaps_) == (b.n_iter_, b.n_swaps_)


def assert_identical_results(a, b):
    np.testing.assert_array_equal(a.medoids, b.medoids)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.loss == b.loss
    assert (a.n_iter, a.n_swap, a.converged) == (b.n_iter, b.n_swap, b.converged)


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("method", METHODS)
def test_matrix_same_seed_same_result_for_any_thread_count(method, init, matrix):
    def fit(n_threads):
        return KMedoids(8, metric="precomputed", method=method, init=init, n_init=2, random_state=3,
                        n_threads=n_threads).fit(matrix)

    one, two, again = fit(1), fit(2), fit(2)
    assert_identical_fits(one, two)
    assert_identical_fits(two, again)
    assert one.n_swaps_ > 0 or init == "build"


@pytest.mark.parametrize("k", [2, 20, 60])
def test_fasterpam_speculative_threads_match_serial_scan(k, matrix):
    # Many swaps early, long swap-free stretches late: exercises every block size.
    init = np.arange(k)
    weights = np.random.default_rng(k).integers(0, 4, size=len(matrix)).astype(np.float64)
    serial = vecclust.fasterpam(matrix, init, n_threads=1, sample_weight=weights)
    for n_threads in (2, 3, None):
        assert_identical_results(serial, vecclust.fasterpam(matrix, init, n_threads=n_threads, sample_weight=weights))


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_features_on_demand_same_seed_same_result_for_any_thread_count(metric, method, init, points):
    X = points.astype(np.float32) if metric == "euclidean" else points

    def fit(n_threads):
        return KMedoids(8, metric=metric, method=method, init=init, precompute=False, random_state=5,
                        n_threads=n_threads).fit(X)

    assert_identical_fits(fit(1), fit(2))


@pytest.mark.parametrize("init", ["random", "lab", "k-medoids++"])
def test_different_seeds_give_different_starts(init, matrix):
    starts = {tuple(vecclust.fasterpam(matrix, 10, init=init, max_iter=0, random_state=seed).medoids)
              for seed in range(8)}
    assert len(starts) >= 6


def test_different_seeds_can_give_different_results(matrix):
    fits = [KMedoids(30, metric="precomputed", random_state=seed).fit(matrix) for seed in range(4)]
    assert len({fit.inertia_ for fit in fits}) > 1
    assert len({tuple(sorted(fit.medoid_indices_)) for fit in fits}) > 1


def test_random_state_objects(matrix):
    def fit(random_state):
        return KMedoids(10, metric="precomputed", random_state=random_state).fit(matrix)

    assert_identical_fits(fit(np.random.RandomState(9)), fit(np.random.RandomState(9)))
    assert_identical_fits(fit(np.random.default_rng(9)), fit(np.random.default_rng(9)))
    km = KMedoids(10, metric="precomputed", random_state=4)
    first = km.fit(matrix).inertia_
    assert km.fit(matrix).inertia_ == first  # refitting an int seed repeats itself


def test_n_init_keeps_the_best_restart(matrix):
    # the first restart is the single run with the same seed, so restarts can only help
    improved = 0
    for seed in range(4):
        single = KMedoids(20, metric="precomputed", init="random", random_state=seed).fit(matrix)
        best = KMedoids(20, metric="precomputed", init="random", n_init=5, random_state=seed).fit(matrix)
        assert best.inertia_ <= single.inertia_
        recomputed = vecclust.fasterpam(matrix, best.medoid_indices_, max_iter=0).loss
        assert best.inertia_ == pytest.approx(recomputed, rel=1e-12)
        improved += best.inertia_ < single.inertia_
    assert improved > 0


# ---------------------------------------------------------------- memory layouts


def test_read_only_and_non_contiguous_matrices(matrix):
    big = euclidean_matrix(np.repeat(np.random.default_rng(1).normal(size=(400, 3)), 2, axis=0))
    strided = big[::2, ::2]  # a valid matrix of the even points, as a non-contiguous view
    contiguous = np.ascontiguousarray(strided)
    assert not strided.flags.c_contiguous
    fortran = np.asfortranarray(contiguous)
    read_only = contiguous.copy()
    read_only.setflags(write=False)
    weights_strided = np.arange(800, dtype=np.float64)[::2] % 3 + 1
    expected = vecclust.fasterpam(contiguous, 6, init="k-medoids++", random_state=2,
                                  sample_weight=np.ascontiguousarray(weights_strided))
    for diss in (strided, fortran, read_only):
        got = vecclust.fasterpam(diss, 6, init="k-medoids++", random_state=2, sample_weight=weights_strided)
        assert_identical_results(expected, got)
    km = KMedoids(6, metric="precomputed", random_state=2).fit(matrix)  # the fixture is read-only
    assert km.labels_.shape == (len(matrix),)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_read_only_and_non_contiguous_features(dtype, points):
    X = np.ascontiguousarray(points[:400], dtype=dtype)
    wide = np.repeat(X, 2, axis=1)[:, ::2]  # same values, non-contiguous
    fortran = np.asfortranarray(X)
    read_only = X.copy()
    read_only.setflags(write=False)
    expected = KMedoids(5, random_state=0, precompute=False).fit(X)
    for variant in (wide, fortran, read_only):
        got = KMedoids(5, random_state=0, precompute=False).fit(variant)
        assert_identical_fits(expected, got)
        np.testing.assert_array_equal(got.predict(variant), expected.labels_)
        np.testing.assert_array_equal(got.transform(variant), expected.transform(X))


# ---------------------------------------------------------------- threads and the GIL


def test_two_fits_in_two_python_threads_equal_sequential_fits(matrix, points):
    jobs = [
        lambda: KMedoids(12, metric="precomputed", method="fastpam1", random_state=1, n_threads=1).fit(matrix),
        lambda: KMedoids(12, method="fasterpam", precompute=False, random_state=2, n_threads=1).fit(points),
    ]
    sequential = [job() for job in jobs]
    results = [None, None]
    errors = []

    def work(i):
        try:
            results[i] = jobs[i]()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    for expected, got in zip(sequential, results):
        assert_identical_fits(expected, got)


def test_the_gil_is_released_during_a_fit(matrix):
    def fit():
        return vecclust.pam(matrix, 10, init="random", random_state=0, n_threads=1)

    start = time.perf_counter()
    expected = fit()
    duration = time.perf_counter() - start
    assert duration > 0.05, "the fit is too short to observe the GIL"

    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("res", fit()))
    ticks = 0
    worker.start()
    while worker.is_alive():  # this loop needs the GIL; it starves if the fit holds it
        ticks += 1
        time.sleep(0.002)
    worker.join()
    # holding the GIL would leave the loop at most a tick or two
    assert ticks >= 5, f"main thread ran only {ticks} times during a {duration:.2f}s fit"
    assert_identical_results(expected, result["res"])


# ---------------------------------------------------------------- CLARA and CLARANS


@pytest.fixture(scope="module")
def points32(points):
    return np.ascontiguousarray(points, dtype=np.float32)


@pytest.fixture(scope="module")
def matrix32(points32):
    # bit-identical to the distances the features path computes
    diss = vecclust._core.pairwise_distances(points32, points32, metric="euclidean", n_threads=1)
    diss.setflags(write=False)
    return diss


def assert_identical_samplers(a, b):
    assert_identical_fits(a, b)
    for name in ("sample_losses_", "best_sample_", "local_losses_", "best_local_", "swap_losses_"):
        if hasattr(a, name):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def sampler_data(source, points32, matrix32):
    return (matrix32, "precomputed") if source == "precomputed" else (points32, "euclidean")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("init", ["random", "build", "k-medoids++"])
@pytest.mark.parametrize("source", ["features", "precomputed"])
def test_clara_same_seed_same_result_for_any_thread_count(source, init, method, points32, matrix32):
    data, metric = sampler_data(source, points32, matrix32)
    weights = np.random.default_rng(1).integers(0, 3, size=len(data)).astype(np.float32)

    def fit(n_threads):
        return CLARA(8, metric=metric, method=method, init=init, n_sampling=150, n_sampling_iter=3, random_state=4,
                     n_threads=n_threads).fit(data, sample_weight=weights)

    one, two, again = fit(1), fit(2), fit(2)
    assert_identical_samplers(one, two)
    assert_identical_samplers(two, again)


@pytest.mark.parametrize("max_neighbor", [0.02, 10**9])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("source", ["features", "precomputed"])
def test_clarans_same_seed_same_result_for_any_thread_count(source, weighted, max_neighbor, points32, matrix32):
    # many swaps early, long swap-free stretches late: the speculative blocks of every size
    data, metric = sampler_data(source, points32, matrix32)
    weights = np.random.default_rng(2).integers(0, 3, size=len(data)).astype(np.float32) if weighted else None

    def fit(n_threads):
        return CLARANS(12, metric=metric, n_local=2, max_neighbor=max_neighbor, random_state=6,
                       n_threads=n_threads).fit(data, sample_weight=weights)

    one, two, again = fit(1), fit(2), fit(2)
    assert_identical_samplers(one, two)
    assert_identical_samplers(two, again)
    assert one.n_swaps_ > 10


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "manhattan"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_samplers_features_equal_precomputed(metric, dtype, points):
    X = np.ascontiguousarray(points[:600], dtype=dtype)
    diss = vecclust._core.pairwise_distances(X, X, metric=metric, n_threads=1)
    weights = np.random.default_rng(3).uniform(0.5, 2, size=600).astype(dtype)
    for make in (lambda m: CLARA(6, metric=m, n_sampling=80, random_state=2),
                 lambda m: CLARANS(6, metric=m, max_neighbor=0.1, random_state=2)):
        features = make(metric).fit(X, sample_weight=weights)
        precomputed = make("precomputed").fit(diss, sample_weight=weights)
        assert_identical_samplers(features, precomputed)


@pytest.mark.parametrize("cls", [CLARA, CLARANS])
def test_samplers_different_seeds_can_give_different_results(cls, points32):
    fits = [cls(12, random_state=seed).fit(points32) for seed in range(4)]
    assert len({fit.inertia_ for fit in fits}) > 1
    assert len({tuple(sorted(fit.medoid_indices_)) for fit in fits}) > 1


@pytest.mark.parametrize("cls", [CLARA, CLARANS])
def test_samplers_random_state_objects(cls, points32):
    def fit(random_state):
        return cls(8, random_state=random_state, n_threads=2).fit(points32)

    assert_identical_samplers(fit(np.random.RandomState(9)), fit(np.random.RandomState(9)))
    assert_identical_samplers(fit(np.random.default_rng(9)), fit(np.random.default_rng(9)))
    estimator = cls(8, random_state=4)
    first = estimator.fit(points32).inertia_
    assert estimator.fit(points32).inertia_ == first  # refitting an int seed repeats itself
