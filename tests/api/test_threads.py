"""Thread counts: capped at a sane multiple of the CPUs, and a failure to start threads is a
clear exception with every started thread joined (it used to abort or hang the process)."""

import concurrent.futures
import os
import pickle
import resource
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import vecclust
from vecclust._utils.validation import MAX_THREADS_PER_CPU, available_cpus, effective_n_threads

# Under an address-space limit a little above what the process uses, the pool can start two or
# three threads (8 MiB stacks) before the system refuses the next one; even on one CPU, 8 is
# capped to 4, more than fit.
SCRIPT = textwrap.dedent(
    """
    import resource, numpy as np, vecclust
    X = np.random.default_rng(0).random((300, 4)).astype(np.float32)
    fits = {
        "KMedoids": lambda: vecclust.KMedoids(3, n_threads=8).fit(X),
        "KMeans": lambda: vecclust.KMeans(3, n_threads=8).fit(X),
        "MultiTenantIndex": lambda: vecclust.MultiTenantIndex(4, n_threads=8).train(X),
    }
    # Warm up on one thread: everything is loaded and allocated once.
    vecclust.KMedoids(3, n_threads=1).fit(X)
    vecclust.KMeans(3, n_threads=1).fit(X)
    vecclust.MultiTenantIndex(4, n_threads=1).train(X)
    size = int([line for line in open("/proc/self/status") if line.startswith("VmSize")][0].split()[1]) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (size + 20 * 2**20, resource.RLIM_INFINITY))
    for name, fit in fits.items():
        try:
            fit()
            print(name, "fitted")
        except RuntimeError as error:
            print(name, "error:", error)
    print("done")
    """
)


def test_thread_counts_are_capped():
    cap = MAX_THREADS_PER_CPU * available_cpus()
    assert effective_n_threads(10**6) == cap
    assert effective_n_threads(cap) == cap
    assert effective_n_threads(1) == 1
    X = np.random.default_rng(0).random((300, 4))
    start = time.perf_counter()
    many = vecclust.KMedoids(3, random_state=0, n_threads=10**6).fit(X)
    assert time.perf_counter() - start < 10  # a million threads took minutes
    one = vecclust.KMedoids(3, random_state=0, n_threads=1).fit(X)
    np.testing.assert_array_equal(many.medoid_indices_, one.medoid_indices_)


@pytest.mark.skipif(bool(os.environ.get("VECCLUST_SANITIZED")), reason="AddressSanitizer needs an unlimited address space")
def test_failing_to_start_threads_is_an_error_not_a_hang():
    def eight_mib_stacks():
        resource.setrlimit(resource.RLIMIT_STACK, (8 * 2**20, resource.RLIM_INFINITY))

    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120,
                          preexec_fn=eight_mib_stacks)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1] == "done"
    for name in ("KMedoids", "KMeans", "MultiTenantIndex"):
        (line,) = [line for line in lines if line.startswith(name + " ")]
        assert "could not start" in line and "use a smaller n_threads" in line, line


def fit_everything(X, seed):
    """The fitted results of every estimator (and an index's search) on X, as bytes."""
    index = vecclust.MultiTenantIndex(X.shape[1], split_threshold=16, random_state=seed, n_threads=2)
    index.train(X)
    index.add(X, np.arange(len(X)), seed % 3)
    return pickle.dumps([
        vecclust.KMedoids(4, random_state=seed, n_threads=2).fit(X).medoid_indices_,
        vecclust.CLARA(4, random_state=seed, n_threads=2).fit(X).medoid_indices_,
        vecclust.CLARANS(4, random_state=seed, n_threads=2).fit(X).medoid_indices_,
        vecclust.KMeans(4, random_state=seed, n_threads=2).fit(X).cluster_centers_,
        vecclust.GaussianMixture(3, random_state=seed, n_threads=2).fit(X).means_,
        vecclust.PPP(random_state=seed, n_threads=2).fit(X).labels_,
        index.search(X[:10], seed % 3, k=3),
    ])


def test_distinct_objects_in_distinct_threads_are_independent():
    X = np.random.default_rng(5).normal(size=(400, 6)).astype(np.float32)
    X[:200] += 4
    seeds = list(range(4))
    serial = [fit_everything(X, seed) for seed in seeds]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda seed: fit_everything(X, seed), seeds))
    assert parallel == serial
