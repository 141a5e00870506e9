"""Parity with the `kmedoids` package (Rust), used only as a test oracle.

From the same initial medoids, with one thread and no random_state (so kmedoids scans the
candidates in index order), both implement the same loops with the same tie-breaking and the
same double-precision accumulation, so the results must be identical, not just close.
"""

import numpy as np
import pytest
from hypothesis import given
from scipy.spatial.distance import cdist

import vecclust
from strategies import matrix_and_medoids

kmedoids = pytest.importorskip("kmedoids")

N = 300


def make_matrix(kind, seed, dtype):
    rng = np.random.default_rng(seed)
    if kind == "euclidean":
        X = rng.normal(size=(N, 5))
        diss = cdist(X, X)
        diss = (diss + diss.T) / 2
        np.fill_diagonal(diss, 0.0)
    else:  # arbitrary symmetric, not metric
        upper = np.triu(rng.uniform(0.1, 10.0, size=(N, N)), 1)
        diss = upper + upper.T
    return np.ascontiguousarray(diss, dtype=dtype)


def initial_medoids(k, seed):
    return np.random.default_rng(1000 + seed + k).choice(N, size=k, replace=False)


def oracle(method, diss, init, max_iter=100):
    init = np.asarray(init).astype(np.uintp)
    if method == "fasterpam":
        return kmedoids.fasterpam(diss, init, max_iter=max_iter, n_cpu=1, random_state=None)
    if method == "fastpam1":
        return kmedoids.fastpam1(diss, init, max_iter=max_iter)
    if method == "pam":
        return kmedoids.pam(diss, init, max_iter=max_iter)
    return kmedoids.alternating(diss, init, max_iter=max_iter)


FUNCTIONS = {
    "fasterpam": vecclust.fasterpam,
    "fastpam1": vecclust.fastpam1,
    "pam": vecclust.pam,
    "alternating": vecclust.alternating,
}

CASES = [
    pytest.param(kind, dtype, seed, id=f"{kind}-{np.dtype(dtype).name}-seed{seed}")
    for kind in ("euclidean", "uniform")
    for dtype in (np.float64, np.float32)
    for seed in (0, 1)
]


def assert_matches(expected, got, *, check_swaps=True):
    np.testing.assert_array_equal(got.medoids, np.asarray(expected.medoids).astype(np.int64))
    np.testing.assert_array_equal(got.labels, np.asarray(expected.labels).astype(np.int64))
    assert got.loss == expected.loss
    assert got.n_iter == expected.n_iter
    if check_swaps:
        assert got.n_swap == expected.n_swap


@pytest.mark.parametrize("method", list(FUNCTIONS))
@pytest.mark.parametrize("k", [2, 5, 20])
@pytest.mark.parametrize("kind, dtype, seed", CASES)
def test_same_result_as_kmedoids_from_the_same_medoids(method, k, kind, dtype, seed):
    diss = make_matrix(kind, seed, dtype)
    init = initial_medoids(k, seed)
    expected = oracle(method, diss, init)
    got = FUNCTIONS[method](diss, init, max_iter=100)
    assert got.converged
    # kmedoids.alternating does not report a swap count
    assert_matches(expected, got, check_swaps=method != "alternating")
    if method != "alternating":
        assert got.n_swap > 0  # the comparison exercised the swap loop


@pytest.mark.parametrize("method", list(FUNCTIONS))
@pytest.mark.parametrize("max_iter", [1, 2])
def test_parity_when_max_iter_stops_early(method, max_iter):
    diss = make_matrix("euclidean", 5, np.float64)
    init = initial_medoids(20, 5)
    got = FUNCTIONS[method](diss, init, max_iter=max_iter)
    assert not got.converged and got.n_iter == max_iter
    assert_matches(oracle(method, diss, init, max_iter=max_iter), got, check_swaps=method != "alternating")


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("k", [2, 5, 20])
@pytest.mark.parametrize("kind, dtype, seed", CASES[:4])
def test_fasterpam_any_thread_count_equals_kmedoids_single_thread(n_threads, k, kind, dtype, seed):
    diss = make_matrix(kind, seed, dtype)
    init = initial_medoids(k, seed)
    assert_matches(oracle("fasterpam", diss, init), vecclust.fasterpam(diss, init, n_threads=n_threads))


@pytest.mark.parametrize("k", [2, 5, 20])
@pytest.mark.parametrize("kind, dtype, seed", CASES)
def test_pam_build_parity(k, kind, dtype, seed):
    diss = make_matrix(kind, seed, dtype)
    expected = kmedoids.pam_build(diss, k)
    got = vecclust.pam_build(diss, k)
    np.testing.assert_array_equal(got.medoids, np.asarray(expected.medoids).astype(np.int64))
    np.testing.assert_array_equal(got.labels, np.asarray(expected.labels).astype(np.int64))
    assert got.loss == expected.loss


@pytest.mark.parametrize("method", ["fasterpam", "pam"])
@pytest.mark.parametrize("k", [2, 5])
def test_build_then_swap_parity(method, k):
    diss = make_matrix("euclidean", 3, np.float64)
    if method == "fasterpam":
        expected = kmedoids.fasterpam(diss, k, init="build", n_cpu=1, random_state=None)
    else:
        expected = kmedoids.pam(diss, k, init="build")
    got = FUNCTIONS[method](diss, k, init="build")
    assert_matches(expected, got)


def test_readme_fixture_parity(fixture_matrix):
    for method in FUNCTIONS:
        expected = oracle(method, fixture_matrix, [0, 1])
        assert_matches(expected, FUNCTIONS[method](fixture_matrix, [0, 1]), check_swaps=method != "alternating")


@pytest.mark.parametrize("method", list(FUNCTIONS))
@given(data=matrix_and_medoids(max_n=25, max_k=6))
def test_parity_on_integer_matrices_with_many_ties(method, data):
    # small integer distances: many exact ties, so this pins down the tie-breaking rules
    diss, init = data
    if init.size == 1:
        init = np.array([init[0], (init[0] + 1) % len(diss)])  # k = 1 is a separate code path
    assert_matches(oracle(method, diss, init), FUNCTIONS[method](diss, init), check_swaps=method != "alternating")


@given(data=matrix_and_medoids(max_n=25, max_k=6))
def test_pam_build_parity_on_integer_matrices(data):
    diss, init = data
    k = init.size
    expected = kmedoids.pam_build(diss, k)
    if len(expected.medoids) < k:  # kmedoids stops early when no point gains; vecclust adds duplicates
        return
    got = vecclust.pam_build(diss, k)
    np.testing.assert_array_equal(got.medoids, np.asarray(expected.medoids).astype(np.int64))
    assert got.loss == expected.loss


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fasterpam", "fastpam1"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_parity_at_scale(method, dtype):
    rng = np.random.default_rng(77)
    X = rng.normal(size=(2500, 8))
    diss = cdist(X, X)
    diss = np.ascontiguousarray((diss + diss.T) / 2, dtype=dtype)
    np.fill_diagonal(diss, 0)
    init = rng.choice(len(diss), size=100, replace=False)
    got = FUNCTIONS[method](diss, init, max_iter=1000, n_threads=2)
    assert got.converged and got.n_swap > 100
    assert_matches(oracle(method, diss, init, max_iter=1000), got)
