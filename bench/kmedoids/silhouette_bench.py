"""vecclust.silhouette_score against sklearn.metrics.silhouette_score: time, value, peak memory.

    python bench/kmedoids/silhouette_bench.py [--n 20000 --d 32 --k 20 --rounds 3]

Data: make_blobs(n, d, centers=k, random_state=0) as float32, labelled by the blobs. Both
run on one thread (scikit-learn's BLAS limited with threadpoolctl) in this process, alternating
rounds; the median times and their ratio are printed with both values. The peak extra memory
of one call of each is measured in a fresh process (this script with --worker): the resident
set high-water mark, reset to the baseline after the imports and the data, minus that
baseline (clara_scale.py), as a fraction of the n x n float32 matrix the data would have.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clara_scale import _reset_hwm, _status_kib  # noqa: E402


def make_data(n, d, k):
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=n, n_features=d, centers=k, random_state=0)
    return np.ascontiguousarray(X, dtype=np.float32), y


def score(library, X, y):
    if library == "vecclust":
        import vecclust

        return vecclust.silhouette_score(X, y, n_threads=1)
    from sklearn.metrics import silhouette_score

    return float(silhouette_score(X, y))


def worker(library, n, d, k):
    """One call in this fresh process; prints its peak extra memory as JSON."""
    import sklearn.metrics  # noqa: F401  (imports before the baseline)
    import vecclust  # noqa: F401
    from threadpoolctl import threadpool_limits

    X, y = make_data(n, d, k)
    with threadpool_limits(1):
        reset = _reset_hwm()
        before = _status_kib("VmRSS")
        value = score(library, X, y)
        peak = _status_kib("VmHWM")
    print(json.dumps({"library": library, "value": value, "hwm_reset": reset,
                      "peak_extra_bytes": (peak - before) * 1024 if reset else None}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--d", type=int, default=32)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", choices=["vecclust", "sklearn"])
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.n, args.d, args.k)

    from threadpoolctl import threadpool_limits

    X, y = make_data(args.n, args.d, args.k)
    times = {"vecclust": [], "sklearn": []}
    values = {}
    with threadpool_limits(1):
        for _ in range(args.rounds):
            for library in times:
                t0 = time.perf_counter()
                values[library] = score(library, X, y)
                times[library].append(time.perf_counter() - t0)
    median = {library: statistics.median(t) for library, t in times.items()}
    memory = {}
    for library in times:
        out = subprocess.run([sys.executable, __file__, "--worker", library, "--n", str(args.n), "--d", str(args.d),
                              "--k", str(args.k)], capture_output=True, text=True, check=True)
        memory[library] = json.loads(out.stdout.strip().splitlines()[-1])["peak_extra_bytes"]
    matrix = args.n * args.n * 4
    print(json.dumps({
        "n": args.n, "d": args.d, "k": args.k, "threads": 1, "median_seconds": median,
        "speedup": median["sklearn"] / median["vecclust"], "values": values,
        "rel_value_diff": abs(values["vecclust"] - values["sklearn"]) / abs(values["sklearn"]),
        "peak_extra_bytes": memory,
        "peak_extra_over_nn_float32": {lib: (m / matrix if m is not None else None) for lib, m in memory.items()},
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
