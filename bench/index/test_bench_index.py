"""The multi-tenant index benchmark: checks of its harness, and a quick run of the comparison.

The harness checks (workload protocol, exact ground truth against a dense oracle, recall,
load order, every baseline exact at its exhaustive setting and correct through remove /
re-create, memory accounting, the bar logic) run in a few seconds on tiny workloads:

    python -m pytest bench/index/test_bench_index.py -p no:cacheprovider

`test_index_benchmark_quick` runs the whole comparison (bench/index/index_report.py) on the quick
workload (20,000 vectors, 100 tenants) once and records the summary in extra_info; the
full-size comparison is `python bench/index/index_report.py`.
"""

from __future__ import annotations

import numpy as np
import pytest
from index_baselines import (
    METHODS, PerTenantHNSW, PerTenantIVF, SharedHNSW, SharedIVF, SharedIVFBatch, SharedIVFBitmap, Vecclust, hnsw_bytes,
)
from index_report import (
    TARGET_RECALL, bar_check, bar_line, bars_apply, cheapest_at_target, load_in_insert_order, markdown, run_all,
    run_queries, time_updates,
)
from index_workload import WorkloadParams, filtered_ground_truth, make_workload, recall_at_k

TINY = WorkloadParams(n_vectors=3_000, n_tenants=20, n_clusters=20, n_topics=4, n_query_vectors=150,
                      n_query_pairs=200, seed=3)
# Tenants small enough that some have fewer than k vectors.
SPARSE = WorkloadParams(n_vectors=150, dim=8, n_tenants=40, n_clusters=6, n_topics=2, latent_dim=4,
                        mean_sharing=2.0, n_query_vectors=60, n_query_pairs=80, seed=5)


@pytest.fixture(scope="module")
def tiny():
    w = make_workload(TINY)
    gt_ids, _ = filtered_ground_truth(w, k=10)
    return w, gt_ids


def csr_rows(indptr, values):
    return [values[indptr[i]:indptr[i + 1]] for i in range(len(indptr) - 1)]


# ----------------------------------------------------------------------------------------------
# Workload


def test_workload_is_deterministic():
    a, b = make_workload(SPARSE), make_workload(SPARSE)
    for key, value in a.arrays().items():
        if key != "params":
            np.testing.assert_array_equal(value, b.arrays()[key], err_msg=key)
    c = make_workload(WorkloadParams(**{**SPARSE.__dict__, "seed": 6}))
    assert not np.array_equal(a.vectors, c.vectors)


def test_workload_protocol(tiny):
    w, _ = tiny
    assert w.vectors.dtype == np.float32 and w.vectors.shape == (TINY.n_vectors, TINY.dim)
    assert w.vectors.flags.c_contiguous and np.isfinite(w.vectors).all()
    lists = csr_rows(w.access_indptr, w.access_tenants)
    assert all(len(t) >= 1 and np.all(np.diff(t) > 0) for t in lists)  # sorted, distinct, non-empty
    assert w.access_tenants.min() >= 0 and w.access_tenants.max() < TINY.n_tenants
    # Insert protocol: a permutation; the owner is a member of the vector's own list.
    np.testing.assert_array_equal(np.sort(w.insert_order), np.arange(w.n_vectors))
    assert all(w.owner[i] in lists[i] for i in range(w.n_vectors))
    # Queries: each pair's tenant comes from its query vector's own list and has vectors.
    query_lists = csr_rows(w.query_access_indptr, w.query_access_tenants)
    assert all(t in query_lists[v] for v, t in zip(w.query_vector, w.query_tenant))
    assert np.all(w.tenant_sizes()[w.query_tenant] > 0)
    assert len(np.unique(np.stack([w.query_vector, w.query_tenant]), axis=1).T) == len(w.query_tenant)
    # The inverted lists hold exactly the same pairs.
    t_indptr, t_members = w.tenant_members()
    pairs = {(int(v), t) for t in range(w.n_tenants) for v in t_members[t_indptr[t]:t_indptr[t + 1]]}
    assert pairs == {(i, int(t)) for i, ts in enumerate(lists) for t in ts}


def test_quick_workload_statistics():
    """Zipf-like tenant sizes, sharing like tags per image, access correlated with content."""
    s = make_workload(WorkloadParams.quick()).statistics()
    assert s["n_vectors"] == 20_000 and s["n_tenants"] == 100
    assert 6.0 <= s["sharing_degree_mean"] <= 10.0
    sizes = s["tenant_size_quantiles"]
    assert sizes["1.0"] >= 4 * sizes["0.5"] and sizes["0.5"] >= 2 * sizes["0.0"]
    assert s["empty_tenants"] == 0
    # With 100 clusters, a tenant spread uniformly would have ~3% of its vectors in any 3.
    assert s["top3_cluster_share_median"] >= 0.2


