"""Sign codes: the index's second first pass (RaBitQ-style one-bit codes) and their file fields."""
from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from vecclust import MultiTenantIndex, _core

sys.path.insert(0, str(Path(__file__).parent))
from file_mutations import layout, seal, with_fields  # noqa: E402
from test_index_file_checks import _unpickled, rejected  # noqa: E402


def spread_data(n=1500, dim=96, seed=0):
    """Clusters in data whose variance is spread over every direction (the case the codes are for)."""
    rng = np.random.default_rng(seed)
    scale = np.arange(1, dim + 1) ** -0.3
    centres = rng.normal(size=(12, dim)) * scale
    X = centres[rng.integers(0, 12, n)] + 0.6 * rng.normal(size=(n, dim)) * scale
    Q = X[rng.integers(0, n, 40)] + 0.3 * rng.normal(size=(40, dim)) * scale
    return X.astype(np.float32), Q.astype(np.float32)


def build(X, sign_codes="on", metric="l2", n_tenants=3):
    index = MultiTenantIndex(X.shape[1], metric=metric, branching_factor=4, split_threshold=64, sign_codes=sign_codes,
                             random_state=0, n_threads=1)
    index.train(X)
    for t in range(n_tenants):
        index.add(X[t::n_tenants], np.arange(t, len(X), n_tenants), t)
    index.grant(np.arange(1, len(X), n_tenants), 0)  # tenant 0 also sees tenant 1's vectors
    return index


def brute_force(X, Q, ids, metric, k):
    Xs = X[ids].astype(np.float64)
    q = Q.astype(np.float64)
    if metric == "cosine":
        Xs = Xs / np.linalg.norm(Xs, axis=1, keepdims=True)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        d = 1 - q @ Xs.T
    elif metric == "ip":
        d = -(q @ Xs.T)
    else:
        d = ((q[:, None, :] - Xs[None]) ** 2).sum(-1)
    return ids[np.argsort(d, axis=1, kind="stable")[:, :k]], np.sort(d, axis=1)[:, :k]


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_exact_search_ignores_the_sign_codes(metric):
    X, Q = spread_data()
    with_codes, without = build(X, "on", metric), build(X, "off", metric)
    for budget in (50, 10**9):
        a = with_codes.search(Q, 0, 10, budget=budget, exact=True)
        b = without.search(Q, 0, 10, budget=budget, exact=True)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    ids = np.concatenate([np.arange(0, len(X), 3), np.arange(1, len(X), 3)])
    expected, _ = brute_force(X, Q, ids, metric, 10)
    found = with_codes.search(Q, 0, 10, budget=10**9, exact=True)[1]
    assert np.mean([len(set(e) & set(f)) for e, f in zip(expected, found)]) == 10


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_probable_bounds_find_the_true_neighbours_with_exact_distances(metric):
    X, Q = spread_data()
    index = build(X, "on", metric)
    ids = np.concatenate([np.arange(0, len(X), 3), np.arange(1, len(X), 3)])
    expected, expected_d = brute_force(X, Q, ids, metric, 10)
    distances, found = index.search(Q, 0, 10, budget=10**9)
    recall = np.mean([len(set(e) & set(f)) / 10 for e, f in zip(expected, found)])
    assert recall >= 0.99
    # Every returned distance is the exact one of its vector (the codes only decide what is read).
    _, exact_d = brute_force(X, Q, found.ravel(), metric, len(found.ravel()))
    for i in range(len(Q)):
        row = brute_force(X, Q[i:i + 1], found[i], metric, 10)[1][0]
        np.testing.assert_allclose(np.sort(distances[i]), row, rtol=1e-5, atol=1e-5)
    # Nothing outside the tenant's vectors.
    assert set(found.ravel()) <= set(ids)


