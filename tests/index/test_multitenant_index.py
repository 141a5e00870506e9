"""MultiTenantIndex: exactness against a brute-force NumPy oracle, isolation between tenants,
persistence, bad input, concurrency and determinism."""

from __future__ import annotations

import heapq
import pickle
import threading

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from vecclust import MultiTenantIndex, _core

UNLIMITED = 10**9


# --------------------------------------------------------------------------------------------
# Oracle
# --------------------------------------------------------------------------------------------

class Model:
    """What the index should hold: vectors, owners and access sets, in plain Python."""

    def __init__(self, metric="l2"):
        self.metric = metric
        self.vectors: dict[int, np.ndarray] = {}
        self.owner: dict[int, int] = {}
        self.access: dict[int, set[int]] = {}

    def add(self, X, ids, tenant):
        for row, i in zip(X, ids):
            self.vectors[int(i)] = np.asarray(row, dtype=np.float32)
            self.owner[int(i)] = tenant
            self.access[int(i)] = {tenant}

    def remove(self, ids):
        for i in ids:
            self.vectors.pop(int(i), None)
            self.owner.pop(int(i), None)
            self.access.pop(int(i), None)

    def remove_tenant(self, tenant):
        deleted = 0
        for i in list(self.access):
            if tenant not in self.access[i]:
                continue
            self.access[i].discard(tenant)
            if not self.access[i]:
                self.remove([i])
                deleted += 1
            elif self.owner[i] == tenant:
                self.owner[i] = min(self.access[i])
        return deleted

    def visible(self, tenant) -> list[int]:
        return sorted(i for i, tenants in self.access.items() if tenant in tenants)

    def tenant_sizes(self) -> dict[int, int]:
        sizes: dict[int, int] = {}
        for tenants in self.access.values():
            for t in tenants:
                sizes[t] = sizes.get(t, 0) + 1
        return sizes


def exact_distances(metric, rows, q):
    """float64 distances in the index's convention (smaller is better)."""
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, q.shape[0])
    q = np.asarray(q, dtype=np.float64)
    if metric == "l2":
        return ((rows - q) ** 2).sum(axis=1)
    if metric == "ip":
        return -(rows @ q)
    rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return 1.0 - rows @ (q / np.linalg.norm(q))


def assert_exact(model, tenant, q, k, distances, ids):
    """The result is a correct top-k of the tenant's vectors: only visible ids, no repeats, the
    true k smallest distances (up to float32 rounding), padded with -1 / inf."""
    visible = model.visible(tenant)
    n_found = min(k, len(visible))
    assert np.all(ids[n_found:] == -1) and np.all(np.isinf(distances[n_found:]))
    found = ids[:n_found]
    assert np.all(found >= 0) or n_found == 0
    assert len(set(found.tolist())) == n_found
    assert set(found.tolist()) <= set(visible)
    if n_found == 0:
        return
    assert np.all(np.diff(distances[:n_found]) >= 0)
    truth = exact_distances(model.metric, np.array([model.vectors[i] for i in visible]), q)
    best = np.sort(truth)[:n_found]
    got = exact_distances(model.metric, np.array([model.vectors[int(i)] for i in found]), q)
    scale = 1.0 + np.abs(best).max()
    np.testing.assert_allclose(np.sort(got), best, rtol=1e-4, atol=1e-4 * scale)
    np.testing.assert_allclose(distances[:n_found], got, rtol=1e-4, atol=1e-4 * scale)


def clustered(n, dim, n_centers, seed, spread=1.0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=10.0, size=(n_centers, dim))
    return (centers[rng.integers(0, n_centers, n)] + rng.normal(scale=spread, size=(n, dim))).astype(np.float32)


def build(metric="l2", n=3000, dim=8, n_tenants=6, seed=0, share=0.05, **options):
    """An index and its model: vectors owned by random tenants, each shared with others at
    random; tenant n_tenants - 1 owns only one vector and tenant n_tenants only three."""
    rng = np.random.default_rng(seed)
    X = clustered(n, dim, 15, seed)
    params = dict(branching_factor=6, split_threshold=24, random_state=seed, n_threads=1)
    params.update(options)
    index = MultiTenantIndex(dim, metric=metric, **params)
    index.train(X)
    model = Model(metric)
    ids = rng.permutation(10 * n)[:n].astype(np.int64)
    owners = rng.integers(0, n_tenants - 1, n)
    owners[0], owners[1:4] = n_tenants - 1, n_tenants
    for t in np.unique(owners):
        mask = owners == t
        index.add(X[mask], ids[mask], int(t))
        model.add(X[mask], ids[mask], int(t))
    for t in range(n_tenants - 1):
        shared = ids[(rng.random(n) < share) & (owners < n_tenants - 1)]
        index.grant(shared, t)
        for i in shared:
            model.access[int(i)].add(t)
    return index, model, X


# --------------------------------------------------------------------------------------------
# Exactness
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_unlimited_budget_equals_brute_force(metric):
    index, model, X = build(metric)
    index._check_invariants()
    rng = np.random.default_rng(1)
    Q = X[rng.integers(0, len(X), 12)] + rng.normal(size=(12, X.shape[1])).astype(np.float32)
    for tenant in [*range(7), 99]:  # 5: one vector, 6: three vectors, 99: none
        D, I = index.search(Q, tenant, k=10, budget=UNLIMITED)
        assert D.shape == I.shape == (12, 10) and D.dtype == np.float32 and I.dtype == np.int64
        for q, d, i in zip(Q, D, I):
            assert_exact(model, tenant, q, 10, d, i)


