"""CLARA and CLARANS, with and without the refinement on all points, against full FasterPAM:
loss and speed ratios measured in one run.

    python bench/kmedoids/refine_quality.py                       # n=20000 x 16 float32, k=50
    python bench/kmedoids/refine_quality.py --datasets digits --k 10 --threads 1

Data sets (all float32, nothing downloaded): `blobs` is make_blobs(n, 16, centers=50,
random_state=0); `random_cov` has 50 Gaussian clusters, each with its own random covariance
(random_covariance_clusters); `classification` is make_classification(n, 16, 10 informative
features, 5 classes of 4 clusters each); `digits` is scikit-learn's bundled digits (1797 x 64).

Methods: `fasterpam` is vecclust.KMedoids (FasterPAM on its n x n matrix, whose computation is
in the time); `clara` and `clarans` the estimators with their defaults; `*_plain` the same
with refine=False; `clara_noswap` refines without the swap rounds (swap_candidates=0); `peer` is scikit-learn pairwise_distances + kmedoids.fasterpam (random
init, the same max_iter). `dask_clara`, `dask_clara_noswap` and `dask_clara_plain` are
vecclust.dask.CLARA in the same three settings on X cut into 8 blocks, on Dask's synchronous
scheduler with 1 thread and its threaded scheduler otherwise (no cluster: the passes' cost
without the transfers); the refinement's time is `dask_clara`'s less `dask_clara_plain`'s. Every method gets random_state=0. Times are the median of --repeats
fits; "speed-up" is FasterPAM's median time over the method's, at the same thread setting;
"loss" is the method's total deviation over FasterPAM's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np

METHODS = ("fasterpam", "clara", "clara_noswap", "clara_plain", "clarans", "clarans_plain", "peer", "dask_clara",
           "dask_clara_noswap", "dask_clara_plain")
DASK_SETTINGS = {"dask_clara": {}, "dask_clara_noswap": {"swap_candidates": 0}, "dask_clara_plain": {"refine": False}}


def random_covariance_clusters(n, n_features=16, n_centers=50, seed=0):
    """n points from n_centers Gaussian clusters with centres uniform in [-10, 10]^d, each with
    the covariance A A^T of its own random A (entries N(0, s^2 / d), s uniform in [0.5, 2]), so
    clusters are elongated in random directions and differ in spread."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-10.0, 10.0, size=(n_centers, n_features))
    shapes = rng.normal(size=(n_centers, n_features, n_features)) / np.sqrt(n_features)
    shapes *= rng.uniform(0.5, 2.0, size=(n_centers, 1, 1))
    labels = rng.integers(0, n_centers, size=n)
    z = rng.normal(size=(n, n_features))
    X = centers[labels] + np.einsum("ij,ijk->ik", z, shapes[labels])
    return np.ascontiguousarray(X, dtype=np.float32)


def dataset(name, n):
    from sklearn import datasets

    if name == "blobs":
        X, _ = datasets.make_blobs(n_samples=n, n_features=16, centers=50, random_state=0)
    elif name == "random_cov":
        X = random_covariance_clusters(n)
    elif name == "classification":
        X, _ = datasets.make_classification(n_samples=n, n_features=16, n_informative=10, n_redundant=2,
                                            n_classes=5, n_clusters_per_class=4, random_state=0)
    elif name == "digits":
        X = datasets.load_digits().data
    else:
        raise ValueError(name)
    return np.ascontiguousarray(X, dtype=np.float32)


def total_deviation(X, medoids):
    """Sum over all points of the euclidean distance to the nearest medoid, in float64, blockwise."""
    X = np.asarray(X, dtype=np.float64)
    M = X[np.asarray(medoids, dtype=np.int64)]
    total = 0.0
    for start in range(0, len(X), 4096):
        block = X[start:start + 4096]
        d2 = (block**2).sum(1)[:, None] - 2 * block @ M.T + (M**2).sum(1)[None, :]
        total += float(np.sqrt(np.maximum(d2.min(axis=1), 0.0)).sum())
    return total


def fit_dask(settings, X, k, n_threads):
    import dask
    import dask.array as da
    import vecclust.dask

    blocks = da.from_array(X, chunks=(-(-len(X) // 8), -1))
    with dask.config.set(scheduler="synchronous" if n_threads == 1 else "threads"):
        model = vecclust.dask.CLARA(k, random_state=0, **settings)
        t0 = time.perf_counter()
        model.fit(blocks)
        seconds = time.perf_counter() - t0
    return seconds, model.medoid_indices_, float(model.inertia_)


def fit(method, X, k, n_threads):
    """(seconds, medoids, inertia as the method reports it) of one fit."""
    import vecclust

    common = dict(random_state=0, n_threads=n_threads)
    models = {
        "fasterpam": lambda: vecclust.KMedoids(k, **common),
        "clara": lambda: vecclust.CLARA(k, **common),
        "clara_noswap": lambda: vecclust.CLARA(k, swap_candidates=0, **common),
        "clara_plain": lambda: vecclust.CLARA(k, refine=False, **common),
        "clarans": lambda: vecclust.CLARANS(k, **common),
        "clarans_plain": lambda: vecclust.CLARANS(k, refine=False, **common),
    }
    if method in DASK_SETTINGS:
        return fit_dask(DASK_SETTINGS[method], X, k, n_threads)
    if method == "peer":
        import kmedoids
        from sklearn.metrics import pairwise_distances
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=n_threads):
            t0 = time.perf_counter()
            D = pairwise_distances(X, metric="euclidean", n_jobs=n_threads)
            result = kmedoids.fasterpam(D, k, max_iter=100, init="random", random_state=0,
                                        n_cpu=-1 if n_threads is None else n_threads)
            seconds = time.perf_counter() - t0
        del D
        return seconds, np.asarray(result.medoids), float(result.loss)
    model = models[method]()
    t0 = time.perf_counter()
    model.fit(X)
    return time.perf_counter() - t0, model.medoid_indices_, float(model.inertia_)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--datasets", nargs="+", default=["blobs", "random_cov", "classification"])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--threads", nargs="+", default=["1", "all"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    methods = ["fasterpam"] + [m for m in args.methods if m != "fasterpam"]
    rows = []
    print(f"{'data':<15}{'threads':>8}  {'method':<14}{'median s':>10}{'speed-up':>10}{'loss':>9}{'inertia':>16}")
    for name in args.datasets:
        X = dataset(name, args.n)
        for threads in args.threads:
            n_threads = 1 if threads == "1" else None
            reference = None
            for method in methods:
                runs = [fit(method, X, args.k, n_threads) for _ in range(args.repeats)]
                seconds = statistics.median(r[0] for r in runs)
                loss = total_deviation(X, runs[0][1])
                if method == "fasterpam":
                    reference = (seconds, loss)
                row = dict(data=name, n=len(X), k=args.k, threads=threads, method=method, seconds=seconds,
                           speedup=reference[0] / seconds, loss=loss, loss_ratio=loss / reference[1],
                           inertia=runs[0][2], cpus=os.cpu_count())
                rows.append(row)
                print(f"{name:<15}{threads:>8}  {method:<14}{seconds:>10.4f}{row['speedup']:>10.2f}"
                      f"{row['loss_ratio']:>9.4f}{row['inertia']:>16.6g}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
