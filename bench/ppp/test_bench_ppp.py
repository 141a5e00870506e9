"""PPP timings: against the GMM-BIC sweep, and on a million points.

1. test_ppp_vs_gmm_sweep: make_blobs(5000 x 10, 10 centres, cluster_std=1, centre box
   (-10, 10), random_state=0) as float64 (BENCH_QUICK: 2000 points). vecclust.PPP with its
   defaults (n_threads=1) vs the GMM-BIC sweep of bench/ppp/ppp_rivals.py (GaussianMixture, full
   covariance, K = 1..30, minimum BIC, random_state=0), BLAS/OpenMP pinned to one thread for
   both with threadpoolctl. Each row records k_hat and the ARI against the true labels;
   report.py gives the median-time ratio GMM-BIC / PPP (bar: >= 5x, reported, not asserted).
2. test_ppp_scale: vecclust.PPP (defaults, all threads) on 1,000,000 x 16 float32 blobs
   (15 centres), timed once; skipped by BENCH_QUICK. Records k_hat and the ARI (bar: under 60 s).

The PPP rows are skipped while vecclust has no PPP.
"""

from __future__ import annotations

import numpy as np
import pytest
from benchconfig import QUICK, all_cpus
from ppp_rivals import gmm_bic_sweep, ppp_available
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

SEED = 0
TIMING_N = 2000 if QUICK else 5000
TIMING_FEATURES = 10
TIMING_CENTERS = 10
TIMING_ROUNDS = {"PPP": 3, "GMM-BIC": 2}  # the sweep takes 10-20 s per fit at n = 5000
SPEEDUP_BAR = 5.0
SCALE_N = 1_000_000
SCALE_FEATURES = 16
SCALE_CENTERS = 15
SCALE_TIME_BAR = 60.0  # seconds

needs_ppp = pytest.mark.skipif(not ppp_available(), reason="vecclust.PPP is not available yet")


def blobs(bench_data, n, n_features, centers, dtype):
    def make():
        X, y = make_blobs(n_samples=n, n_features=n_features, centers=centers, cluster_std=1.0,
                          center_box=(-10.0, 10.0), random_state=SEED)
        X = np.ascontiguousarray(X, dtype=dtype)
        X.setflags(write=False)
        return X, y

    return bench_data.result(("ppp_blobs", n, n_features, centers, np.dtype(dtype).str), make)


def fit_ppp(X, n_threads):
    import vecclust

    return vecclust.PPP(random_state=SEED, n_threads=n_threads).fit(X).labels_


def n_found(labels):
    return len(np.unique(labels))


@pytest.mark.parametrize("method", ["PPP", "GMM-BIC"])
def test_ppp_vs_gmm_sweep(benchmark, bench_data, method):
    if method == "PPP" and not ppp_available():
        pytest.skip("vecclust.PPP is not available yet")
    n = TIMING_N
    X, y = blobs(bench_data, n, TIMING_FEATURES, TIMING_CENTERS, np.float64)
    benchmark.group = f"ppp vs gmm-bic sweep n={n} d={TIMING_FEATURES} k={TIMING_CENTERS}"
    benchmark.extra_info.update(bench="ppp_timing", method=method, n=n, n_features=TIMING_FEATURES,
                                k=TIMING_CENTERS, threads="1", n_threads=1, speedup_bar=SPEEDUP_BAR, quick=QUICK)

    def fit():
        with threadpool_limits(limits=1):
            return fit_ppp(X, 1) if method == "PPP" else gmm_bic_sweep(X, SEED)

    labels = benchmark.pedantic(fit, rounds=TIMING_ROUNDS[method], iterations=1)
    assert labels.shape == (n,)
    benchmark.extra_info.update(k_hat=n_found(labels), ari=float(adjusted_rand_score(y, labels)))


@needs_ppp
@pytest.mark.skipif(QUICK, reason="a million points: not part of the BENCH_QUICK run")
def test_ppp_scale(benchmark, bench_data):
    n = SCALE_N
    X, y = blobs(bench_data, n, SCALE_FEATURES, SCALE_CENTERS, np.float32)
    benchmark.group = f"ppp scale n={n} d={SCALE_FEATURES}"
    benchmark.extra_info.update(bench="ppp_scale", method="PPP", n=n, n_features=SCALE_FEATURES, k=SCALE_CENTERS,
                                threads="all", n_threads=all_cpus(), time_bar_s=SCALE_TIME_BAR,
                                data_bytes=int(X.nbytes))
    labels = np.asarray(benchmark.pedantic(lambda: fit_ppp(X, None), rounds=1, iterations=1))
    assert labels.shape == (n,) and labels.min() >= 0
    benchmark.extra_info.update(k_hat=n_found(labels), ari=float(adjusted_rand_score(y, labels)))
