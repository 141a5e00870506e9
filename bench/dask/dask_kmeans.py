"""vecclust.dask.KMeans vs dask_ml.cluster.KMeans on one LocalCluster, the same data, one run.

Gaussian blobs (n x d float32, `--centers` centres in (-10, 10)^d, cluster_std `--std`) are
generated block by block on the workers and persisted there; both libraries get the same dask
array. Two rows per library:
* "lloyd": from the same initial centres (vecclust's k-means++ on a sample, computed once, untimed);
  both stop on the same rule (summed squared centre shift below
  1e-4 x the mean per-feature variance: vecclust's relative tol, given to dask-ml as its
  absolute tol) or at max_iter;
* "fit": each library's default initialisation (k-means||) and fit.
Also vecclust.dask.CLARA on the same data (`--clara`). Prints one JSON object.

    python bench/dask/dask_kmeans.py --n 4000000 --d 32 --k 100
"""

from __future__ import annotations

import argparse
import json
import time

import dask.array as da
import numpy as np
from distributed import Client, LocalCluster

import vecclust.dask as vdask
from vecclust import _core
from vecclust._dask.init import pass_sums


def import_dask_ml_kmeans():
    """dask_ml.cluster.KMeans; dask-ml 2024.4.4 imports a helper that scikit-learn 1.6 removed
    (used only by its model selection, never by KMeans), so a stand-in is provided first."""
    import sklearn.utils._tags as tags

    if not hasattr(tags, "_safe_tags"):
        tags._safe_tags = lambda estimator, key=None: {} if key is None else False
    from dask_ml.cluster import KMeans

    return KMeans


def blobs(n, d, centers, std, rows_per_block, seed=0):
    """Gaussian blobs built per block (seeded by the block index), float32."""
    means = np.random.default_rng(seed).uniform(-10, 10, size=(centers, d)).astype(np.float32)

    def block(block_id=None, block_info=None):
        rows = block_info[None]["chunk-shape"][0]
        rng = np.random.default_rng([seed, block_id[0]])
        labels = rng.integers(centers, size=rows)
        return (means[labels] + std * rng.standard_normal((rows, d), dtype=np.float32)).astype(np.float32)

    chunks = (tuple(min(rows_per_block, n - s) for s in range(0, n, rows_per_block)), (d,))
    return da.map_blocks(block, chunks=chunks, dtype=np.float32, meta=np.empty((0, d), np.float32))


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4_000_000)
    parser.add_argument("--d", type=int, default=32)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--centers", type=int, default=100)
    parser.add_argument("--std", type=float, default=2.0)
    parser.add_argument("--rows-per-block", type=int, default=250_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-iter", type=int, default=300)
    parser.add_argument("--skip-dask-ml-fit", action="store_true", help="omit dask-ml's k-means|| row (slow)")
    parser.add_argument("--clara", action="store_true")
    args = parser.parse_args()

    DaskMLKMeans = import_dask_ml_kmeans()
    out = {"n": args.n, "d": args.d, "k": args.k, "workers": args.workers, "threads_per_worker": 1}
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=":0",
                      memory_limit="6GiB") as cluster, Client(cluster) as client:
        X = blobs(args.n, args.d, args.centers, args.std, args.rows_per_block).persist()
        X.sum().compute()  # generated before any timing
        # The shared initial centres: k-means++ on a uniform sample of 100 k rows.
        sample = np.sort(np.random.default_rng(0).choice(args.n, size=100 * args.k, replace=False))
        init = _core.kmeans_plusplus(np.ascontiguousarray(X[sample].compute()), n_clusters=args.k, seed=0,
                                     sample_weight=None, n_threads=1)
        stats = X.astype(np.float64).var(axis=0).mean().compute()
        absolute_tol = 1e-4 * float(stats)

        runs = {
            "vecclust_lloyd": lambda: vdask.KMeans(args.k, init=init, max_iter=args.max_iter).fit(X),
            "dask_ml_lloyd": lambda: DaskMLKMeans(args.k, init=init, max_iter=args.max_iter, tol=absolute_tol,
                                                  n_init=1).fit(X),
            "vecclust_fit": lambda: vdask.KMeans(args.k, random_state=0, max_iter=args.max_iter).fit(X),
            "dask_ml_fit": lambda: DaskMLKMeans(args.k, random_state=0, max_iter=args.max_iter, tol=absolute_tol,
                                                n_init=1).fit(X),
        }
        if args.skip_dask_ml_fit:
            del runs["dask_ml_fit"]
        fits = {}
        for name, run in runs.items():
            fits[name], t = timed(run)
            out[name] = {"seconds": t, "n_iter": int(fits[name].n_iter_)}
        # dask-ml's inertia_ sums unsquared distances: both libraries' centres are scored the same
        # way here, by the sum of squared distances to the nearest centre.
        for name, fitted in fits.items():
            out[name]["inertia"] = pass_sums(X, np.ascontiguousarray(fitted.cluster_centers_, dtype=np.float32), 1)[2]
            out[name]["own_inertia_"] = fitted.inertia_
        for row in ("lloyd", "fit"):
            if f"dask_ml_{row}" in out:
                out[f"speedup_{row}"] = out[f"dask_ml_{row}"]["seconds"] / out[f"vecclust_{row}"]["seconds"]
                out[f"inertia_ratio_{row}"] = out[f"vecclust_{row}"]["inertia"] / out[f"dask_ml_{row}"]["inertia"]
        if args.clara:
            fit, t = timed(lambda: vdask.CLARA(args.k, random_state=0).fit(X))
            out["vecclust_clara"] = {"seconds": t, "inertia": fit.inertia_}
        out["peak_worker_memory_bytes"] = max(client.run(peak_rss).values())
    print(json.dumps(out, indent=1))


def peak_rss():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


if __name__ == "__main__":
    main()
