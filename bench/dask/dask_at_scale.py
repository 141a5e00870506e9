"""vecclust.dask at the issue's sizes, on one LocalCluster of 1-thread workers, data read from disk.

* kmeans: vecclust.dask.KMeans vs dask_ml.cluster.KMeans, 4,000,000 x 32 float32, k = 100, from
  the same initial centres (k-means++ on 100 k uniform rows, untimed) with the same stopping
  rule (summed squared centre shift below 1e-4 x the mean per-feature variance: vecclust's
  relative tol, given to dask-ml as its absolute tol). The array is read from disk and persisted
  on the workers before the clock starts (dask-ml asks for persisted input); both fits' centres
  are scored by the same pass (sum of squared distances; dask-ml's inertia_ sums unsquared ones).
* ppp: vecclust.dask.PPP (defaults) on 20,000,000 x 16 float32 read from disk at every pass; its
  labels compared with vecclust.PPP fitted in memory on the same rows.
* clara: vecclust.dask.CLARA(100, random_state=0) on the same rows, read from disk; its loss
  compared with vecclust.CLARA fitted in memory on the distributed fit's best sample
  (clara_reference.py) and with vecclust.CLARA's defaults on its own samples.

The data (Gaussian blobs of unequal sizes and spreads, disk_blocks.py) are written once to
~/.cache/vecclust-bench/dask/ (VECCLUST_BENCH_CACHE overrides) and reused. Each (method,
number of workers) runs on a fresh cluster; every timed step records wall seconds, the workers'
and the client's CPU seconds and each worker's sampled peak resident memory (worker_monitor.py).
`--scale 0.1` runs a tenth of every size. Prints each row as it ends and writes one JSON file.

    python bench/dask/dask_at_scale.py --methods kmeans ppp clara --workers 2 1
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
from clara_reference import clara_on_sample
from dask_kmeans import import_dask_ml_kmeans
from disk_blocks import Blobs, ensure, load_numpy, open_dask
from worker_monitor import Step

import vecclust
import vecclust.dask as vdask
from vecclust import _core
from vecclust._dask.init import pass_sums


def load_average():
    return [round(v, 2) for v in os.getloadavg()]


def cluster(workers, memory_limit):
    from distributed import Client, LocalCluster

    local = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                         memory_limit=memory_limit)
    return local, Client(local)


def timed_fit(client, fit):
    """(fitted, the step's row with the load average at its end)."""
    with Step(client) as step:
        fitted = fit()
    return fitted, {**step.row(), "load_average": load_average()}


class Bench:
    def __init__(self, args):
        self.args, self.out = args, {"scale": args.scale, "rows": {}}
        s = args.scale
        self.kmeans_data = Blobs(int(4_000_000 * s), 32, 100, args.rows_per_block)
        self.big_data = Blobs(int(20_000_000 * s), 16, 40, args.rows_per_block)
        self._memory, self._ppp_labels = {}, None

    def record(self, name, row):
        self.out["rows"][name] = row
        print(name, json.dumps(row), flush=True)
        if self.args.out:
            with open(self.args.out, "w") as f:
                json.dump(self.out, f, indent=1)

    def in_memory(self, spec):
        """All rows of spec in the client (loaded once)."""
        if spec not in self._memory:
            self._memory[spec] = load_numpy(ensure(spec))
        return self._memory[spec]

    # ---------------------------------------------------------------------- k-means

    def kmeans(self, workers):
        path = ensure(self.kmeans_data)
        X_all = self.in_memory(self.kmeans_data)
        k = 100
        sample = np.sort(np.random.default_rng(0).choice(len(X_all), size=min(len(X_all), 100 * k), replace=False))
        init = _core.kmeans_plusplus(np.ascontiguousarray(X_all[sample]), n_clusters=k, seed=0, sample_weight=None,
                                     n_threads=1)
        tol = 1e-4 * float(X_all.astype(np.float64).var(axis=0).mean())
        local, client = cluster(workers, self.args.memory_limit)
        with local, client:
            X = open_dask(path).persist()
            X.sum().compute()
            fits = {"vecclust_kmeans": lambda: vdask.KMeans(k, init=init, tol=1e-4).fit(X)}
            if workers in self.args.peer_workers:
                DaskMLKMeans = import_dask_ml_kmeans()
                fits["dask_ml_kmeans"] = lambda: DaskMLKMeans(k, init=init, tol=tol, n_init=1).fit(X)
            for name, fit in fits.items():
                fitted, row = timed_fit(client, fit)
                centers = np.ascontiguousarray(fitted.cluster_centers_, dtype=np.float32)
                row.update(n_iter=int(fitted.n_iter_), inertia=pass_sums(X, centers, 1)[2])
                self.record(f"{name}_{workers}w", row)
        base, peer = (self.out["rows"].get(f"{m}_{workers}w") for m in ("vecclust_kmeans", "dask_ml_kmeans"))
        if peer:
            self.record(f"kmeans_vs_dask_ml_{workers}w", {
                "speedup_wall": peer["seconds"] / base["seconds"],
                "speedup_cpu": ((peer["worker_cpu_seconds"] + peer["client_cpu_seconds"])
                                / (base["worker_cpu_seconds"] + base["client_cpu_seconds"])),
                "inertia_ratio": base["inertia"] / peer["inertia"]})

    # ---------------------------------------------------------------------- PPP

    def ppp_memory(self):
        X = self.in_memory(self.big_data)
        start, cpu = time.perf_counter(), time.process_time()
        fit = vecclust.PPP(n_threads=self.args.memory_threads).fit(X)
        self.record("memory_ppp", {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
                                   "n_clusters": int(fit.n_clusters_), "threads": self.args.memory_threads,
                                   "load_average": load_average()})
        return fit.labels_

    def ppp(self, workers):
        path = ensure(self.big_data)
        if self._ppp_labels is None:
            self._ppp_labels = self.ppp_memory()
        local, client = cluster(workers, self.args.memory_limit)
        with local, client:
            fitted, row = timed_fit(client, lambda: vdask.PPP().fit(open_dask(path)))
            labels = fitted.labels_.compute()
        row.update(n_clusters=int(fitted.n_clusters_), n_passes=int(fitted.n_passes_),
                   labels_identical_to_in_memory=bool(np.array_equal(labels, self._ppp_labels)))
        self.record(f"vecclust_ppp_{workers}w", row)

    # ---------------------------------------------------------------------- CLARA

    def clara(self, workers):
        path = ensure(self.big_data)
        k = 100
        local, client = cluster(workers, self.args.memory_limit)
        with local, client:
            fitted, row = timed_fit(client, lambda: vdask.CLARA(k, random_state=0).fit(open_dask(path)))
        row.update(inertia=fitted.inertia_, sample_losses=fitted.sample_losses_.tolist(),
                   refine_losses=fitted.refine_losses_.tolist())
        self.record(f"vecclust_clara_{workers}w", row)
        if "memory_clara_same_sample" not in self.out["rows"]:
            self.clara_memory(fitted)
        reference = self.out["rows"]["memory_clara_same_sample"]["inertia"]
        self.record(f"clara_vs_memory_{workers}w", {"loss_ratio": fitted.inertia_ / reference})

    def clara_memory(self, distributed_fit):
        X = self.in_memory(self.big_data)
        k = 100
        best = distributed_fit.best_sample_
        rows = {"memory_clara_same_sample": lambda: clara_on_sample(
                    X, distributed_fit.sample_indices_[best], k, random_state=0, n_threads=self.args.memory_threads)[0],
                "memory_clara_own_samples": lambda: vecclust.CLARA(k, random_state=0,
                                                                   n_threads=self.args.memory_threads).fit(X)}
        for name, fit in rows.items():
            start, cpu = time.perf_counter(), time.process_time()
            fitted = fit()
            row = {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
                   "inertia": fitted.inertia_, "sample_losses": fitted.sample_losses_.tolist(),
                   "threads": self.args.memory_threads, "load_average": load_average()}
            if name == "memory_clara_same_sample":
                # the same sample: its loss before refinement equals the distributed fit's
                row["same_sample_loss_rel_diff"] = abs(fitted.sample_losses_[0] / distributed_fit.sample_losses_[best]
                                                       - 1)
            self.record(name, row)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["kmeans", "ppp", "clara"],
                        choices=["kmeans", "ppp", "clara"])
    parser.add_argument("--workers", nargs="+", type=int, default=[2, 1])
    parser.add_argument("--peer-workers", nargs="*", type=int, default=[2],
                        help="worker counts at which dask-ml runs too (it is slow)")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the issue's sizes")
    parser.add_argument("--rows-per-block", type=int, default=500_000)
    parser.add_argument("--memory-limit", default="6GiB", help="per worker")
    parser.add_argument("--memory-threads", type=int, default=2, help="threads of the in-memory references")
    parser.add_argument("--out", default="bench/results/dask_at_scale.json")
    args = parser.parse_args()
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    bench = Bench(args)
    bench.out.update(workers=args.workers, cpu_count=os.cpu_count(), load_average_at_start=load_average())
    for method in args.methods:
        for workers in args.workers:
            getattr(bench, method)(workers)


if __name__ == "__main__":
    main()
