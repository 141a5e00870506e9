"""Settings shared by the vecclust benchmarks (the parameter grid, rounds, thread counts).

Set BENCH_QUICK=1 for a smoke run on small sizes only (n=2000, end-to-end on 2000 samples).
"""

import os

N_FEATURES = 32
N_CENTERS = 50
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")

# The FasterPAM-step grid and the end-to-end size (shrunk by BENCH_QUICK=1).
SIZES = (2000,) if QUICK else (2000, 5000, 10000)
KS = (10, 100)
THREADS = ("1", "all")
LIBRARIES = ("vecclust", "kmedoids")
END_TO_END_N = 2000 if QUICK else 10000
END_TO_END_K = 100
END_TO_END_ROUNDS = 3
MAX_ITER = 100  # kmedoids.fasterpam's default; vecclust gets the same


def rounds_for(n: int) -> int:
    """Few rounds: kmedoids at n=10000, k=100 takes ~1.5-2 s per run on one core."""
    return 3 if n >= 10000 else 5


def all_cpus() -> int:
    """The thread count used for threads="all" (kmedoids' n_cpu; vecclust gets n_threads=None)."""
    return os.cpu_count() or 1