def test_auto_turns_the_codes_on_for_spread_data_from_dim_64():
    rng = np.random.default_rng(0)
    low_rank = rng.normal(size=(200, 8)) @ rng.normal(size=(8, 64)) + 0.01 * rng.normal(size=(200, 64))
    for X, expected in ((rng.normal(size=(200, 63)), "off"), (rng.normal(size=(200, 64)), "on"), (low_rank, "off")):
        index = MultiTenantIndex(X.shape[1], random_state=0)
        assert index.sign_codes == "auto" and index.get_params()["sign_codes"] == "auto"
        index.train(X.astype(np.float32))
        assert index.sign_codes == expected
    memory = {}
    X, _ = spread_data(n=300, dim=64)
    for codes in ("on", "off"):
        memory[codes] = build(X, codes).memory_usage()["vectors"]
    assert memory["on"] > memory["off"]  # the codes take room in each vector's slot


def test_bad_arguments():
    with pytest.raises(ValueError, match="sign_codes"):
        MultiTenantIndex(8, sign_codes="yes")
    X, Q = spread_data(n=200, dim=64)
    index = build(X)
    with pytest.raises(TypeError, match="exact"):
        index.search(Q, 0, 5, exact="no")


def test_results_do_not_depend_on_threads_or_isa_level():
    X, Q = spread_data()
    index = build(X)
    reference = index.search(Q, np.zeros(len(Q), dtype=np.int64), 10, budget=300)
    index.n_threads = 2
    index._n_threads = 2
    again = index.search(Q, np.zeros(len(Q), dtype=np.int64), 10, budget=300)
    np.testing.assert_array_equal(reference[1], again[1])
    try:
        for level in ("baseline", "avx2"):
            _core.set_isa_limit(level)
            lowered = index.search(Q, np.zeros(len(Q), dtype=np.int64), 10, budget=300)
            np.testing.assert_array_equal(reference[0], lowered[0])
            np.testing.assert_array_equal(reference[1], lowered[1])
    finally:
        _core.set_isa_limit("avx512")


def test_save_and_load_keep_the_codes_and_the_results():
    X, Q = spread_data(n=600)
    index = build(X)
    loaded = _unpickled(index._core.to_bytes())
    assert loaded.sign_codes == "on"
    for exact in (False, True):
        a, b = index.search(Q, 0, 10, budget=200, exact=exact), loaded.search(Q, 0, 10, budget=200, exact=exact)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 3.0e38])
def test_a_crafted_centre_is_rejected(value):
    X, _ = spread_data(n=200, dim=64)
    data = build(X)._core.to_bytes()
    rejected(with_fields(data, {"sign_centre[3].0": value}), "sign-code centre")


def test_crafted_sign_code_options_are_rejected():
    X, _ = spread_data(n=200, dim=64)
    data = build(X)._core.to_bytes()
    rejected(with_fields(data, {"sign_codes": 3}), r"sign_codes 3 outside \[0, 2\]")
    rejected(with_fields(data, {"sign_codes": 2}), "sign_codes still 'auto'")
    rejected(with_fields(data, {"sign_codes": 0}), "sign-code centre")  # off, but a centre


def _as_version_3(data: bytes) -> bytes:
    """A file of format version 3 (before sign codes) with the same content as `data`."""
    fields = {f.name: f for f in layout(data).fields}
    body = bytearray(data[:-8])
    centre = fields["sign_centre.count"]
    assert struct.unpack_from("<Q", body, centre.offset)[0] == 0
    del body[centre.offset:centre.offset + 8]
    option = fields["sign_codes"]
    del body[option.offset:option.offset + 4]
    struct.pack_into("<I", body, fields["version"].offset, 3)
    return seal(bytes(body))


def test_files_of_version_3_load_without_sign_codes():
    X, Q = spread_data(n=300, dim=16)
    index = build(X, "off")
    old = _unpickled(_as_version_3(index._core.to_bytes()))
    assert old.sign_codes == "off"
    a, b = index.search(Q, 0, 10, budget=10**9), old.search(Q, 0, 10, budget=10**9)
    np.testing.assert_array_equal(a[1], b[1])
    data = bytearray(index._core.to_bytes()[:-8])
    struct.pack_into("<I", data, 8, 2)
    rejected(seal(bytes(data)), r"unsupported index format version 2 \(this version reads 3 to 4\)")