def test_budget_equal_to_tenant_size_is_exact():
    index, model, X = build()
    rng = np.random.default_rng(2)
    Q = X[rng.integers(0, len(X), 8)] + 0.5
    for tenant in range(4):
        D, I = index.search(Q, tenant, k=7, budget=index.tenant_size(tenant))
        for q, d, i in zip(Q, D, I):
            assert_exact(model, tenant, q, 7, d, i)


def test_one_tenant_per_query_and_single_query():
    index, model, X = build()
    tenants = np.array([0, 1, 2, 3, 99, 5])
    Q = X[:6] + 0.25
    D, I = index.search(Q, tenants, k=4, budget=UNLIMITED)
    for q, t, d, i in zip(Q, tenants, D, I):
        assert_exact(model, int(t), q, 4, d, i)
    d1, i1 = index.search(Q[2], 2, k=4, budget=UNLIMITED)
    assert d1.shape == (1, 4)
    np.testing.assert_array_equal(i1[0], I[2])


def test_k_larger_than_everything_pads():
    index, model, X = build(n=400)
    D, I = index.search(X[:2], 5, k=3)
    assert (I[:, 1:] == -1).all() and np.isinf(D[:, 1:]).all() and (I[:, 0] >= 0).all()
    D, I = index.search(X[:2], 0, k=5000, budget=UNLIMITED)
    n = index.tenant_size(0)
    assert (I[:, :n] >= 0).all() and (I[:, n:] == -1).all()


def test_default_budget_recall_on_clustered_data():
    """Recall@10 of the default budget on clustered data, over tenants of every size."""
    rng = np.random.default_rng(3)
    n, dim = 40_000, 32
    X = clustered(n, dim, 200, seed=3, spread=3.0)
    index = MultiTenantIndex(dim, random_state=0)
    index.train(X)
    ids = np.arange(n, dtype=np.int64)
    owners = np.minimum(rng.zipf(1.3, n) - 1, 49)  # Zipf-sized tenants, 0 the largest
    for t in np.unique(owners):
        index.add(X[owners == t], ids[owners == t], int(t))
    granted = rng.random(n) < 0.3
    index.grant(ids[granted], 0)
    Q = X[rng.integers(0, n, 200)] + rng.normal(scale=1.0, size=(200, dim)).astype(np.float32)
    for tenant in [0, 1, 2, 5, 20]:  # about 19000, 4200, 2400, 950 and 200 vectors
        visible = ids[(owners == tenant) | (granted & (tenant == 0))]
        assert index.tenant_size(tenant) == len(visible)
        _, I = index.search(Q, tenant, k=10)
        recalls = []
        for q, found in zip(Q, I):
            truth = visible[np.argsort(((X[visible] - q) ** 2).sum(axis=1), kind="stable")[:10]]
            recalls.append(len(set(found.tolist()) & set(truth.tolist())) / len(truth))
        assert np.mean(recalls) >= 0.95, (tenant, np.mean(recalls))


# --------------------------------------------------------------------------------------------
# Two-pass scans: a first pass reads the high 16 bits of each float and bounds the rest; the
# results must be exactly those of the full float32 kernel
# --------------------------------------------------------------------------------------------

def kernel_distances(metric, rows, q):
    """The index's float32 distance kernel, emulated: 16 lanes over the zero-padded row (a
    multiple of 8), each a sequential float32 sum, then a pairwise reduction 8, 4, 2, 1."""
    rows = np.asarray(rows, dtype=np.float32)
    n, dim = rows.shape
    stride = (dim + 7) // 8 * 8
    x = np.zeros((n, stride), np.float32)
    x[:, :dim] = rows
    qp = np.zeros(stride, np.float32)
    qp[:dim] = q

    def term(block, qb):
        if metric == "l2":
            diff = qb - block
            return diff * diff
        return qb * block

    acc = np.zeros((n, 16), np.float32)
    j = 0
    while j + 16 <= stride:
        acc = acc + term(x[:, j:j + 16], qp[j:j + 16])
        j += 16
    if j < stride:
        acc[:, :8] = acc[:, :8] + term(x[:, j:j + 8], qp[j:j + 8])
    width = 8
    while width:
        acc[:, :width] = acc[:, :width] + acc[:, width:2 * width]
        width //= 2
    return acc[:, 0] if metric == "l2" else -acc[:, 0]


def high_half_twins(rng, n, dim, n_bases=6):
    """Vectors that share their high 16 bits in groups (they differ only in the low mantissa
    bits), of mixed magnitudes, with some exact duplicates, zeros and subnormals."""
    bases = rng.normal(size=(n_bases, dim)) * 10.0 ** rng.integers(-3, 4, size=(n_bases, 1))
    bits = bases.astype(np.float32)[rng.integers(0, n_bases, n)].view(np.uint32)
    bits = (bits & np.uint32(0xFFFF0000)) | rng.integers(0, 1 << 16, size=bits.shape).astype(np.uint32)
    X = bits.view(np.float32).copy()
    X[1] = X[0]  # an exact tie
    X[2, 0] = 0.0
    X[3, 0] = np.float32(1e-41)  # subnormal
    return X


