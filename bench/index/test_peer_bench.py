"""Checks of the real-embedding cache code, the calibrated generator and the peers' harness.

    python -m pytest bench/index/test_peer_bench.py -p no:cacheprovider

None of them needs the embedding model or the cache: the real-data code runs on small made-up
records and arrays. `test_peer_bench_quick` runs the harness's --quick mode once.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from calibrated_workload import CalibratedParams, make_calibrated, tenant_sizes
from peer_bench import bar_ratios, first_reaching, main
from real_embeddings import (
    csr_by_tenant, debian_labels, filtered_top_k, parse_dumpavail, statistics, tenants_from_labels, to_workload,
    top_variance_share,
)

DUMP = """Package: alpha
Version: 1
Depends: libc6 (>= 2.34), perl | perl-base
Description: first package
 with a continuation line
Tag: devel::lang:perl, role::program,
 implemented-in::perl
Section: perl
Maintainer: Perl Team <perl@example.org>

Package: beta
Description: second package
Section: libs
"""


def test_parse_dumpavail_and_labels():
    records = parse_dumpavail(DUMP)
    assert [r["Package"] for r in records] == ["alpha", "beta"]
    assert records[0]["Description"] == "first package with a continuation line"
    labels = debian_labels(records[0])
    assert labels == {"tag:devel::lang:perl", "tag:role::program", "tag:implemented-in::perl", "facet:devel",
                      "facet:role", "facet:implemented-in", "section:perl", "maintainer:Perl Team",
                      "depends:libc6", "depends:perl", "depends:perl-base"}
    assert "tag:" not in "".join(debian_labels(records[1]))


def test_tenants_keep_labels_by_size():
    labels = [{"a", "b"}, {"a", "c"}, {"a"}, {"b", "c", "d"}]
    names, lists = tenants_from_labels(labels, min_size=2, max_share=0.5)
    assert names == ["b", "c"]  # "a" labels 3 of 4 (over half), "d" only one
    assert lists == [[0], [1], [], [0, 1]]
    ptr, ids = csr_by_tenant(lists, len(names))
    np.testing.assert_array_equal(ptr, [0, 2, 4])
    np.testing.assert_array_equal(ids, [0, 3, 1, 3])


def fake_collection(n=300, d=16, n_tenants=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    lists = [sorted(rng.choice(n_tenants, rng.integers(1, 4), replace=False).tolist()) for _ in range(n)]
    ptr, ids = csr_by_tenant(lists, n_tenants)
    Q = rng.standard_normal((40, d)).astype(np.float32)
    q_tenant = rng.integers(0, n_tenants, 40)
    return {"X": X, "tenant_ptr": ptr, "tenant_ids": ids, "Q": Q, "q_tenant": q_tenant,
            "gt_ids": filtered_top_k(X, ptr, ids, Q, q_tenant)}, lists


def test_filtered_top_k_matches_brute_force():
    data, lists = fake_collection()
    X = data["X"].astype(np.float64)
    for row, (q, t) in enumerate(zip(data["Q"].astype(np.float64), data["q_tenant"])):
        allowed = np.array([i for i, ts in enumerate(lists) if t in ts])
        d = ((X[allowed] - q) ** 2).sum(axis=1)
        expected = np.full(10, -1)
        order = allowed[np.lexsort((allowed, d))[:10]]
        expected[:len(order)] = order
        np.testing.assert_array_equal(data["gt_ids"][row], expected)


def test_to_workload_keeps_the_collection():
    data, lists = fake_collection()
    w = to_workload(data)
    assert [w.tenants_of(i).tolist() for i in range(w.n_vectors)] == lists
    assert all(w.owner[i] in lists[i] for i in range(w.n_vectors))
    np.testing.assert_array_equal(np.sort(w.insert_order), np.arange(w.n_vectors))
    np.testing.assert_array_equal(w.queries[w.query_vector], data["Q"])
    np.testing.assert_array_equal(w.query_tenant, data["q_tenant"])
    s = statistics(data)
    assert s["n_tenants"] == 12 and s["vectors_without_tenant"] == 0
    assert s["sharing_degree_mean"] == pytest.approx(np.mean([len(ts) for ts in lists]))


def test_top_variance_share():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((4000, 64)) * np.where(np.arange(64) < 32, 3.0, 1.0)
    assert top_variance_share(X, 32) == pytest.approx(0.9, abs=0.01)  # 32 * 9 / (32 * 9 + 32)


@pytest.mark.parametrize("dim, top_share, sharing", [(384, 0.47, 10.0), (192, 0.6, 6.0)])
def test_calibrated_generator_gives_the_spectrum_and_sharing_asked_for(dim, top_share, sharing):
    p = CalibratedParams.quick(dim=dim, top_share=top_share, mean_sharing=sharing, n_vectors=6_000)
    w = make_calibrated(p)
    assert w.vectors.dtype == np.float32 and w.vectors.shape == (6_000, dim)
    assert top_variance_share(w.vectors, 32) == pytest.approx(top_share, abs=0.02)
    s = w.statistics()
    assert s["sharing_degree_mean"] == pytest.approx(sharing, rel=0.05)
    assert s["empty_tenants"] == 0
    sizes = s["tenant_size_quantiles"]
    assert sizes["1.0"] >= 5 * sizes["0.5"]  # skewed like the real tenants
    assert sizes["1.0"] <= p.max_tenant_share * (p.n_vectors + p.n_query_vectors)
    # Content-correlated tenants: far more of a tenant in 3 clusters than the 5% of a uniform one.
    assert s["top3_cluster_share_median"] >= 0.2
    assert all(t in w.query_access_tenants[w.query_access_indptr[v]:w.query_access_indptr[v + 1]]
               for v, t in zip(w.query_vector, w.query_tenant))


def test_calibrated_generator_refuses_a_share_its_centres_cannot_give():
    with pytest.raises(ValueError, match="top_share 0.2 is below"):
        make_calibrated(CalibratedParams.quick(dim=192, top_share=0.2, n_vectors=500, n_query_vectors=50))


def test_calibrated_generator_is_deterministic_and_sizes_sum_to_the_sharing():
    p = CalibratedParams.quick(n_vectors=2_000, n_query_vectors=100)
    a, b = make_calibrated(p), make_calibrated(p)
    np.testing.assert_array_equal(a.vectors, b.vectors)
    np.testing.assert_array_equal(a.access_tenants, b.access_tenants)
    sizes = tenant_sizes(p, 10_000)
    assert abs(sizes.sum() - p.mean_sharing * 10_000) <= 0.01 * p.mean_sharing * 10_000
    assert sizes.max() <= p.max_tenant_share * 10_000 and sizes.min() >= 1


def test_first_reaching_and_ratios():
    curve = [{"value": 1, "recall": 0.8, "mean_ms": 0.1}, {"value": 2, "recall": 0.92, "mean_ms": 0.2},
             {"value": 4, "recall": 0.97, "mean_ms": 0.4}]
    assert first_reaching(curve, 0.9)["value"] == 2 and first_reaching(curve, 0.95)["value"] == 4
    assert first_reaching(curve, 0.99) is None
    peer = [{"value": 8, "recall": 0.96, "mean_ms": 4.0}]
    report = {"methods": {"vecclust": {"curve": curve, "memory": {"total": 130}},
                          "shared-ivf-batch": {"curve": peer, "memory": {"total": 100}},
                          "shared-ivf-bitmap": {"curve": peer, "memory": {"total": 100}}}}
    bars = bar_ratios(report)
    assert bars["vecclust vs shared-ivf-batch latency @0.95"] == {"ratio": 10.0, "bar": 10.0, "pass": True}
    assert bars["vecclust vs shared-ivf-bitmap memory @0.95"]["pass"] is True  # 1.3 <= 1.3
    assert bars["vecclust vs per-tenant-hnsw latency @0.95"]["ratio"] is None


def test_peer_bench_quick(tmp_path):
    assert main(["--quick", "--results", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "index_peers_calibrated_quick.json").read_text())
    assert (tmp_path / "index_peers_calibrated_quick.png").stat().st_size > 0
    for name, result in report["methods"].items():
        assert "failed" not in result, (name, result.get("failed"))
        best = max(p["recall"] for p in result["curve"])
        assert best >= (0.8 if "rabitq" in name else 0.95), name
        assert result["memory"]["total"] > 0 and result["updates"]["remove"]["count"] > 0
    # An IVF over raw vectors probing enough lists is (near) exact.
    assert max(p["recall"] for p in report["methods"]["shared-ivf-bitmap"]["curve"]) >= 0.99
    assert set(report["methods"]) == {"vecclust", "shared-ivf-bitmap", "shared-ivf-batch", "shared-ivf-rabitq",
                                      "per-tenant-hnsw"}
