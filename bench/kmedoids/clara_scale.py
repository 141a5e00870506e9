"""Data and the memory-measuring worker for the CLARA scale benchmark (test_bench_clara.py).

Run as a script, it builds the points, fits CLARA once and prints one JSON line with the fit
time and the memory it took, measured in this fresh process (the benchmark session holds
gigabytes of cached distance matrices, so its own RSS says nothing about one fit):

    python bench/kmedoids/clara_scale.py --n 1000000 --k 100 [--n-threads N]

Memory: the baseline is the resident set after the imports and the data are in place. Where
the kernel allows it, the high-water mark is reset to that baseline first (writing "5" to
/proc/self/clear_refs), so VmHWM after the fit minus the baseline is the fit's peak extra
memory exactly. ru_maxrss cannot be reset: its growth over the fit is reported as well, a
lower bound when the data creation peaked higher (it is built in chunks so that it hardly does).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

import numpy as np

CHUNK = 100_000


def make_points(n: int, n_features: int = 16, n_centers: int = 100, seed: int = 0) -> np.ndarray:
    """n x n_features float32 gaussian blobs (unit spread, centres uniform in [-10, 10]^d),
    built in chunks so that creating them costs hardly more memory than the result."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-10.0, 10.0, size=(n_centers, n_features)).astype(np.float32)
    X = np.empty((n, n_features), dtype=np.float32)
    for start in range(0, n, CHUNK):
        block = X[start:start + CHUNK]
        rng.standard_normal(out=block, dtype=np.float32)
        block += centers[rng.integers(0, n_centers, size=len(block))]
    return X


def _status_kib(field: str) -> int | None:
    """A 'kB' field of /proc/self/status (VmRSS, VmHWM) in KiB, or None off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_hwm() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when not permitted."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _maxrss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Fit CLARA once and report time and peak memory as JSON.")
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--centers", type=int, default=100)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--n-threads", type=int, default=None, help="default: all CPUs")
    args = parser.parse_args(argv)

    import vecclust  # imported (and its extension loaded) before the baseline

    X = make_points(args.n, args.features, args.centers)
    model = vecclust.CLARA(n_clusters=args.k, random_state=0, n_threads=args.n_threads)
    maxrss_before = _maxrss_kib()
    hwm_reset = _reset_hwm()
    rss_before = _status_kib("VmRSS")
    t0 = time.perf_counter()
    model.fit(X)
    seconds = time.perf_counter() - t0
    hwm_after = _status_kib("VmHWM")
    maxrss_after = _maxrss_kib()

    data_bytes = X.nbytes
    out = {
        "n": args.n, "n_features": args.features, "k": args.k, "n_threads": args.n_threads,
        "data_bytes": data_bytes, "fit_seconds": seconds, "inertia": float(model.inertia_),
        "medoids": sorted(int(i) for i in model.medoid_indices_),
        "rss_before_bytes": None if rss_before is None else rss_before * 1024,
        "maxrss_before_bytes": maxrss_before * 1024, "maxrss_after_bytes": maxrss_after * 1024,
        "maxrss_growth_bytes": (maxrss_after - maxrss_before) * 1024,
        "hwm_reset": hwm_reset,
    }
    if hwm_reset and hwm_after is not None and rss_before is not None:
        out["peak_extra_bytes"] = (hwm_after - rss_before) * 1024
        out["peak_extra_source"] = "VmHWM (reset to the baseline) - VmRSS baseline"
    else:  # no reset: the best available is ru_maxrss after the fit minus the RSS baseline
        base = rss_before if rss_before is not None else maxrss_before
        out["peak_extra_bytes"] = (maxrss_after - base) * 1024
        out["peak_extra_source"] = "ru_maxrss after the fit - RSS baseline"
    out["peak_extra_over_data"] = out["peak_extra_bytes"] / data_bytes
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