@pytest.mark.parametrize("metric", ["l2", "ip"])
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), dim=st.sampled_from([1, 3, 8, 13, 16, 24, 40]))
@example(seed=1333847, dim=1)  # a subnormal query: sums whose rounding errors are absolute, not relative
def test_two_pass_scan_is_bit_exact(metric, seed, dim):
    rng = np.random.default_rng(seed)
    n = 240
    X = high_half_twins(rng, n, dim)
    index = MultiTenantIndex(dim, metric=metric, branching_factor=4, split_threshold=16, random_state=seed,
                             n_threads=1)
    index.train(X)
    owner = rng.integers(0, 3, n)
    for t in range(3):
        index.add(X[owner == t], np.flatnonzero(owner == t), t)
    index.grant(np.flatnonzero(rng.random(n) < 0.3), 1)
    # queries on, next to, and far from the twins
    Q = np.concatenate([X[rng.integers(0, n, 4)], X[rng.integers(0, n, 3)] * np.float32(1.0001),
                        rng.normal(size=(2, dim)).astype(np.float32)])
    for t in range(3):
        visible = np.array(sorted(index_visible(X, owner, index, t)), dtype=np.int64)
        k = 7
        D, I = index.search(Q, t, k=k, budget=UNLIMITED)
        for q, d, i in zip(Q, D, I):
            dist = kernel_distances(metric, X[visible], q)
            order = np.lexsort((visible, dist))[:k]  # by distance, ties by id
            np.testing.assert_array_equal(i, visible[order])
            np.testing.assert_array_equal(d, dist[order])


def low_rank_clusters(rng, n, dim):
    """Clustered vectors near a random subspace of 2 to 40 dimensions (so the codes' projection
    on the main directions prunes almost everything), with exact duplicates, vectors sticking
    far out of the subspace, a few at other scales, and a zero vector."""
    rank = int(rng.integers(2, 41))
    basis = rng.normal(size=(rank, dim)) / np.sqrt(rank)
    centres = rng.normal(size=(8, rank)) * 3.0
    latent = centres[rng.integers(0, 8, n)] + rng.normal(size=(n, rank))
    X = (latent @ basis + 0.05 * rng.normal(size=(n, dim))).astype(np.float32)
    X[1] = X[0]
    X[5:9] += rng.normal(size=(4, dim)).astype(np.float32) * 4.0
    X[9:12] *= np.float32(10.0 ** rng.integers(-6, 5))
    X[12] = 0.0
    return X


def normalised(rows):
    """Rows scaled as the cosine index does: a float32 scale from the double norm."""
    norms = np.sqrt((rows.astype(np.float64) ** 2).sum(axis=1))
    return rows * (1.0 / norms).astype(np.float32)[:, None]


def assert_exact_top_k(index, metric, X, owner, Q, k):
    """At an unlimited budget, each tenant's results are the k visible vectors with the least
    distances as the scan's kernel computes them, ties by id, bit for bit."""
    model_X, model_Q = (normalised(X), normalised(Q)) if metric == "cosine" else (X, Q)
    for t in np.unique(owner):
        visible = np.flatnonzero(owner == t)
        D, I = index.search(Q, int(t), k=k, budget=UNLIMITED)
        for q, d, i in zip(model_Q, D, I):
            dist = kernel_distances("ip" if metric == "cosine" else metric, model_X[visible], q)
            if metric == "cosine":
                dist = np.float32(1.0) - (-dist)
            order = np.lexsort((visible, dist))[:k]
            np.testing.assert_array_equal(i, visible[order])
            np.testing.assert_array_equal(d, dist[order])


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), dim=st.sampled_from([33, 48, 64, 100]))
def test_projected_codes_prune_exactly(metric, seed, dim):
    """Above 32 dimensions the codes hold a projection, and the bounds on the part outside it
    do most of the pruning: the top k must still be exact, ties by id included."""
    rng = np.random.default_rng(seed)
    n = 300
    X = low_rank_clusters(rng, n, dim)
    if metric == "cosine":
        X[12] = 1.0
    index = MultiTenantIndex(dim, metric=metric, branching_factor=4, split_threshold=16, random_state=seed, n_threads=1)
    index.train(X[rng.permutation(n)[:200]])
    owner = rng.integers(0, 2, n)
    for t in range(2):
        index.add(X[owner == t], np.flatnonzero(owner == t), t)
    index._check_invariants()
    Q = np.concatenate([X[rng.integers(0, n, 5)], X[rng.integers(0, n, 3)] * np.float32(1.001),
                        X[rng.integers(0, n, 2)] + rng.normal(size=(2, dim)).astype(np.float32)])
    assert_exact_top_k(index, metric, X, owner, Q, k=6)


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_vectors_outside_the_training_range_are_exact(metric):
    """Codes clip values beyond the grids fitted by train(): far, tiny and mixed-scale vectors
    and queries must still give the exact top k."""
    rng = np.random.default_rng(5)
    dim, n = 24, 400
    train = rng.normal(size=(200, dim)).astype(np.float32)
    X = rng.normal(size=(n, dim)).astype(np.float32)
    X[:100] *= np.float32(1e4)
    X[100:150] *= np.float32(1e-6)
    X[150:200, ::3] += np.float32(1e3)
    index = MultiTenantIndex(dim, metric=metric, branching_factor=4, split_threshold=16, random_state=0, n_threads=1)
    index.train(train)
    owner = rng.integers(0, 2, n)
    for t in range(2):
        index.add(X[owner == t], np.flatnonzero(owner == t), t)
    index._check_invariants()
    Q = np.concatenate([X[rng.integers(0, n, 6)], rng.normal(size=(3, dim)).astype(np.float32) * 1e3,
                        rng.normal(size=(3, dim)).astype(np.float32)])
    assert_exact_top_k(index, metric, X, owner, Q, k=9)


def index_visible(X, owner, index, t):
    return [i for i in range(len(X)) if t in index._access(i)[0].tolist()]