# ----------------------------------------------------------------------------------------------
# Ground truth and recall


def test_ground_truth_matches_dense_oracle():
    w = make_workload(SPARSE)
    gt_ids, gt_dist = filtered_ground_truth(w, k=10)
    X = w.vectors.astype(np.float64)
    lists = csr_rows(w.access_indptr, w.access_tenants)
    padded = 0
    for row, (v, t) in enumerate(zip(w.query_vector, w.query_tenant)):
        q = w.queries[v].astype(np.float64)
        allowed = np.array([i for i in range(w.n_vectors) if t in lists[i]])
        d = ((X[allowed] - q) ** 2).sum(axis=1)
        order = np.lexsort((allowed, d))[:10]
        expected = np.full(10, -1)
        expected[:len(order)] = allowed[order]
        np.testing.assert_array_equal(gt_ids[row], expected)
        np.testing.assert_allclose(gt_dist[row, :len(order)], d[order], rtol=1e-9)
        assert np.all(np.isinf(gt_dist[row, len(order):]))
        padded += len(order) < 10
    assert padded > 0  # the workload does exercise tenants with fewer than k vectors


def test_recall_at_k():
    gt = np.array([[1, 2, 3, -1], [4, 5, 6, 7], [-1, -1, -1, -1]])
    res = np.array([[3, 9, 1, -1], [7, 6, 5, 4], [-1, -1, -1, -1]])
    np.testing.assert_allclose(recall_at_k(res, gt), [2 / 3, 1.0, 1.0])
    np.testing.assert_allclose(recall_at_k(np.array([[8, 8, 8, 8]]), gt[1:2]), [0.0])


# ----------------------------------------------------------------------------------------------
# Loading order


class Recorder:
    """Records the calls a method receives."""

    def __init__(self):
        self.calls = []

    def add(self, X, ids, owner):
        self.calls.append(("add", owner, np.asarray(ids).tolist(), X.copy()))

    def grant(self, ids, tenant):
        self.calls.append(("grant", tenant, np.asarray(ids).tolist(), None))


def test_load_follows_the_insert_protocol(tiny):
    w, _ = tiny
    recorder = Recorder()
    load_in_insert_order(recorder, w, batch=500)
    lists = csr_rows(w.access_indptr, w.access_tenants)
    added_at, granted = {}, set()
    for step, (kind, tenant, ids, X) in enumerate(recorder.calls):
        for j, i in enumerate(ids):
            if kind == "add":
                assert tenant == w.owner[i] and i not in added_at
                np.testing.assert_array_equal(X[j], w.vectors[i])
                added_at[i] = step
            else:
                assert added_at[i] < step and tenant != w.owner[i] and tenant in lists[i]
                assert (i, tenant) not in granted
                granted.add((i, tenant))
    assert len(added_at) == w.n_vectors and len(granted) == w.n_access_pairs - w.n_vectors
    # Vectors are added batch by batch in insert order.
    batch_of = np.empty(w.n_vectors, dtype=np.int64)
    batch_of[w.insert_order] = np.arange(w.n_vectors) // 500
    by_step = sorted(added_at, key=added_at.get)
    assert np.all(np.diff(batch_of[by_step]) >= 0)


# ----------------------------------------------------------------------------------------------
# Baselines


def built(method, w):
    t_indptr, t_members = w.tenant_members()
    method.train(w.vectors, t_indptr, t_members)
    load_in_insert_order(method, w, batch=700)
    return method


def exhaustive(method):
    if isinstance(method, Vecclust):
        return 1 << 30  # a budget covering every tenant: the search is exact
    if isinstance(method, SharedIVF):
        return method.nlist
    if isinstance(method, PerTenantIVF):
        return max(method.nlists)
    return 400  # hnswlib ef


def baselines(w):
    n, d, T = w.n_vectors, w.params.dim, w.n_tenants
    methods = [SharedIVFBitmap(d, n, T, nlist=30), SharedIVFBatch(d, n, T, nlist=30),
               PerTenantIVF(d, n, T, flat_below=1000), SharedHNSW(d, n, T), PerTenantHNSW(d, n, T)]
    if Vecclust.available():  # the same checks hold for vecclust, through the same adapter
        methods.append(Vecclust(d, n, T))
    return methods


@pytest.fixture(scope="module")
def built_baselines(tiny):
    w, _ = tiny
    return [built(m, w) for m in baselines(w)]


