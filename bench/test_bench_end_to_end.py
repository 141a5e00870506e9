"""End to end, from float32 features to medoids (euclidean, k=100, the same initial medoids):

* kmedoids: sklearn.metrics.pairwise_distances(X) then kmedoids.fasterpam(D, init);
* vecclust: vecclust.KMedoids(metric="euclidean", init=init).fit(X), which computes the
  distance matrix in C++ (precompute=True, what "auto" picks whenever the matrix fits).

threads="1" limits the BLAS pools (used by sklearn's euclidean distances) to one thread and
runs both libraries single-threaded; threads="all" leaves BLAS at its default and gives both
libraries all CPUs. Single-threaded, the losses must agree to rel 1e-5 (the float32
distances come from different code, so they may differ in the last bits); the relative
difference is recorded either way.
"""

import contextlib

import kmedoids
import numpy as np
import pytest
import vecclust
from benchconfig import END_TO_END_K, END_TO_END_N, END_TO_END_ROUNDS, LIBRARIES, MAX_ITER, THREADS, all_cpus, loss_pair_info
from sklearn.metrics import pairwise_distances
from threadpoolctl import threadpool_limits


def thread_limit(threads):
    return threadpool_limits(limits=1) if threads == "1" else contextlib.nullcontext()


def prepare(library, threads):
    """Untimed per-round setup: fixes the seed kmedoids' parallel version draws its shuffle from."""
    if library == "kmedoids" and threads == "all":
        np.random.seed(0)


def run(library, threads, X, init):
    if library == "kmedoids":
        D = pairwise_distances(X, metric="euclidean")
        r = kmedoids.fasterpam(D, init, max_iter=MAX_ITER, n_cpu=1 if threads == "1" else all_cpus())
        return {"loss": float(r.loss), "n_swap": int(r.n_swap), "n_iter": int(r.n_iter)}
    model = vecclust.KMedoids(n_clusters=len(init), metric="euclidean", init=init, max_iter=MAX_ITER,
                              precompute=True, n_threads=1 if threads == "1" else None).fit(X)
    return {"loss": float(model.inertia_), "n_swap": int(model.n_swaps_), "n_iter": int(model.n_iter_)}


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"threads{t}")
def test_end_to_end(benchmark, bench_data, threads, library):
    n, k = END_TO_END_N, END_TO_END_K
    X = bench_data.blobs(n)
    init = bench_data.initial_medoids(n, k)
    benchmark.group = f"end-to-end n={n} k={k} threads={threads}"
    benchmark.extra_info.update(bench="end_to_end", n=n, k=k, threads=threads, library=library,
                                n_threads=1 if threads == "1" else all_cpus())

    def setup():
        prepare(library, threads)
        return (library, threads, X, init.copy()), {}

    with thread_limit(threads):
        own = benchmark.pedantic(run, setup=setup, rounds=END_TO_END_ROUNDS, iterations=1)
    bench_data.store(("end_to_end", library, n, k, threads), own)

    other = "kmedoids" if library == "vecclust" else "vecclust"

    def run_other():  # untimed, once per session
        prepare(other, threads)
        with thread_limit(threads):
            return run(other, threads, X, init.copy())

    ref = bench_data.result(("end_to_end", other, n, k, threads), run_other)
    benchmark.extra_info.update(loss_pair_info(own, library, ref["loss"]))
    if threads == "1":
        assert own["loss"] == pytest.approx(ref["loss"], rel=1e-5)