def test_stored_vectors_keep_every_bit():
    """The vectors are stored split into 16-bit halves; saving writes back the exact floats."""
    rng = np.random.default_rng(11)
    X = high_half_twins(rng, 300, 5)
    X[4] = -0.0
    index = MultiTenantIndex(5, branching_factor=4, split_threshold=16, random_state=0, n_threads=1)
    index.train(X)
    index.add(X, np.arange(300), 0)
    index.remove(np.arange(0, 300, 7))
    again = X[2:5] * np.float32(2)
    index.add(again, [1000, 1001, 1002], 1)  # reuses freed slots
    blob = index._core.to_bytes()
    for row in np.concatenate([X[np.arange(300) % 7 != 0], again]):
        assert row.tobytes() in blob
    D, I = index.search(again, 1, k=3, budget=UNLIMITED)
    assert (D[:, 0] == 0).all() and I[:, 0].tolist() == [1000, 1001, 1002]


def test_tree_description_parents():
    index, model, X = build(n=600)
    parents, centers = [index._core.tree_description()[key] for key in ("parents", "centers")]
    assert parents[0] == -1 and (parents[1:] >= 0).all() and (parents[1:] < np.arange(1, len(parents))).all()
    assert centers.shape == (len(parents), X.shape[1])


def emulated_search(index, model, q, tenant, k, budget, metric):
    """The search, emulated from the tree and the tenant's shortlists: best-first over the
    nodes with shortlists of the tenant at or below them (by centroid distance, then node id),
    whole shortlists taken until `budget` vectors; the exact top k of those, ties by id."""
    parents, centers = [index._core.tree_description()[key] for key in ("parents", "centers")]
    lists = dict(index._shortlists(tenant))
    useful = set()
    for node in lists:
        while node >= 0 and node not in useful:
            useful.add(node)
            node = int(parents[node])
    frontier = [(0.0, 0)] if lists else []
    candidates = []
    while frontier and len(candidates) < budget:
        _, node = heapq.heappop(frontier)
        if node in lists:
            candidates += lists[node].tolist()
            continue
        children = [c for c in np.flatnonzero(parents == node).tolist() if c in useful]
        for c, priority in zip(children, kernel_distances(metric, centers[children], q)):
            heapq.heappush(frontier, (float(priority), c))
    if not candidates:
        return [], []
    distances = kernel_distances(metric, np.stack([model.vectors[i] for i in candidates]), q)
    best = sorted(zip(distances.tolist(), candidates))[:k]
    return [d for d, _ in best], [i for _, i in best]


@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_budgeted_search_scans_the_tenants_nodes_best_first(metric):
    """A tenant's shortlists are kept in preorder of their nodes, and a search with a budget
    returns exactly the top k of the shortlists a best-first walk over its part of the tree
    takes, after grants, revokes and removals have split and merged shortlists."""
    index, model, X = build(metric=metric, n=2500, dim=12, split_threshold=12, branching_factor=4)
    rng = np.random.default_rng(1)
    some = rng.choice(sorted(model.vectors), 300, replace=False)
    index.revoke(some[:150][[model.owner[int(i)] != 0 for i in some[:150]]], 0)
    index.grant(some[150:], 1)
    index.remove(some[:40])  # the model keeps every vector: it only looks them up
    parents, _ = [index._core.tree_description()[key] for key in ("parents", "centers")]
    preorder, stack = {}, [0]
    while stack:
        node = stack.pop()
        preorder[node] = len(preorder)
        stack += np.flatnonzero(parents == node).tolist()[::-1]
    Q = X[rng.choice(len(X), 8)] + np.float32(0.05)
    for tenant in index.tenants().tolist():
        nodes = [node for node, _ in index._shortlists(tenant)]
        assert [preorder[n] for n in nodes] == sorted(preorder[n] for n in nodes)
        for q in Q:
            for budget in (1, 20, 100):
                D, I = index.search(q, tenant, k=5, budget=budget)
                distances, ids = emulated_search(index, model, q, tenant, 5, budget, metric)
                assert I[0][:len(ids)].tolist() == ids and (I[0][len(ids):] == -1).all()
                assert D[0][:len(ids)].tolist() == distances
    index._check_invariants()


# --------------------------------------------------------------------------------------------
# Isolation
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("budget", [1, 7, 50, None])
def test_results_never_leak_across_tenants(budget):
    index, model, X = build(n=2000, n_tenants=8, share=0.02, seed=5)
    rng = np.random.default_rng(6)
    Q = X[rng.integers(0, len(X), 40)] + rng.normal(size=(40, X.shape[1])).astype(np.float32)
    for tenant in range(10):
        visible = set(model.visible(tenant))
        _, I = index.search(Q, tenant, k=10, budget=budget)
        found = I[I >= 0]
        assert set(found.tolist()) <= visible
        if visible:
            assert (I[:, 0] >= 0).all()  # some candidate is always scanned


# --------------------------------------------------------------------------------------------
# Mutations: semantics and all-or-nothing validation
# --------------------------------------------------------------------------------------------

def test_grant_revoke_are_idempotent_and_owner_keeps_access():
    index, model, X = build(n=500)
    some = np.array(sorted(model.owner)[:20], dtype=np.int64)
    before = {t: index.tenant_size(t) for t in range(7)}
    index.grant(some, 42)
    index.grant(np.concatenate([some, some]), 42)
    assert index.tenant_size(42) == 20
    index.revoke(some[:5], 42)
    index.revoke(some[:5], 42)
    index.revoke(some[:5], 1234)  # a tenant that sees nothing
    assert index.tenant_size(42) == 15
    owner = model.owner[int(some[0])]
    with pytest.raises(ValueError, match="owner"):
        index.revoke(some[5:7].tolist() + [int(some[0])], owner)
    assert index.tenant_size(42) == 15 and {t: index.tenant_size(t) for t in range(7)} == before
    index._check_invariants()


