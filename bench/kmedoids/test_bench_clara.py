"""CLARA and CLARANS: quality and speed against full FasterPAM, scale, and pyclustering.

1. test_clara_quality: n=20,000 x 16 float32, k=50, on make_blobs(centers=50, random_state=0)
   ("blobs") and on 50 clusters with random covariances ("random_cov",
   refine_quality.random_covariance_clusters).
   vecclust.KMedoids (full FasterPAM, its n x n distance matrix included in the time), CLARA
   with defaults (sample 80 + 4k), CLARA with n_sampling=2500, CLARANS with defaults; one thread
   and all threads; random_state=0 everywhere. Each row records inertia_ and the relative loss
   gap to full FasterPAM; report.py adds the time ratio FasterPAM / method at the same thread
   setting. The target bars (CLARA within 3%, CLARANS within 2%, each >= 10x faster) are
   reported, not asserted. Asserted: the fit is sane (finite positive inertia_ equal to the
   recomputed total deviation, k distinct medoids) and, as documented, independent of threads.
2. test_clara_scale: CLARA (defaults, all threads, k=100) on 1,000,000 x 16 float32 gaussian
   blobs, timed once; its peak extra memory is measured in a fresh subprocess
   (bench/kmedoids/clara_scale.py) and recorded in extra_info as a ratio to X.nbytes (bars: < 30 s,
   < 1x the data).
3. test_clarans_vs_pyclustering: 500 x 8 make_blobs(centers=5, random_state=0), k=5,
   numlocal=2, maxneighbor=20. pyclustering's pure-Python CLARANS runs once (392 s measured)
   and only with BENCH_PYCLUSTERING=1; vecclust.CLARANS(n_local=2, max_neighbor=20,
   random_state=0, n_threads=1) is timed normally. Both losses are recomputed the same way:
   the sum of euclidean distances of every point to its nearest medoid. Bar: vecclust >= 100x
   faster at equal or lower loss (reported, not asserted).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import vecclust
from benchconfig import (
    CLARA_CENTERS, CLARA_FEATURES, CLARA_K, CLARA_LARGE_SAMPLE, CLARA_LOSS_BAR, CLARA_METHODS, CLARA_N,
    CLARA_DATASETS, CLARA_ROUNDS, CLARANS_LOSS_BAR, PYC_CENTERS, PYC_FEATURES, PYC_K, PYC_MAXNEIGHBOR, PYC_N, PYC_NUMLOCAL,
    PYC_SPEEDUP_BAR, PYCLUSTERING, QUICK, SCALE_CENTERS, SCALE_FEATURES, SCALE_K, SCALE_MEMORY_BAR, SCALE_N,
    SCALE_TIME_BAR, SPEEDUP_BAR, THREADS, all_cpus,
)
from scipy.spatial.distance import cdist

BENCH_DIR = Path(__file__).resolve().parent
SEED = 0


def n_threads_of(threads):
    return 1 if threads == "1" else None  # None: all CPUs


def total_deviation(X, medoids, metric="euclidean"):
    """Sum over all points of the distance to the nearest of `medoids` (float64)."""
    X = np.asarray(X, dtype=np.float64)
    return float(cdist(X, X[np.asarray(medoids, dtype=np.int64)], metric=metric).min(axis=1).sum())


def check_sane(model, X, k):
    """What every fit must satisfy (the quality bars themselves are only reported)."""
    medoids = np.asarray(model.medoid_indices_)
    assert np.isfinite(model.inertia_) and model.inertia_ > 0
    assert medoids.shape == (k,) and len(np.unique(medoids)) == k
    assert medoids.min() >= 0 and medoids.max() < X.shape[0]
    assert model.labels_.shape == (X.shape[0],)
    # inertia_ is the total deviation of the returned medoids over all points
    assert model.inertia_ == pytest.approx(total_deviation(X, medoids), rel=1e-4)


# --------------------------------------------------------------------------------------------
# 1. Quality and speed against full FasterPAM


def quality_estimator(method, threads, k):
    common = dict(random_state=SEED, n_threads=n_threads_of(threads))
    if method == "fasterpam":
        return vecclust.KMedoids(n_clusters=k, metric="euclidean", **common)
    if method == "clara":
        return vecclust.CLARA(n_clusters=k, **common)
    if method == "clara_large":
        return vecclust.CLARA(n_clusters=k, n_sampling=CLARA_LARGE_SAMPLE, **common)
    if method == "clarans":
        return vecclust.CLARANS(n_clusters=k, **common)
    raise ValueError(method)


def method_label(method, n, k):
    if method == "fasterpam":
        return "KMedoids (full FasterPAM)"
    if method == "clara":
        return f"CLARA (defaults, n_sampling={min(80 + 4 * k, n)})"
    if method == "clara_large":
        return f"CLARA n_sampling={min(CLARA_LARGE_SAMPLE, n)}"
    return "CLARANS (defaults)"


def method_params(model, method, n, k):
    if method in ("clara", "clara_large"):
        return {"n_sampling": min(80 + 4 * k if model.n_sampling is None else model.n_sampling, n),
                "n_sampling_iter": model.n_sampling_iter, "best_sample": model.best_sample_}
    if method == "clarans":
        return {"n_local": model.n_local, "max_neighbor": model.max_neighbor,
                "patience": model._patience(n, k), "best_local": model.best_local_}
    return {"max_iter": model.max_iter}


def quality_data(bench_data, dataset, n):
    if dataset == "blobs":
        return bench_data.features(n, CLARA_FEATURES, CLARA_CENTERS)
    from refine_quality import random_covariance_clusters

    return bench_data.result(("random_cov", n), lambda: random_covariance_clusters(n, CLARA_FEATURES, CLARA_CENTERS))


@pytest.mark.parametrize("method", CLARA_METHODS)
@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"threads{t}")
@pytest.mark.parametrize("dataset", CLARA_DATASETS)
def test_clara_quality(benchmark, bench_data, dataset, threads, method):
    n, k = CLARA_N, CLARA_K
    X = quality_data(bench_data, dataset, n)
    benchmark.group = f"clara quality {dataset} n={n} k={k} threads={threads}"
    benchmark.extra_info.update(bench="clara_quality", dataset=dataset, n=n, k=k, n_features=CLARA_FEATURES,
                                threads=threads,
                                n_threads=n_threads_of(threads) or all_cpus(), method=method,
                                label=method_label(method, n, k))

    def setup():
        return (quality_estimator(method, threads, k),), {}

    def fit(model):
        return model.fit(X)

    model = benchmark.pedantic(fit, setup=setup, rounds=CLARA_ROUNDS[method], iterations=1)
    check_sane(model, X, k)
    loss = float(model.inertia_)
    medoids = sorted(int(i) for i in model.medoid_indices_)

    # Results do not depend on the thread count (documented): the first thread setting to run
    # caches the loss and medoids, the other must match.
    first = bench_data.result(("clara_quality", dataset, method, n, k), lambda: {"loss": loss, "medoids": medoids})
    assert loss == pytest.approx(first["loss"], rel=1e-6)
    assert medoids == first["medoids"]

    def reference():  # untimed, only if no FasterPAM row ran before (the parametrisation runs it first)
        return {"loss": float(quality_estimator("fasterpam", "all", k).fit(X).inertia_)}

    ref = bench_data.result(("clara_quality", dataset, "fasterpam", n, k), reference)["loss"]
    gap = (loss - ref) / ref
    bar = {"fasterpam": None, "clara": CLARA_LOSS_BAR, "clara_large": CLARA_LOSS_BAR,
           "clarans": CLARANS_LOSS_BAR}[method]
    benchmark.extra_info.update(
        method_params(model, method, n, k), loss=loss, inertia=loss, loss_fasterpam=ref, loss_gap=gap,
        n_iter=int(model.n_iter_), n_swap=int(model.n_swaps_),
        loss_gap_bar=bar, speedup_bar=None if method == "fasterpam" else SPEEDUP_BAR,
    )


# --------------------------------------------------------------------------------------------
# 2. Scale: CLARA on a million points, time and peak memory


def scale_memory_run(n, k):
    """Fit in a fresh interpreter (clara_scale.py) and return its JSON report."""
    cmd = [sys.executable, str(BENCH_DIR / "clara_scale.py"), "--n", str(n), "--features", str(SCALE_FEATURES),
           "--centers", str(SCALE_CENTERS), "--k", str(k)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_clara_scale(benchmark, bench_data):
    n, k = SCALE_N, SCALE_K
    X = bench_data.scale_points(n, SCALE_FEATURES, SCALE_CENTERS)
    benchmark.group = f"clara scale n={n} k={k}"
    benchmark.extra_info.update(bench="clara_scale", n=n, k=k, n_features=SCALE_FEATURES, threads="all",
                                n_threads=all_cpus(), method="clara", label="CLARA (defaults)",
                                data_bytes=int(X.nbytes), time_bar_s=SCALE_TIME_BAR,
                                memory_bar_over_data=SCALE_MEMORY_BAR)

    def setup():
        return (vecclust.CLARA(n_clusters=k, random_state=SEED),), {}

    model = benchmark.pedantic(lambda m: m.fit(X), setup=setup, rounds=1, iterations=1)
    loss = float(model.inertia_)
    assert np.isfinite(loss) and loss > 0
    medoids = np.asarray(model.medoid_indices_)
    assert medoids.shape == (k,) and len(np.unique(medoids)) == k
    # every point is labelled with its nearest medoid (checked on every 10th row, to keep it cheap)
    rows = np.arange(0, n, 10)
    d = cdist(X[rows].astype(np.float64), X[medoids].astype(np.float64))
    labelled = d[np.arange(len(rows)), np.asarray(model.labels_)[rows]]
    np.testing.assert_allclose(labelled, d.min(axis=1), rtol=1e-5, atol=1e-5)

    mem = scale_memory_run(n, k)  # untimed: the same data and seed in a fresh process
    assert mem["data_bytes"] == X.nbytes
    assert mem["inertia"] == pytest.approx(loss, rel=1e-6)  # the same fit (results do not depend on threads)
    assert mem["medoids"] == sorted(int(i) for i in medoids)
    benchmark.extra_info.update(
        loss=loss, inertia=loss, n_sampling=min(80 + 4 * k, n), n_iter=int(model.n_iter_),
        subprocess_fit_seconds=mem["fit_seconds"], peak_extra_bytes=mem["peak_extra_bytes"],
        peak_extra_over_data=mem["peak_extra_over_data"], peak_extra_source=mem["peak_extra_source"],
        rss_before_bytes=mem["rss_before_bytes"], maxrss_growth_bytes=mem["maxrss_growth_bytes"],
        hwm_reset=mem["hwm_reset"],
    )


# --------------------------------------------------------------------------------------------
# 3. vecclust.CLARANS vs pyclustering's CLARANS


class _SeededRandom(random.Random):
    """pyclustering's clarans.process() calls random.seed() (OS entropy) on the global `random`
    module. Substituted for that module inside pyclustering.cluster.clarans only, this keeps
    the argument-less reseed from unpinning the seed so that the one run is reproducible; the
    algorithm itself is untouched."""

    def seed(self, a=None, version=2):
        if a is not None:
            super().seed(a, version)


def import_pyclustering_clarans():
    """pyclustering 0.10.1.2 imports and runs on numpy 2 as is (checked with numpy 2.4); if a
    removed numpy alias ever breaks the import, put the minimal shim back and retry once."""
    try:
        import pyclustering.cluster.clarans as module
    except AttributeError as exc:  # e.g. "module 'numpy' has no attribute 'warnings'"
        import warnings

        np.warnings = warnings  # numpy < 1.24 alias some old code still uses
        for alias, value in (("float", float), ("int", int), ("bool", bool), ("object", object)):
            if not hasattr(np, alias):
                setattr(np, alias, value)
        try:
            import pyclustering.cluster.clarans as module
        except Exception as exc2:
            pytest.fail(f"pyclustering.cluster.clarans cannot be imported even with numpy shims: "
                        f"{exc2!r} (first error: {exc!r})")
    except ImportError as exc:
        pytest.fail(f"BENCH_PYCLUSTERING=1 but pyclustering cannot be imported ({exc!r}); "
                    f"pip install pyclustering")
    return module


def pyc_data(bench_data):
    return bench_data.features(PYC_N, PYC_FEATURES, PYC_CENTERS, dtype=np.float64)


def vecclust_clarans(X):
    return vecclust.CLARANS(n_clusters=PYC_K, n_local=PYC_NUMLOCAL, max_neighbor=PYC_MAXNEIGHBOR,
                            random_state=SEED, n_threads=1)


def loss_summary(X, medoids):
    """Both libraries' medoids scored the same way: nearest-medoid assignment over all points.
    pyclustering minimises squared euclidean distances, so that total is recorded as well."""
    return {"loss": total_deviation(X, medoids), "loss_sqeuclidean": total_deviation(X, medoids, "sqeuclidean"),
            "medoids": sorted(int(i) for i in medoids)}


@pytest.mark.parametrize("library", ("pyclustering", "vecclust"))
def test_clarans_vs_pyclustering(benchmark, bench_data, monkeypatch, library):
    n, k = PYC_N, PYC_K
    if library == "pyclustering" and not PYCLUSTERING:
        pytest.skip("pyclustering's CLARANS takes minutes (392 s measured): set BENCH_PYCLUSTERING=1 to run it")
    X = pyc_data(bench_data)
    benchmark.group = f"clarans vs pyclustering n={n} k={k}"
    benchmark.extra_info.update(bench="clarans_pyclustering", n=n, k=k, n_features=PYC_FEATURES, library=library,
                                numlocal=PYC_NUMLOCAL, maxneighbor=PYC_MAXNEIGHBOR, n_threads=1,
                                speedup_bar=PYC_SPEEDUP_BAR)

    if library == "pyclustering":
        module = import_pyclustering_clarans()
        monkeypatch.setattr(module, "random", _SeededRandom(SEED))
        data = X.tolist()  # pyclustering wants a list of lists of floats

        def setup():
            return (module.clarans(data, k, PYC_NUMLOCAL, PYC_MAXNEIGHBOR),), {}

        instance = benchmark.pedantic(lambda c: c.process(), setup=setup, rounds=1, iterations=1)
        medoids = list(instance.get_medoids())
        clusters = instance.get_clusters()
        assert len(medoids) == k and len(set(medoids)) == k
        own = loss_summary(X, medoids)
        # pyclustering's own assignment (its clusters, for information only); it drops empty
        # clusters, after which clusters and medoids no longer line up
        own["loss_own_assignment"] = float(sum(
            np.linalg.norm(X[cluster] - X[medoid], axis=1).sum()
            for cluster, medoid in zip(clusters, medoids, strict=True))) if len(clusters) == k else None
        own["n_clusters_returned"] = len(clusters)
        own["seed_shim"] = "pyclustering.cluster.clarans.random replaced by a Random(0) ignoring seed()"
    else:
        model = benchmark(lambda: vecclust_clarans(X).fit(X))
        check_sane(model, X, k)
        own = loss_summary(X, model.medoid_indices_)
        own["inertia"] = float(model.inertia_)
        own["patience"] = model._patience(n, k)
    assert np.isfinite(own["loss"])
    bench_data.store(("clarans_pyclustering", library, n, k), own)

    if library == "pyclustering":  # the vecclust side's loss, untimed if its row has not run yet
        ref = bench_data.result(("clarans_pyclustering", "vecclust", n, k),
                                lambda: loss_summary(X, vecclust_clarans(X).fit(X).medoid_indices_))
        benchmark.extra_info.update(loss_vecclust=ref["loss"], loss_pyclustering=own["loss"],
                                    rel_loss_diff=(own["loss"] - ref["loss"]) / ref["loss"])
    benchmark.extra_info.update(own, quick=QUICK)
