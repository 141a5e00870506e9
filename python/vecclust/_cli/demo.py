"""`vecclust demo`: every estimator on bundled and generated data, one table per section."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .. import CLARA, CLARANS, PPP, KMedoids, MultiTenantIndex
from .._utils.validation import effective_n_threads
from .common import version, warnings_reported
from .demo_peers import demo_peers
from .plots import check_plot_path, demo_figure


@dataclass(frozen=True)
class DemoRun:
    """One row of a demo table.

    `make(k, seed, n_threads)` returns an unfitted estimator; after `fit(X)` it must have
    `labels_` and `inertia_` (the total deviation).
    """

    method: str
    init: str
    make: Callable[[int, "int | None", "int | None"], Any]


def kmedoids_run(method: str, init: str) -> DemoRun:
    def make(k, seed, n_threads):
        return KMedoids(k, method=method, init=init, random_state=seed, n_threads=n_threads)

    return DemoRun(method, init, make)


def dynmsc_run(max_clusters: int) -> DemoRun:
    """KMedoids(n_clusters="auto"): the k of the best medoid silhouette in 2..max_clusters."""
    def make(k, seed, n_threads):
        return KMedoids("auto", max_clusters=max_clusters, init="build", random_state=seed, n_threads=n_threads)

    return DemoRun(f"dynmsc (k 2..{max_clusters})", "build", make)


def sampling_run(name: str) -> DemoRun:
    """CLARA or CLARANS with their default settings."""
    def make(k, seed, n_threads):
        estimator = CLARA if name == "clara" else CLARANS
        return estimator(k, random_state=seed, n_threads=n_threads)

    return DemoRun(name, "random", make)


# k-medoids on the digits data (k = 10, one cluster per digit, ideally).
DIGITS_RUNS: list[DemoRun] = [
    kmedoids_run("fasterpam", "random"),
    kmedoids_run("fasterpam", "k-medoids++"),
    kmedoids_run("fasterpam", "build"),
    kmedoids_run("fastpam1", "build"),
    kmedoids_run("pam", "build"),
    kmedoids_run("alternate", "k-medoids++"),
    kmedoids_run("fastermsc", "build"),
    dynmsc_run(15),
    sampling_run("clara"),
    sampling_run("clarans"),
]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool], file=None) -> None:
    file = file or sys.stdout
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()

    print(line(headers), file=file)
    print("  ".join("-" * w for w in widths), file=file)
    for row in rows:
        print(line(row), file=file)


def timed_fit(estimator, X) -> float:
    """Fits `estimator` on X; returns the seconds it took."""
    start = time.perf_counter()
    estimator.fit(X)
    return time.perf_counter() - start


def run_table(runs: Sequence[DemoRun], X, y, k: int, args) -> list[dict]:
    """Fits every run on X and prints method, init, k (the one chosen, for a run that chooses
    it), loss, ARI against y and the fit time."""
    from sklearn.metrics import adjusted_rand_score

    results = []
    for run in runs:
        estimator = run.make(k, args.seed, args.n_threads)
        elapsed = timed_fit(estimator, X)
        results.append(dict(method=run.method, init=run.init, k=getattr(estimator, "n_clusters_", k), loss=estimator.inertia_,
                            ari=adjusted_rand_score(y, estimator.labels_), time_s=elapsed))
    rows = [[r["method"], r["init"], str(r["k"]), f"{r['loss']:.1f}", f"{r['ari']:.3f}", f"{r['time_s']:.3f}"]
            for r in results]
    print_table(["method", "init", "k", "loss", "ARI", "time [s]"], rows,
                right=[False, False, True, True, True, True])
    return results


def demo_digits(args) -> list[dict]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    X, y = digits.data, digits.target
    k = len(np.unique(y))
    print(f"scikit-learn digits: {X.shape[0]} samples x {X.shape[1]} features ({X.dtype}), {k} classes, "
          f"euclidean distance")
    print("loss = total deviation; ARI = adjusted Rand index against the digit labels; fastermsc maximises the "
          "medoid silhouette, and dynmsc also chooses k by it")
    return run_table(DIGITS_RUNS, X, y, k, args)


def ppp_datasets():
    """(name, X, true labels) for the PPP demo: generated blobs, a null set and bundled real data."""
    from sklearn.datasets import load_digits, load_iris, load_wine, make_blobs
    from sklearn.preprocessing import StandardScaler

    separated = make_blobs(n_samples=2000, centers=8, n_features=10, cluster_std=1.0, random_state=0)
    X, y = make_blobs(n_samples=1500, centers=3, random_state=170)
    anisotropic = (X @ np.array([[0.6, -0.6], [-0.4, 0.8]]), y)
    varied = make_blobs(n_samples=1500, centers=3, cluster_std=[1.0, 2.5, 0.5], random_state=170)
    gaussian = (np.random.default_rng(0).normal(size=(2000, 10)), np.zeros(2000, dtype=int))
    sets = [("blobs, 8 in 10-d", *separated), ("anisotropic", *anisotropic), ("varied spreads", *varied),
            ("one Gaussian (null)", *gaussian)]
    for name, loader in (("iris", load_iris), ("wine", load_wine), ("digits", load_digits)):
        data = loader()
        sets.append((f"{name} (standardised)", StandardScaler().fit_transform(data.data), data.target))
    return sets


def demo_ppp(args) -> list[dict]:
    from sklearn.metrics import adjusted_rand_score

    print("PPP finds the number of clusters itself; its result does not depend on the seed, threads or row order")
    rows, results = [], []
    for name, X, y in ppp_datasets():
        model = PPP(n_threads=args.n_threads)
        elapsed = timed_fit(model, X)
        order = np.random.default_rng(args.seed).permutation(len(X))
        again = PPP(n_threads=args.n_threads, random_state=args.seed).fit(X[order]).labels_
        stable = adjusted_rand_score(model.labels_[order], again)
        results.append(dict(data=name, k_true=len(np.unique(y)), k_found=model.n_clusters_,
                            ari=adjusted_rand_score(y, model.labels_), time_s=elapsed))
        rows.append([name, f"{X.shape[0]}x{X.shape[1]}", str(len(np.unique(y))), str(model.n_clusters_),
                     f"{results[-1]['ari']:.3f}", f"{stable:.3f}", f"{elapsed:.3f}"])
    print_table(["data", "shape", "true k", "PPP k", "ARI", "same on shuffled rows", "time [s]"], rows,
                right=[False, True, True, True, True, True, True])
    return results


def demo_index(args) -> list[dict]:
    """MultiTenantIndex on generated clustered vectors shared by Zipf-sized tenants."""
    rng = np.random.default_rng(args.seed)
    n, dim, n_tenants, n_queries = 20_000, 64, 6, 100
    centers = rng.normal(scale=4.0, size=(100, dim))
    X = (centers[rng.integers(0, 100, n)] + rng.normal(size=(n, dim))).astype(np.float32)
    ids = np.arange(n, dtype=np.int64)
    owners = np.minimum(rng.zipf(1.5, n) - 1, n_tenants - 1)  # tenant 0 the largest
    shared = rng.random(n) < 0.05  # the last tenant also sees 5% of everyone's vectors
    start = time.perf_counter()
    index = MultiTenantIndex(dim, random_state=args.seed, n_threads=args.n_threads).train(X)
    for t in range(n_tenants):
        index.add(X[owners == t], ids[owners == t], t)
    index.grant(ids[shared & (owners != n_tenants - 1)], n_tenants - 1)
    build = time.perf_counter() - start
    memory = index.memory_usage()
    print(f"{n} clustered vectors x {dim} (float32), {n_tenants} tenants; built in {build:.2f} s, "
          f"{memory['total'] / 2**20:.1f} MiB ({memory['vectors'] / 2**20:.1f} MiB of vectors)")
    Q = X[rng.integers(0, n, n_queries)] + rng.normal(scale=0.5, size=(n_queries, dim)).astype(np.float32)
    distances, found = index.search(Q[:1], 0, k=5)
    print(f"tenant 0, nearest 5 to a query: ids {found[0].tolist()}, squared distances "
          f"[{', '.join(f'{d:.1f}' for d in distances[0])}]")
    print("recall@10 against brute force; latency of one-query calls (default budget)")
    rows, results = [], []
    for t in range(n_tenants):
        visible = ids[(owners == t) | (shared & (t == n_tenants - 1))]
        start = time.perf_counter()
        found = np.concatenate([index.search(q, t, k=10)[1] for q in Q])
        latency = (time.perf_counter() - start) / n_queries
        truth = [visible[np.argsort(((X[visible] - q) ** 2).sum(axis=1), kind="stable")[:10]] for q in Q]
        recall = np.mean([len(set(f.tolist()) & set(r.tolist())) / len(r) for f, r in zip(found, truth)])
        results.append(dict(tenant=t, vectors=index.tenant_size(t), recall=recall, latency_us=latency * 1e6))
        rows.append([str(t), str(index.tenant_size(t)), f"{recall:.3f}", f"{latency * 1e6:.0f}"])
    print_table(["tenant", "vectors", "recall@10", "us/query"], rows, right=[True, True, True, True])
    return results


@dataclass(frozen=True)
class DemoSection:
    title: str
    run: Callable[[argparse.Namespace], list[dict]]  # prints its table, returns its rows for --plot
    about: str = ""  # what the section shows, for `vecclust demo --help`
    key: str = ""  # its name in the results that `demo_figure` draws


# Sections of `vecclust demo`, in order; a new estimator adds its section here.
DEMO_SECTIONS: list[DemoSection] = [
    DemoSection("k-medoids", demo_digits,
                "every k-medoids method, DynMSC (which chooses k), CLARA and CLARANS on scikit-learn's digits "
                "(1797 x 64, k=10) with their loss, adjusted Rand index and time", key="digits"),
    DemoSection("against scikit-learn", demo_peers,
                "k-means, a Gaussian mixture and the silhouette against scikit-learn's from the same start, "
                "with both times, their ratio and how far the results agree", key="peers"),
    DemoSection("PPP: probabilistic partitive partitioning", demo_ppp,
                "PPP on generated and bundled data sets with the clusters it finds, adjusted Rand index, "
                "stability under shuffled rows and time", key="ppp"),
    DemoSection("multi-tenant vector index", demo_index,
                "a MultiTenantIndex of 20000 generated vectors shared by 6 tenants with its memory, "
                "recall@10 and latency per query", key="index"),
]


def cmd_demo(args) -> int:
    n_threads = effective_n_threads(args.n_threads)  # validates --n-threads before any work
    plot = Path(args.plot) if args.plot is not None else None
    if plot is not None:
        check_plot_path(plot)
    print(f"vecclust {version()} demo (seed {args.seed}, {n_threads} thread{'s' if n_threads != 1 else ''})")
    results = {}
    for section in DEMO_SECTIONS:
        print()
        print(f"== {section.title} ==")
        with warnings_reported():
            results[section.key] = section.run(args)
    if plot is not None:
        demo_figure(results, plot)
        print(f"\nplot written to {plot}")
    return 0
