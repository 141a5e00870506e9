"""Settings shared by the vecclust benchmarks (the parameter grid, rounds, thread counts).

Set BENCH_QUICK=1 for a smoke run on small sizes only (n=2000, end-to-end on 2000 samples; the
CLARA/CLARANS quality run on 2000 points, the CLARA scale run on 50,000, pyclustering on 100).
Set BENCH_PYCLUSTERING=1 to also run pyclustering's CLARANS once (392 s measured at n=500).
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

# CLARA / CLARANS (test_bench_clara.py).
# 1. Quality and speed against full FasterPAM (vecclust.KMedoids, distance matrix included):
#    make_blobs(n, 16 features, 50 centres, random_state=0) as float32, k=50.
CLARA_N = 2000 if QUICK else 20000
CLARA_FEATURES = 16
CLARA_CENTERS = 50
CLARA_K = 50
CLARA_LARGE_SAMPLE = 500 if QUICK else 2500  # the "larger sample" CLARA row (default: 80 + 4k)
CLARA_METHODS = ("fasterpam", "clara", "clara_large", "clarans")  # fasterpam first: the reference
CLARA_DATASETS = ("blobs", "random_cov")  # make_blobs; clusters with random covariances
CLARA_ROUNDS = {"fasterpam": 3, "clarans": 3, "clara": 5, "clara_large": 5}
# Target bars, reported by report.py, never asserted.
CLARA_LOSS_BAR = 0.03  # CLARA's loss within 3% of full FasterPAM
CLARANS_LOSS_BAR = 0.02  # CLARANS within 2%
SPEEDUP_BAR = 10.0  # each at least 10x faster than full FasterPAM
# 2. Scale: CLARA (defaults, all threads) on gaussian blobs built with numpy, timed once; the peak
#    memory is measured in a fresh subprocess (bench/kmedoids/clara_scale.py).
SCALE_N = 50_000 if QUICK else 1_000_000
SCALE_FEATURES = 16
SCALE_CENTERS = 100
SCALE_K = 100
SCALE_TIME_BAR = 30.0  # seconds
SCALE_MEMORY_BAR = 1.0  # peak extra memory / X.nbytes
# 3. vecclust.CLARANS vs pyclustering's (pure Python) CLARANS; pyclustering only with
#    BENCH_PYCLUSTERING=1, once.
PYCLUSTERING = os.environ.get("BENCH_PYCLUSTERING", "") not in ("", "0")
PYC_N = 100 if QUICK else 500
PYC_FEATURES = 8
PYC_CENTERS = 5
PYC_K = 5
PYC_NUMLOCAL = 2
PYC_MAXNEIGHBOR = 20
PYC_SPEEDUP_BAR = 100.0


def rounds_for(n: int) -> int:
    """Few rounds: kmedoids at n=10000, k=100 takes ~1.5-2 s per run on one core."""
    return 3 if n >= 10000 else 5


def all_cpus() -> int:
    """The thread count used for threads="all" (kmedoids' n_cpu; vecclust gets n_threads=None)."""
    return os.cpu_count() or 1


def loss_pair_info(own, library, other_loss):
    """A vecclust-vs-kmedoids benchmark's extra_info: its own figures, both libraries' losses
    and kmedoids' relative gap to vecclust."""
    other = "kmedoids" if library == "vecclust" else "vecclust"
    losses = {library: own["loss"], other: other_loss}
    return {**own, "loss_vecclust": losses["vecclust"], "loss_kmedoids": losses["kmedoids"],
            "rel_loss_diff": (losses["kmedoids"] - losses["vecclust"]) / losses["vecclust"]}
