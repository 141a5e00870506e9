"""vecclust.dask on 1 and 2 workers: time and peak worker memory of KMeans (and dask-ml's KMeans
from the same centres), CLARA and PPP, with PPP's labels checked against vecclust.PPP fitted in
memory on the same rows.

Each (method, worker count) runs on a fresh LocalCluster of 1-thread workers, so each peak
resident memory is that method's; the data (Gaussian blobs, float32, generated per block on the
workers from the same seeds) is persisted before the clock starts. Prints one JSON object and,
with --out, writes it there.

    python bench/dask/dask_scaling.py --n 1000000 --d 16 --k 20 --out bench/results/dask_scaling.json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from dask_kmeans import blobs, import_dask_ml_kmeans, peak_rss, timed
from distributed import Client, LocalCluster

import vecclust
import vecclust.dask as vdask


def methods(args, init):
    DaskMLKMeans = import_dask_ml_kmeans()
    return {
        "vecclust_kmeans": lambda X: vdask.KMeans(args.k, init=init, max_iter=args.max_iter, tol=0.0).fit(X),
        "dask_ml_kmeans": lambda X: DaskMLKMeans(args.k, init=init, max_iter=args.max_iter, tol=0.0, n_init=1).fit(X),
        "vecclust_clara": lambda X: vdask.CLARA(args.k, random_state=0).fit(X),
        "vecclust_ppp": lambda X: vdask.PPP().fit(X),
    }


def run(args, name, workers, init):
    """One method on a fresh cluster: seconds, peak worker memory and the fitted estimator's labels
    (for PPP)."""
    with LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=":0",
                      memory_limit="4GiB") as cluster, Client(cluster) as client:
        X = blobs(args.n, args.d, args.centers, args.std, args.rows_per_block).persist()
        X.sum().compute()
        fitted, seconds = timed(lambda: methods(args, init)[name](X))
        row = {"seconds": seconds, "peak_worker_memory_mb": max(client.run(peak_rss).values()) / 2**20}
        if name == "vecclust_ppp":
            row["n_clusters"], row["n_passes"] = fitted.n_clusters_, fitted.n_passes_
            row["labels"] = fitted.labels_.compute()
        if hasattr(fitted, "n_iter_"):
            row["n_iter"] = int(fitted.n_iter_)
        return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--d", type=int, default=16)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--centers", type=int, default=20)
    parser.add_argument("--std", type=float, default=1.0)
    parser.add_argument("--rows-per-block", type=int, default=125_000)
    parser.add_argument("--max-iter", type=int, default=10, help="k-means iterations (tol=0: both run them all)")
    parser.add_argument("--methods", default="vecclust_kmeans,dask_ml_kmeans,vecclust_clara,vecclust_ppp")
    parser.add_argument("--out")
    args = parser.parse_args()

    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0") as cluster, Client(cluster):
        X = blobs(args.n, args.d, args.centers, args.std, args.rows_per_block).compute()
    init = np.ascontiguousarray(X[np.random.default_rng(0).choice(args.n, args.k, replace=False)])
    out = {"n": args.n, "d": args.d, "k": args.k, "threads_per_worker": 1, "rows_per_block": args.rows_per_block}
    names = args.methods.split(",")
    if "vecclust_ppp" in names:
        memory, seconds = timed(lambda: vecclust.PPP(n_threads=1).fit(X))
        out["in_memory_ppp"] = {"seconds": seconds, "n_clusters": memory.n_clusters_}
    for name in names:
        for workers in (1, 2):
            row = run(args, name, workers, init)
            if "labels" in row:
                row["labels_identical_to_in_memory"] = bool(np.array_equal(row.pop("labels"), memory.labels_))
            out[f"{name}_{workers}w"] = row
            print(name, workers, row, flush=True)
        out[f"{name}_speedup_2w_over_1w"] = out[f"{name}_1w"]["seconds"] / out[f"{name}_2w"]["seconds"]
    if "dask_ml_kmeans" in names and "vecclust_kmeans" in names:
        for workers in (1, 2):
            out[f"kmeans_speedup_vs_dask_ml_{workers}w"] = (out[f"dask_ml_kmeans_{workers}w"]["seconds"]
                                                          / out[f"vecclust_kmeans_{workers}w"]["seconds"])
    print(json.dumps(out, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
