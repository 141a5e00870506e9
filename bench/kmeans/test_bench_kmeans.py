"""k-means: vecclust.KMeans vs sklearn.cluster.KMeans from the same initial centres.

n = 100,000 x 32 float32 make_blobs(centers=100, random_state=0), k = 100, in two variants:
"blobs" (cluster_std=1, well separated: a couple of iterations) and "diffuse" (cluster_std=8,
the clusters overlap into one cloud: dozens of iterations). The initial centres are computed
once per variant (vecclust's k-means++, seed 0) and given to both libraries as an array, with
n_init=1 and the default tol (1e-4) and max_iter (300); vecclust runs its default algorithm
(Hamerly) and, as the row "vecclust-elkan", Elkan's; scikit-learn its default (Lloyd). threads="1": n_threads=1 for vecclust, and
threadpoolctl limits scikit-learn's OpenMP and BLAS pools to one thread; threads="all": every
CPU for both. Both fits' inertia_ and n_iter_ are recorded; the inertias must agree to rel
1e-4 (the same algorithm from the same start; float32 rounding differs). The bar, reported by
report.py and not asserted: vecclust at least as fast as scikit-learn.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from benchconfig import QUICK, THREADS, all_cpus
from sklearn.cluster import KMeans as SklearnKMeans
from threadpoolctl import threadpool_limits

import vecclust

KMEANS_N = 20_000 if QUICK else 100_000
KMEANS_FEATURES = 32
KMEANS_CENTERS = 100
KMEANS_K = 100
KMEANS_VARIANTS = {"blobs": 1.0, "diffuse": 8.0}  # cluster_std of make_blobs
KMEANS_LIBRARIES = ("vecclust", "vecclust-elkan", "sklearn")
KMEANS_ROUNDS = 3
KMEANS_SPEEDUP_BAR = 1.0  # vecclust at least as fast as scikit-learn


def kmeans_data(bench_data, variant):
    """(X, initial centres) of a variant, built once per session (never timed)."""
    def build():
        from sklearn.datasets import make_blobs

        X, _ = make_blobs(n_samples=KMEANS_N, n_features=KMEANS_FEATURES, centers=KMEANS_CENTERS,
                          cluster_std=KMEANS_VARIANTS[variant], random_state=0)
        X = np.ascontiguousarray(X, dtype=np.float32)
        X.setflags(write=False)
        init = vecclust._core.kmeans_plusplus(X, n_clusters=KMEANS_K, seed=0, sample_weight=None, n_threads=all_cpus())
        init.setflags(write=False)
        return X, init

    return bench_data.result(("kmeans_data", variant), build)


def thread_limit(threads):
    return threadpool_limits(limits=1) if threads == "1" else contextlib.nullcontext()


def run(library, threads, X, init):
    if library.startswith("vecclust"):
        algorithm = "elkan" if library == "vecclust-elkan" else "hamerly"
        model = vecclust.KMeans(KMEANS_K, init=init, n_init=1, algorithm=algorithm,
                                n_threads=1 if threads == "1" else None)
    else:
        model = SklearnKMeans(KMEANS_K, init=init, n_init=1)
    return model.fit(X)


def summary(model):
    return {"inertia": float(model.inertia_), "n_iter": int(model.n_iter_), "labels": model.labels_}


@pytest.mark.parametrize("library", KMEANS_LIBRARIES)
@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"threads{t}")
@pytest.mark.parametrize("variant", tuple(KMEANS_VARIANTS))
def test_kmeans(benchmark, bench_data, variant, threads, library):
    X, init = kmeans_data(bench_data, variant)
    benchmark.group = f"kmeans {variant} n={KMEANS_N} k={KMEANS_K} threads={threads}"
    benchmark.extra_info.update(bench="kmeans", variant=variant, cluster_std=KMEANS_VARIANTS[variant], n=KMEANS_N,
                                n_features=KMEANS_FEATURES, k=KMEANS_K, threads=threads, library=library,
                                n_threads=1 if threads == "1" else all_cpus(), speedup_bar=KMEANS_SPEEDUP_BAR)

    def setup():
        return (library, threads, X, init.copy()), {}

    with thread_limit(threads):
        own = summary(benchmark.pedantic(run, setup=setup, rounds=KMEANS_ROUNDS, iterations=1))
    bench_data.store(("kmeans", library, variant, threads), own)
    results = {library: own}
    for other in KMEANS_LIBRARIES:
        if other == "vecclust-elkan" or other == library:
            continue

        def run_other(other=other):  # untimed, once per session
            with thread_limit(threads):
                return summary(run(other, threads, X, init.copy()))

        results[other] = bench_data.result(("kmeans", other, variant, threads), run_other)
    ref = results["sklearn" if library != "sklearn" else "vecclust"]
    if library == "vecclust-elkan":  # the same result as the default algorithm, bit for bit
        assert own["inertia"] == results["vecclust"]["inertia"] and own["n_iter"] == results["vecclust"]["n_iter"]
        np.testing.assert_array_equal(own["labels"], results["vecclust"]["labels"])
    benchmark.extra_info.update(
        inertia=own["inertia"], n_iter=own["n_iter"],
        inertia_vecclust=results["vecclust"]["inertia"], inertia_sklearn=results["sklearn"]["inertia"],
        n_iter_vecclust=results["vecclust"]["n_iter"], n_iter_sklearn=results["sklearn"]["n_iter"],
        rel_inertia_diff=(results["sklearn"]["inertia"] - results["vecclust"]["inertia"]) / results["vecclust"]["inertia"],
        same_labels=float(np.mean(results["vecclust"]["labels"] == results["sklearn"]["labels"])),
    )
    assert own["inertia"] == pytest.approx(ref["inertia"], rel=1e-4)
