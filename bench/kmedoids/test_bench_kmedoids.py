"""FasterPAM on a precomputed float32 distance matrix: vecclust vs kmedoids.

Both libraries start from the same initial medoids. With one thread both scan the swap
candidates in index order, so they must reach exactly the same loss (asserted). With all
threads kmedoids processes the candidates in a shuffled order (its seed comes from numpy's
global generator, which each round's setup resets to 0), so the losses are only recorded.
The distance matrix is built once per session and never timed.
"""

import kmedoids
import numpy as np
import pytest
import vecclust
from benchconfig import KS, LIBRARIES, MAX_ITER, SIZES, THREADS, all_cpus, loss_pair_info, rounds_for


def n_threads_of(library, threads):
    if threads == "1":
        return 1
    return None if library == "vecclust" else all_cpus()  # vecclust: None means all CPUs


def prepare(library, threads):
    """Untimed per-round setup: fixes the seed kmedoids' parallel version draws its shuffle from."""
    if library == "kmedoids" and threads == "all":
        np.random.seed(0)


def run(library, threads, D, init):
    if library == "vecclust":
        return vecclust.fasterpam(D, init, max_iter=MAX_ITER, n_threads=n_threads_of(library, threads))
    return kmedoids.fasterpam(D, init, max_iter=MAX_ITER, n_cpu=n_threads_of(library, threads))


def summary(result):
    return {"loss": float(result.loss), "n_swap": int(result.n_swap), "n_iter": int(result.n_iter)}


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"threads{t}")
@pytest.mark.parametrize("k", KS, ids=lambda k: f"k{k}")
@pytest.mark.parametrize("n", SIZES, ids=lambda n: f"n{n}")
def test_fasterpam(benchmark, bench_data, n, k, threads, library):
    D = bench_data.distance_matrix(n)
    init = bench_data.initial_medoids(n, k)
    benchmark.group = f"fasterpam n={n} k={k} threads={threads}"
    benchmark.extra_info.update(bench="fasterpam", n=n, k=k, threads=threads, library=library,
                                n_threads=n_threads_of(library, threads) or all_cpus())

    def setup():
        prepare(library, threads)
        return (library, threads, D, init.copy()), {}

    own = summary(benchmark.pedantic(run, setup=setup, rounds=rounds_for(n), iterations=1))
    bench_data.store(("fasterpam", library, n, k, threads), own)

    other = "kmedoids" if library == "vecclust" else "vecclust"

    def run_other():  # untimed, once per session
        prepare(other, threads)
        return summary(run(other, threads, D, init.copy()))

    ref = bench_data.result(("fasterpam", other, n, k, threads), run_other)
    benchmark.extra_info.update(loss_pair_info(own, library, ref["loss"]))
    if threads == "1":  # the same start and the same candidate order: the same local optimum
        assert own["loss"] == pytest.approx(ref["loss"], rel=1e-9)