def test_remove_tenant_deletes_private_vectors_and_hands_over_shared_ones():
    index, model, X = build(n=800)
    shared = [i for i in model.owner if model.owner[i] == 2 and len(model.access[i]) > 1]
    assert shared
    expected_deleted = sum(1 for i in model.access if model.access[i] == {2})
    assert index.remove_tenant(2) == expected_deleted
    assert model.remove_tenant(2) == expected_deleted
    assert index.tenant_size(2) == 0 and 2 not in index.tenants().tolist()
    assert len(index) == len(model.vectors)
    for i in shared:
        tenants, owner = index._access(i)
        assert owner == model.owner[i] == min(tenants.tolist())
    assert index.remove_tenant(2) == 0
    index._check_invariants()
    D, I = index.search(X[:3], 2, k=5)
    assert (I == -1).all()


def test_failing_calls_change_nothing():
    index, model, X = build(n=300)
    existing = sorted(model.owner)
    state = (len(index), index.tenants().tolist(), [index.tenant_size(t) for t in range(8)])

    def unchanged():
        assert (len(index), index.tenants().tolist(), [index.tenant_size(t) for t in range(8)]) == state
        index._check_invariants()

    new = np.array([10**9, 10**9 + 1], dtype=np.int64)
    with pytest.raises(ValueError, match="already"):
        index.add(X[:3], np.array([*new, existing[0]]), 0)
    unchanged()
    assert 10**9 not in {int(i) for i in index.search(X[:1], 0, k=500, budget=UNLIMITED)[1][0]}
    with pytest.raises(ValueError, match="duplicate"):
        index.add(X[:3], np.array([10**9, 10**9 + 1, 10**9]), 0)
    unchanged()
    bad = X[:3].copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        index.add(bad, new.tolist() + [10**9 + 2], 0)
    unchanged()
    for call in (lambda: index.grant([existing[0], -77], 3), lambda: index.revoke([existing[0], -77], 3),
                 lambda: index.remove([existing[0], -77])):
        with pytest.raises(KeyError, match="-77"):
            call()
        unchanged()


def test_remove_with_repeated_ids_and_reuse_of_ids():
    index, model, X = build(n=300)
    victims = sorted(model.owner)[:10]
    index.remove(victims + victims[:3])
    model.remove(victims)
    assert len(index) == len(model.vectors)
    index.add(X[:10], victims, 3)  # ids can be used again after removal
    model.add(X[:10], victims, 3)
    index._check_invariants()
    for tenant in (0, 3):
        D, I = index.search(X[:4], tenant, k=6, budget=UNLIMITED)
        for q, d, i in zip(X[:4], D, I):
            assert_exact(model, tenant, q, 6, d, i)


# --------------------------------------------------------------------------------------------
# The state machine: any mix of operations keeps the index equal to the model
# --------------------------------------------------------------------------------------------

DIM = 3
POOL = np.random.default_rng(11).normal(scale=4.0, size=(60, DIM)).astype(np.float32)
POOL[5] = POOL[4]  # identical vectors: ties
TENANTS = st.sampled_from([0, 1, 2, 3, -(2**40)])
IDS = st.integers(0, 45)


class IndexMachine(RuleBasedStateMachine):
    """Random add / grant / revoke / remove / remove_tenant against the Python model, on a
    small, deep tree (branching 3, split threshold 2) so splits and merges happen often."""

    @initialize(metric=st.sampled_from(["l2", "ip", "cosine"]), split=st.sampled_from([1, 2, 4]))
    def setup(self, metric, split):
        self.index = MultiTenantIndex(DIM, metric=metric, branching_factor=3, split_threshold=split, random_state=0,
                                      n_threads=1)
        self.index.train(POOL)
        self.model = Model(metric)

    @rule(rows=st.lists(st.integers(0, len(POOL) - 1), min_size=1, max_size=6), ids=st.lists(IDS, min_size=1, max_size=6),
          tenant=TENANTS)
    def add(self, rows, ids, tenant):
        ids = ids[: len(rows)]
        rows = rows[: len(ids)]
        if len(set(ids)) < len(ids) or any(i in self.model.vectors for i in ids):
            with pytest.raises(ValueError):
                self.index.add(POOL[rows], ids, tenant)
            return
        self.index.add(POOL[rows], ids, tenant)
        self.model.add(POOL[rows], ids, tenant)

    @rule(ids=st.lists(IDS, max_size=5), tenant=TENANTS)
    def grant(self, ids, tenant):
        if any(i not in self.model.vectors for i in ids):
            with pytest.raises(KeyError):
                self.index.grant(ids, tenant)
            return
        self.index.grant(ids, tenant)
        for i in ids:
            self.model.access[i].add(tenant)

    @rule(ids=st.lists(IDS, max_size=5), tenant=TENANTS)
    def revoke(self, ids, tenant):
        if any(i not in self.model.vectors for i in ids):
            with pytest.raises(KeyError):
                self.index.revoke(ids, tenant)
            return
        if any(self.model.owner[i] == tenant for i in ids):
            with pytest.raises(ValueError):
                self.index.revoke(ids, tenant)
            return
        self.index.revoke(ids, tenant)
        for i in ids:
            self.model.access[i].discard(tenant)

    @precondition(lambda self: self.model.vectors)
    @rule(data=st.data())
    def grant_existing(self, data):
        ids = data.draw(st.lists(st.sampled_from(sorted(self.model.vectors)), max_size=8))
        tenant = data.draw(TENANTS)
        self.index.grant(ids, tenant)
        for i in ids:
            self.model.access[i].add(tenant)

    @rule(ids=st.lists(IDS, max_size=4))
    def remove(self, ids):
        if any(i not in self.model.vectors for i in ids):
            with pytest.raises(KeyError):
                self.index.remove(ids)
            return
        self.index.remove(ids)
        self.model.remove(ids)

    @rule(tenant=TENANTS)
    def remove_tenant(self, tenant):
        assert self.index.remove_tenant(tenant) == self.model.remove_tenant(tenant)

    @rule(row=st.integers(0, len(POOL) - 1), tenant=TENANTS, k=st.integers(1, 8), budget=st.sampled_from([1, 3, UNLIMITED]))
    def search(self, row, tenant, k, budget):
        q = POOL[row] + np.float32(0.3)
        D, I = self.index.search(q, tenant, k=k, budget=budget)
        if budget == UNLIMITED:
            assert_exact(self.model, tenant, q, k, D[0], I[0])
        else:
            assert set(I[0][I[0] >= 0].tolist()) <= set(self.model.visible(tenant))

    @invariant()
    def matches_model(self):
        self.index._check_invariants()
        assert len(self.index) == len(self.model.vectors)
        sizes = self.model.tenant_sizes()
        assert self.index.tenants().tolist() == sorted(sizes)
        for t in (0, 1, 2, 3, -(2**40)):
            assert self.index.tenant_size(t) == sizes.get(t, 0)
        for i in self.model.vectors:
            tenants, owner = self.index._access(i)
            assert tenants.tolist() == sorted(self.model.access[i]) and owner == self.model.owner[i]


