"""What a build option buys at run time: representative calls timed against several builds.

Each build is a directory holding an importable `vecclust` package (the Python sources with
that build's `_core`). The builds run in turn, in fresh processes, for `--rounds` rounds, so
that all of them see the same machine load; the table gives each call's median time and its
ratio to the first build (> 1: slower than the first).

    python bench/build_options.py DIR_A DIR_B ...          # DIR/vecclust/_core*.so
    python bench/build_options.py --quick DIR_A DIR_B      # smaller sizes, for a smoke run
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CALLS = ("fasterpam 5000", "kmeans 100k x 16", "gmm full 100k x 10", "index search")


def time_calls(quick):
    """One timing (best of `repeat`) of each call, single-threaded, in this process."""
    import numpy as np
    from sklearn.datasets import make_blobs

    import vecclust as vc

    scale = 5 if quick else 1
    repeat = 3
    rng = np.random.default_rng(0)
    out = {}

    def best(fn):
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    n = 5000 // scale
    X, _ = make_blobs(n, 32, centers=20, random_state=0)
    from vecclust import _core

    D = _core.pairwise_distances(X.astype(np.float32), X.astype(np.float32), metric="euclidean", n_threads=1)
    D = (D + D.T) / 2
    np.fill_diagonal(D, 0)
    init = rng.choice(n, 100, replace=False)
    out[CALLS[0]] = best(lambda: vc.fasterpam(D, init, n_threads=1))

    X, _ = make_blobs(100_000 // scale, 16, centers=100, random_state=0)
    X = X.astype(np.float32)
    out[CALLS[1]] = best(lambda: vc.KMeans(100, n_init=1, max_iter=50, random_state=0, n_threads=1).fit(X))

    X, _ = make_blobs(100_000 // scale, 10, centers=10, random_state=0)
    out[CALLS[2]] = best(
        lambda: vc.GaussianMixture(10, covariance_type="full", max_iter=20, tol=0, random_state=0, n_threads=1).fit(X)
    )

    X = rng.normal(size=(50_000 // scale, 64)).astype(np.float32)
    index = vc.MultiTenantIndex(64, random_state=0, n_threads=1).train(X)
    for tenant in range(10):
        index.add(X[tenant::10], np.arange(tenant, len(X), 10), tenant)
    index.grant(np.arange(0, len(X), 3), 11)
    Q = rng.normal(size=(2000 // scale, 64)).astype(np.float32)
    out[CALLS[3]] = best(lambda: index.search(Q, 11, k=10, budget=2048))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("builds", nargs="*", help="directories holding a vecclust package each")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(time_calls(args.quick)))
        return
    if not args.builds:
        parser.error("give at least one build directory")
    times = {build: {call: [] for call in CALLS} for build in args.builds}
    for _ in range(args.rounds):
        for build in args.builds:
            env = dict(os.environ, PYTHONPATH=os.path.abspath(build), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
            command = [sys.executable, os.path.abspath(__file__), "--child"] + (["--quick"] if args.quick else [])
            result = json.loads(subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout)
            for call in CALLS:
                times[build][call].append(result[call])
    first = args.builds[0]
    names = [os.path.basename(os.path.normpath(build)) for build in args.builds]
    print("| call | " + " | ".join(f"{name} (s)" for name in names) + " | " + " | ".join(f"{name} / {names[0]}" for name in names[1:]) + " |")
    print("|---" * (2 * len(names)) + "|")
    for call in CALLS:
        medians = [statistics.median(times[build][call]) for build in args.builds]
        ratios = [m / statistics.median(times[first][call]) for m in medians[1:]]
        print(f"| {call} | " + " | ".join(f"{m:.3f}" for m in medians) + " | " + " | ".join(f"{r:.2f}" for r in ratios) + " |")


if __name__ == "__main__":
    main()