def test_baselines_are_exact_at_their_exhaustive_setting(tiny, built_baselines):
    w, gt_ids = tiny
    queries = np.ascontiguousarray(w.queries[w.query_vector])
    for method in built_baselines:
        method.set_knob(exhaustive(method))
        results, latencies, _ = run_queries(method, queries, w.query_tenant, len(queries))
        recall = recall_at_k(results, gt_ids).mean()
        # The IVF scans and vecclust with a budget covering the tenant are exact; hnswlib with
        # ef = 400 on 3,000 points all but exact.
        assert recall >= (0.99 if "hnsw" in method.name else 1.0), (method.name, recall)
        assert np.all(latencies > 0)
        # Nothing a tenant may not read is ever returned.
        lists = csr_rows(w.access_indptr, w.access_tenants)
        for ids, t in zip(results, w.query_tenant):
            assert all(t in lists[i] for i in ids[ids >= 0]), method.name


def test_per_tenant_ivf_uses_flat_indexes_for_small_tenants(tiny, built_baselines):
    w, _ = tiny
    method = next(m for m in built_baselines if isinstance(m, PerTenantIVF))
    sizes = w.tenant_sizes()
    assert any(method.nlists) and not all(method.nlists)
    for size, nlist in zip(sizes, method.nlists):
        assert (nlist == 0) == (size < 1000)
        assert nlist == 0 or nlist == round(np.sqrt(size))


def test_remove_and_recreate(tiny):
    """A removed vector is found by none of its tenants; once re-created and granted it is."""
    w, _ = tiny
    for method in baselines(w):
        built(method, w)
        method.set_knob(exhaustive(method))
        victims = np.random.default_rng(0).choice(w.n_vectors, size=5, replace=False)
        for i in victims.tolist():
            ids, x = np.array([i]), np.ascontiguousarray(w.vectors[i:i + 1])
            method.remove(ids)
            for t in w.tenants_of(i).tolist():
                assert i not in method.search(x, t).tolist(), (method.name, i, t)
            method.add(x, ids, int(w.owner[i]))
            for t in w.tenants_of(i).tolist():
                if t != w.owner[i]:
                    method.grant(ids, t)
            for t in w.tenants_of(i).tolist():
                assert method.search(x, t)[0] == i, (method.name, i, t)
        timings = time_updates(method, w, 10, seed=1)
        assert timings["remove"]["count"] == 10 and timings["grant"]["count"] > 0
        assert timings["insert_and_grants"]["mean_us"] >= timings["insert"]["mean_us"]