TestIndexMachine = IndexMachine.TestCase
TestIndexMachine.settings = settings(max_examples=40, stateful_step_count=40, deadline=None)


def test_many_grants_and_revokes_split_and_merge():
    """Grant and revoke one tenant's access to the same vectors repeatedly: shortlists split
    down the tree and merge back, and the index stays exact."""
    index, model, X = build(n=1500, split_threshold=8)
    ids = np.array(sorted(model.owner), dtype=np.int64)
    rng = np.random.default_rng(9)
    for round_ in range(6):
        chosen = ids[rng.random(len(ids)) < 0.4]
        chosen = chosen[[model.owner[int(i)] != 7 for i in chosen]]
        index.grant(chosen, 7)
        for i in chosen:
            model.access[int(i)].add(7)
        index._check_invariants()
        dropped = chosen[rng.random(len(chosen)) < 0.9]
        index.revoke(dropped, 7)
        for i in dropped:
            model.access[int(i)].discard(7)
        index._check_invariants()
        for q in X[rng.integers(0, len(X), 3)]:
            D, I = index.search(q, 7, k=5, budget=UNLIMITED)
            assert_exact(model, 7, q, 5, D[0], I[0])


# --------------------------------------------------------------------------------------------
# Persistence
# --------------------------------------------------------------------------------------------

def small_index():
    index, model, X = build(n=60, dim=3, n_tenants=3, branching_factor=3, split_threshold=4)
    index.remove(sorted(model.owner)[:3])
    return index, X


def test_save_load_round_trip(tmp_path):
    index, model, X = build(n=1500)
    index.remove(sorted(model.owner)[:50])
    path = tmp_path / "index.vci"
    index.save(path)
    loaded = MultiTenantIndex.load(path)
    loaded._check_invariants()
    assert len(loaded) == len(index) and loaded.tenants().tolist() == index.tenants().tolist()
    assert (loaded.dim, loaded.metric, loaded.branching_factor, loaded.split_threshold, loaded.bloom_fpr) == (
        index.dim, index.metric, index.branching_factor, index.split_threshold, index.bloom_fpr)
    Q = X[:30] + 0.5
    tenants = np.arange(30) % 8
    for budget in (5, 40, None, UNLIMITED):
        a, b = index.search(Q, tenants, k=10, budget=budget), loaded.search(Q, tenants, k=10, budget=budget)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    # the loaded index keeps working, and saving again gives the same bytes
    assert loaded._core.to_bytes() == index._core.to_bytes()
    loaded.add(X[:2], [10**12, 10**12 + 1], 0)
    loaded._check_invariants()
    assert not list(tmp_path.glob("*.tmp-*"))  # no temporary files left behind


def test_pickle_round_trip():
    index, X = small_index()
    clone = pickle.loads(pickle.dumps(index))
    clone._check_invariants()
    for t in range(4):
        np.testing.assert_array_equal(clone.search(X, t, k=5)[1], index.search(X, t, k=5)[1])


def from_bytes(data: bytes) -> MultiTenantIndex:
    index = MultiTenantIndex.__new__(MultiTenantIndex)
    index.__setstate__({"index": data, "n_threads": 1})
    return index


def test_truncated_files_are_rejected(tmp_path):
    index, _ = small_index()
    data = index._core.to_bytes()
    assert len(data) < 20_000
    for cut in range(len(data)):  # every cut through the in-memory reader ...
        with pytest.raises(ValueError, match="truncated|not a vecclust index"):
            from_bytes(data[:cut])
    path = tmp_path / "cut.vci"
    for cut in range(0, len(data), 61):  # ... and a sample through files
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="truncated|not a vecclust index"):
            MultiTenantIndex.load(path)
    path.write_bytes(data + b"\0")
    with pytest.raises(ValueError, match="trailing"):
        MultiTenantIndex.load(path)


def test_bit_flips_are_rejected():
    index, _ = small_index()
    data = index._core.to_bytes()
    rng = np.random.default_rng(0)
    for position in range(len(data)):
        corrupt = bytearray(data)
        corrupt[position] ^= 1 << int(rng.integers(0, 8))
        with pytest.raises(ValueError):
            from_bytes(bytes(corrupt))


