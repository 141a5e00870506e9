"""The index over the float32 range: vectors its float32 distances cannot take are refused with
an error naming the limit (values around 1e19 used to give ids [0, 1, 2] at distance inf, NaN for
"ip", and data around 1e-23 all distances 0); inside the limits, scaling by a power of two
changes nothing but the units."""

import numpy as np
import pytest

from vecclust import MultiTenantIndex

DIM = 16
UNLIMITED = 10**9


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    return rng.normal(size=(400, DIM)).astype(np.float32), rng.normal(size=(5, DIM)).astype(np.float32)


def filled(X, metric, **options):
    index = MultiTenantIndex(DIM, metric=metric, split_threshold=32, random_state=0, n_threads=1, **options)
    index.train(X)
    index.add(X, np.arange(len(X)), 1)
    return index


@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_values_whose_distances_overflow_are_refused(data, metric):
    X, Q = data
    limit = np.sqrt(np.finfo(np.float32).max / (8 * DIM))
    big = X * np.float32(1e19)
    with pytest.raises(ValueError, match=r"training vector 0 has a value of magnitude .*the largest the index takes at dim=16"):
        MultiTenantIndex(DIM, metric=metric).train(big)
    index = filled(X, metric)
    with pytest.raises(ValueError, match=r"vector 0 has a value of magnitude .* above 1\.63e\+18"):
        index.add(big, np.arange(1000, 1000 + len(X)), 1)
    assert len(index) == len(X)  # nothing stored is lost
    with pytest.raises(ValueError, match=r"query 0 has a value of magnitude"):
        index.search(Q * np.float32(1e19), 1, k=3)
    # at the limit, every distance is finite and right
    at_limit = X / np.abs(X).max() * np.float32(limit * 0.999)
    index = filled(at_limit, metric)
    distances, ids = index.search(at_limit[:5], 1, k=5, budget=UNLIMITED)
    assert np.all(np.isfinite(distances))
    rows = at_limit.astype(np.float64)
    exact = ((rows[:5, None] - rows[None]) ** 2).sum(-1) if metric == "l2" else -(rows[:5] @ rows.T)
    np.testing.assert_array_equal(ids[:, 0], np.argmin(exact, axis=1))


@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_data_too_small_to_resolve_is_refused(data, metric):
    X, _ = data
    with pytest.raises(ValueError, match=r"the largest magnitude of these vectors, .* is below 1\.08e-19"):
        MultiTenantIndex(DIM, metric=metric).train(X * np.float32(1e-23))
    index = filled(X, metric)
    with pytest.raises(ValueError, match="the smallest the index resolves"):
        index.add(X * np.float32(1e-23), np.arange(1000, 1000 + len(X)), 1)
    assert len(index) == len(X)
    # one tiny row among ordinary ones, and tiny queries, are fine
    index.add(np.vstack([X[:1], X[1:2] * np.float32(1e-23)]), [1000, 1001], 1)
    assert np.all(np.isfinite(index.search(X[:3] * np.float32(1e-23), 1, k=3)[0]))


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
@pytest.mark.parametrize("exponent", [-56, 56])
def test_power_of_two_scaling_changes_nothing_but_units(data, metric, exponent):
    X, Q = data
    reference = filled(X, metric).search(Q, 1, k=10, budget=UNLIMITED)
    scale = np.float32(2.0**exponent)
    distances, ids = filled(X * scale, metric).search(Q * scale, 1, k=10, budget=UNLIMITED)
    np.testing.assert_array_equal(ids, reference[1])
    units = 0 if metric == "cosine" else 2 * exponent
    np.testing.assert_array_equal(distances, np.ldexp(reference[0], units).astype(np.float32))


def test_cosine_takes_any_finite_scale(data):
    X, Q = data
    reference = filled(X, "cosine").search(Q, 1, k=10, budget=UNLIMITED)[1]
    for scale in (1e30, 1e-30):
        ids = filled(X * np.float32(scale), "cosine").search(Q, 1, k=10, budget=UNLIMITED)[1]
        np.testing.assert_array_equal(ids, reference)


def test_cosine_takes_rows_of_subnormals(data):
    # Normalising such a row used to overflow its float32 inverse norm, so they were refused.
    X, Q = data
    tiny = X * np.float32(2.0**-135)
    assert np.all(np.abs(tiny) < np.finfo(np.float32).tiny)
    unit = tiny.astype(np.float64) / np.linalg.norm(tiny.astype(np.float64), axis=1, keepdims=True)
    queries = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    exact = np.argsort(-(queries @ unit.T), axis=1)[:, :3]
    _, ids = filled(tiny, "cosine").search(Q, 1, k=3, budget=UNLIMITED)
    np.testing.assert_array_equal(ids, exact)


@pytest.mark.parametrize("bloom_fpr", [2.0**-65, 1e-300, 5e-324])
def test_bloom_fpr_below_the_probe_limit_is_refused(bloom_fpr):
    # Below 2**-64 a filter's probe count (ceil(log2(1 / fpr))) no longer fits the byte that
    # stores it: at 2**-256 it wrapped to 0 probes, a filter that passes every tenant.
    with pytest.raises(ValueError, match="bloom_fpr=.* must be >= 5.42"):
        MultiTenantIndex(DIM, bloom_fpr=bloom_fpr)
    with pytest.raises(ValueError, match=r"bloom_fpr must be in \[2\^-64, 1\)"):
        from vecclust import _core
        _core.MultiTenantIndexCore(dim=DIM, metric="l2", branching_factor=32, split_threshold=256,
                                   bloom_fpr=bloom_fpr, seed=0, sign_codes="off")


def test_bloom_fpr_at_the_probe_limit_works(data):
    X, Q = data
    index = filled(X, "l2", bloom_fpr=2.0**-64)
    exact = np.argsort(((X[None] - Q[:, None]) ** 2).sum(-1), axis=1)[:, :3]
    _, ids = index.search(Q, 1, k=3, budget=UNLIMITED)
    np.testing.assert_array_equal(ids, exact)