def test_memory_accounting(tiny, built_baselines):
    w, _ = tiny
    d, n, T = w.params.dim, w.n_vectors, w.n_tenants
    memory = {m.name: m.memory_bytes() for m in built_baselines}
    for parts in memory.values():
        assert parts["total"] == sum(v for k, v in parts.items() if k != "total")
        assert parts["total"] >= n * d * 4  # every method stores the raw vectors
    shared = memory["shared-ivf-bitmap"]
    assert shared["vectors"] == n * d * 4 and shared["access_bitmaps"] == T * ((n + 7) // 8)
    assert memory["shared-ivf-batch"]["access_id_lists"] == 8 * w.n_access_pairs
    # A per-tenant index stores one copy of a vector per tenant that may read it.
    assert memory["per-tenant-ivf"]["vectors"] == w.n_access_pairs * d * 4
    assert memory["per-tenant-hnsw"]["graphs_and_vectors"] > w.n_access_pairs * d * 4
    assert memory["shared-hnsw"]["graph_and_vectors"] > n * d * 4
    assert hnsw_bytes(2000, 2000, d, 16) > hnsw_bytes(1000, 1000, d, 16) > hnsw_bytes(1000, 500, d, 16)


# ----------------------------------------------------------------------------------------------
# Bar logic and the quick comparison


def point(value, recall, mean_ms):
    return {"knob": "x", "value": value, "recall": recall, "mean_ms": mean_ms, "p50_ms": mean_ms,
            "p99_ms": mean_ms, "first_pass_mean_ms": mean_ms, "first_pass_p99_ms": mean_ms, "n_queries": 10,
            "rounds": 1, "empty_results": 0}


def fake_result(curve, memory, rss):
    stats = {"mean_us": 1.0, "p50_us": 1.0, "p99_us": 1.0, "count": 1}
    return {"curve": curve, "memory": {"total": memory}, "rss_delta_bytes": rss, "build_s": 0.0, "load_s": 0.0,
            "updates": {k: stats for k in ("remove", "insert", "grant", "insert_and_grants")}}


def test_bar_check():
    assert cheapest_at_target({"curve": [point(1, 0.9, 0.1), point(2, 0.96, 0.5), point(3, 0.99, 0.4)]})["value"] == 3
    assert cheapest_at_target({"curve": [point(1, TARGET_RECALL - 1e-9, 0.1)]}) is None
    methods = {
        "vecclust": fake_result([point(1, 0.8, 0.01), point(2, 0.97, 0.1)], 120, 130),
        "shared-ivf-bitmap": fake_result([point(8, 0.96, 2.5)], 100, 110),
        "shared-ivf-batch": fake_result([point(8, 0.96, 2.0)], 100, 110),
        "per-tenant-ivf": fake_result([point(4, 0.97, 0.12)], 700, 800),
        "per-tenant-hnsw": fake_result([point(16, 0.97, 0.05)], 900, 1000),
    }
    report = {"methods": methods, "k": 10}
    bars = bar_check(report)
    assert bars["evaluated"] and bars["all_pass"] and bars["vecclust_point"]["value"] == 2
    checks = bars["checks"]
    assert checks["latency_vs_shared-ivf-batch"]["ratio"] == pytest.approx(20.0)
    # the cached bitmaps' ratio is reported without a bar
    assert checks["latency_vs_shared-ivf-bitmap"]["ratio"] == pytest.approx(25.0)
    assert checks["latency_vs_shared-ivf-bitmap"]["pass"] is None
    assert checks["memory_at_most_analytic_shared-ivf-bitmap"]["ratio"] == pytest.approx(1.2)
    assert checks["memory_below_rss_per-tenant-hnsw"]["ratio"] == pytest.approx(1000 / 130)
    del methods["shared-ivf-batch"]
    assert bar_check(report)["checks"]["latency_vs_shared-ivf-batch"]["pass"] is None  # that peer did not run
    methods["per-tenant-ivf"]["curve"] = [point(4, 0.97, 0.09)]  # now faster than vecclust
    methods["shared-ivf-bitmap"]["rss_delta_bytes"] = 99  # and the RSS bar fails
    bars = bar_check(report)
    assert not bars["all_pass"] and not bars["checks"]["latency_vs_per-tenant-ivf"]["pass"]
    assert not bars["checks"]["memory_at_most_rss_shared-ivf-bitmap"]["pass"]
    report["bars"] = bars
    line = bar_line(report)
    assert line.startswith(f"BAR CHECK at recall@10 >= {TARGET_RECALL} (vecclust at x=2): FAIL")
    assert "per-tenant-ivf / vecclust mean latency 0.90x (need >= 1) FAIL" in line
    assert "shared-ivf-bitmap / vecclust mean latency 25.00x (reported, no bar)" in line
    # Below the full size only the ratios are reported: no bar, no pass or FAIL.
    small = bar_check(report, applies=False)
    assert small["all_pass"] is None and all(c["bar"] is None and c["pass"] is None for c in small["checks"].values())
    assert small["checks"]["latency_vs_per-tenant-ivf"]["ratio"] == pytest.approx(0.9)
    line = bar_line({"bars": small})
    assert line.startswith("RATIOS") and "no bar check" in line
    assert "per-tenant-ivf / vecclust mean latency 0.90x" in line
    assert "FAIL" not in line and "need" not in line and "ok" not in line.split(":", 1)[1]
    assert not bars_apply(WorkloadParams.quick()) and bars_apply(WorkloadParams())
    methods["vecclust"] = {"skipped": "not built"}
    assert bar_check(report) == {"evaluated": False, "reason": "not built"}


@pytest.mark.skipif(not Vecclust.available(), reason="vecclust.MultiTenantIndex is not available")
def test_vecclust_small_tenants_are_exact_and_padded():
    """Tenants with fewer than k vectors: all of them, nearest first, then -1 padding."""
    w = make_workload(SPARSE)
    gt_ids, _ = filtered_ground_truth(w, k=10)
    method = built(Vecclust(w.params.dim, w.n_vectors, w.n_tenants), w)
    method.set_knob(w.n_vectors)
    queries = np.ascontiguousarray(w.queries[w.query_vector])
    results, _, _ = run_queries(method, queries, w.query_tenant, len(queries))
    np.testing.assert_array_equal(results, gt_ids)


def test_index_benchmark_quick(benchmark):
    report = benchmark.pedantic(run_all, args=(WorkloadParams.quick(),), kwargs={"quick": True, "log": lambda m: None},
                                rounds=1, iterations=1)
    text = markdown(report)
    assert "FAIL" not in bar_line(report)  # the bars are for the full size only
    assert "no bar check" in text or not report["bars"]["evaluated"]
    for name in METHODS:
        result = report["methods"][name]
        if name == "vecclust" and "skipped" in result:
            continue
        assert "failed" not in result, (name, result.get("failed"))
        assert max(p["recall"] for p in result["curve"]) >= TARGET_RECALL, name
    cheapest = {name: cheapest_at_target(result) for name, result in report["methods"].items()}
    benchmark.extra_info.update({"bench": "index", "quick": True, "bars": report["bars"],
                                 "cheapest_at_target": cheapest})