def test_not_an_index_and_missing_files(tmp_path):
    path = tmp_path / "other.bin"
    path.write_bytes(b"hello, this is not an index at all" * 10)
    with pytest.raises(ValueError, match="not a vecclust index"):
        MultiTenantIndex.load(path)
    with pytest.raises(OSError):
        MultiTenantIndex.load(tmp_path / "missing.vci")
    with pytest.raises(IsADirectoryError):
        MultiTenantIndex.load(tmp_path)
    index, _ = small_index()
    with pytest.raises(OSError):
        index.save(tmp_path / "no-such-dir" / "index.vci")


def test_untrained_index_round_trips(tmp_path):
    index = MultiTenantIndex(5, metric="cosine", random_state=1)
    index.save(tmp_path / "empty.vci")
    loaded = MultiTenantIndex.load(tmp_path / "empty.vci")
    assert not loaded.is_trained and len(loaded) == 0 and loaded.metric == "cosine"


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------

def test_bad_constructor_arguments():
    for kwargs, error in [(dict(dim=0), ValueError), (dict(dim=2.5), TypeError), (dict(dim=3, metric="l1"), ValueError),
                          (dict(dim=3, branching_factor=1), ValueError), (dict(dim=3, split_threshold=0), ValueError),
                          (dict(dim=3, bloom_fpr=0.0), ValueError), (dict(dim=3, bloom_fpr=1.5), ValueError),
                          (dict(dim=3, n_threads=0), ValueError)]:
        dim = kwargs.pop("dim")
        with pytest.raises(error):
            MultiTenantIndex(dim, **kwargs)


def test_use_before_train():
    index = MultiTenantIndex(4)
    with pytest.raises(ValueError, match="before train"):
        index.add(np.zeros((1, 4)), [1], 0)
    with pytest.raises(ValueError, match="before train"):
        index.search(np.zeros(4), 0)
    assert len(index) == 0 and index.tenant_size(0) == 0


def test_bad_vectors_queries_and_arguments():
    index, model, X = build(n=300)
    some = sorted(model.owner)[0]
    with pytest.raises(ValueError, match="columns"):
        index.add(np.zeros((2, 5)), [10**9, 10**9 + 1], 0)
    with pytest.raises(ValueError, match="columns"):
        index.search(np.zeros((2, 5)), 0)
    with pytest.raises(ValueError, match="columns"):
        index.train(np.zeros((10, 9)))
    with pytest.raises(ValueError, match="only be called on an empty"):
        index.train(X)
    for bad in (np.nan, np.inf, -np.inf):
        Q = X[:3].copy()
        Q[1, 0] = bad
        with pytest.raises(ValueError, match="NaN or infinity"):
            index.search(Q, 0)
    with pytest.raises(ValueError, match="k=0"):
        index.search(X[:1], 0, k=0)
    with pytest.raises(ValueError, match="budget"):
        index.search(X[:1], 0, budget=0)
    with pytest.raises(TypeError):
        index.search(X[:1], 0, k=2.0)
    with pytest.raises(TypeError):
        index.search(X[:1], "tenant")
    with pytest.raises(TypeError):
        index.search(np.array([["a"] * 8]), 0)
    with pytest.raises(ValueError, match="tenants"):
        index.search(X[:3], [0, 1])
    with pytest.raises(ValueError, match="ids"):
        index.add(X[:3], [10**9], 0)
    with pytest.raises(TypeError):
        index.grant([1.5], 0)
    with pytest.raises(TypeError):
        index.grant([some], 1.0)
    with pytest.raises(KeyError):
        index.grant([-5], 0)
    with pytest.raises(ValueError):
        index.add(X[:1], [2**63], 0)
    with pytest.raises(ValueError, match=">= 0"):
        index.add(X[:1], [-1], 0)
    assert len(index) == 300
    index._check_invariants()


def test_cosine_rejects_zero_vectors():
    index = MultiTenantIndex(3, metric="cosine", random_state=0)
    index.train(np.random.default_rng(0).normal(size=(50, 3)))
    with pytest.raises(ValueError, match="zeros"):
        index.add(np.zeros((1, 3)), [1], 0)
    with pytest.raises(ValueError, match="zeros"):
        index.search(np.zeros(3), 0)


def test_inputs_of_other_dtypes_and_layouts():
    index, model, X = build(n=300)
    Q = np.asfortranarray(X[:5].astype(np.float64) + 0.1)
    expected = index.search(np.ascontiguousarray(Q, dtype=np.float32), 1, k=4)
    got = index.search(Q, np.int32(1), k=np.int64(4))
    np.testing.assert_array_equal(expected[1], got[1])
    index.add(X[:2].tolist(), np.array([10**9, 10**9 + 1], dtype=np.uint32), 1)
    assert 10**9 in index.search(X[0], 1, k=2, budget=UNLIMITED)[1][0]


# --------------------------------------------------------------------------------------------
# Concurrency
# --------------------------------------------------------------------------------------------

def test_concurrent_searches_while_writing():
    """Three threads search while a fourth adds, removes, grants and revokes. Searches never
    see another tenant's vectors, nothing is lost, and the end state equals the model."""
    dim, span = 8, 1_000_000  # tenant t owns ids in [t * span, (t + 1) * span)
    X = clustered(6000, dim, 20, seed=4)
    index = MultiTenantIndex(dim, branching_factor=6, split_threshold=16, random_state=0, n_threads=2)
    index.train(X)
    model = Model()
    for t in range(3):
        ids = np.arange(t * span, t * span + 1000)
        index.add(X[t * 1000:(t + 1) * 1000], ids, t)
        model.add(X[t * 1000:(t + 1) * 1000], ids, t)
    shareable = set(range(2 * span, 2 * span + 1000))  # tenant 2's vectors may be granted to tenant 3
    errors: list[BaseException] = []
    done = threading.Event()

    def writer():
        try:
            rng = np.random.default_rng(1)
            next_id = [t * span + 1000 for t in range(3)]
            for step in range(120):
                t = step % 3
                batch = X[3000 + 20 * step: 3000 + 20 * (step + 1)]
                ids = np.arange(next_id[t], next_id[t] + len(batch))
                next_id[t] += len(batch)
                index.add(batch, ids, t)
                model.add(batch, ids, t)
                owned = [i for i in model.owner if model.owner[i] == t]
                gone = rng.choice(owned, size=10, replace=False)
                index.remove(gone)
                model.remove(gone)
                if t == 2:
                    candidates = sorted(set(model.vectors) & shareable)
                    chosen = rng.choice(candidates, size=min(30, len(candidates)), replace=False)
                    index.grant(chosen, 3)
                    for i in chosen:
                        model.access[int(i)].add(3)
                    revoked = chosen[: len(chosen) // 2]
                    index.revoke(revoked, 3)
                    for i in revoked:
                        model.access[int(i)].discard(3)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            done.set()

    def reader(seed):
        try:
            rng = np.random.default_rng(seed)
            while not done.is_set():
                t = int(rng.integers(0, 4))
                Q = X[rng.integers(0, len(X), 4)]
                _, I = index.search(Q, t, k=10, budget=int(rng.choice([5, 100, UNLIMITED])))
                found = I[I >= 0]
                if t < 3:
                    assert ((found >= t * span) & (found < (t + 1) * span)).all()
                else:
                    assert all(int(i) in shareable for i in found)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader, args=(s,)) for s in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors
    index._check_invariants()
    assert len(index) == len(model.vectors)
    assert {t: index.tenant_size(t) for t in range(4)} == {t: model.tenant_sizes().get(t, 0) for t in range(4)}
    for t in range(4):
        D, I = index.search(X[:5], t, k=10, budget=UNLIMITED)
        for q, d, i in zip(X[:5], D, I):
            assert_exact(model, t, q, 10, d, i)


def test_search_releases_the_gil():
    index, model, X = build(n=3000, n_threads=1)
    Q = np.repeat(X[:50], 40, axis=0)
    seen = []

    def search():
        index.search(Q, 0, k=10, budget=UNLIMITED)
        seen.append(1)

    thread = threading.Thread(target=search)
    thread.start()
    counter = 0
    while thread.is_alive():
        counter += 1  # this loop only runs if the search does not hold the GIL
    thread.join()
    assert seen and counter > 0


# --------------------------------------------------------------------------------------------
# Determinism and bookkeeping
# --------------------------------------------------------------------------------------------

def test_thread_count_does_not_change_results():
    a, _, X = build(n=4000, n_threads=1, seed=7)
    b, _, _ = build(n=4000, n_threads=2, seed=7)
    assert a._core.to_bytes() == b._core.to_bytes()
    Q = X[::20] + 0.3
    tenants = np.arange(len(Q)) % 7
    for budget in (10, None, UNLIMITED):
        ra = a.search(Q, tenants, k=10, budget=budget)
        rb = b.search(Q, tenants, k=10, budget=budget)
        np.testing.assert_array_equal(ra[0], rb[0])
        np.testing.assert_array_equal(ra[1], rb[1])


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_every_instruction_set_gives_the_same_index_and_results(instruction_sets, metric):
    # 70 dimensions: one full 64-dimension code group and a short one.
    def run(level):
        _core.set_isa_limit(level)
        index, _, X = build(metric, n=2000, dim=70, seed=11)
        Q = X[::40] + 0.25
        tenants = np.arange(len(Q)) % 7
        return index._core.to_bytes(), [index.search(Q, tenants, k=10, budget=b) for b in (10, 100, UNLIMITED)]

    reference_bytes, reference = run(instruction_sets[0])
    for level in instruction_sets[1:]:
        data, results = run(level)
        assert data == reference_bytes, level
        for (d, i), (d_ref, i_ref) in zip(results, reference):
            np.testing.assert_array_equal(d, d_ref)
            np.testing.assert_array_equal(i, i_ref)


def test_random_state_fixes_the_tree():
    X = clustered(3000, 6, 10, seed=8)

    def tree(seed):
        index = MultiTenantIndex(6, branching_factor=5, split_threshold=30, random_state=seed)
        index.train(X)
        return [index._core.tree_description()[key] for key in ("parents", "centers")]

    (p1, c1), (p2, c2), (p3, c3) = tree(3), tree(3), tree(4)
    assert len(p1) > 6
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(c1, c2)
    assert len(p1) != len(p3) or not np.array_equal(c1, c3)


def test_memory_usage_and_len():
    index, model, X = build(n=2000)
    usage = index.memory_usage()
    assert set(usage) == {"vectors", "tree", "filters", "shortlists", "access_lists", "ids", "total"}
    assert usage["total"] == sum(v for key, v in usage.items() if key != "total")
    assert usage["vectors"] >= 2000 * 8 * 4
    pairs = sum(len(a) for a in model.access.values())
    assert usage["shortlists"] >= pairs * 4 and usage["access_lists"] >= pairs * 4
    assert len(index) == 2000
    assert "2000 vectors" in repr(index)


def test_demo_section(capsys):
    import argparse

    from vecclust._cli import DEMO_SECTIONS

    section = next(s for s in DEMO_SECTIONS if "index" in s.title)
    section.run(argparse.Namespace(seed=0, n_threads=1))
    out = capsys.readouterr().out
    assert "recall@10" in out
    recalls = [float(line.split()[2]) for line in out.splitlines() if line.strip()[:1].isdigit() and len(line.split()) == 4]
    assert len(recalls) == 6 and min(recalls) >= 0.95
