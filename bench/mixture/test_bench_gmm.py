"""Gaussian mixture EM: vecclust.GaussianMixture vs sklearn.mixture.GaussianMixture.

Both start from the same parameters (weights_init, means_init, precisions_init: uniform
weights, k random data points as means, the data's variance on the diagonal of every
covariance), with the same tol (1e-3) and max_iter (100), so both run the same EM and the time
is EM alone. Data: make_blobs(n, d, centers=k, random_state=0), float64 (scikit-learn's most
accurate mode, the same arithmetic work) and, for the large case, float32 (which scikit-learn
computes in float32 and vecclust reads as float32 but accumulates in float64).

threads="1" limits scikit-learn's BLAS pools to one thread (threadpoolctl) and gives vecclust
n_threads=1; threads="all" leaves BLAS at its default and gives vecclust all CPUs. Each row
records both final lower bounds (mean log-likelihoods) and iteration counts, so the report can
show that the two fits are the same. Bar: vecclust >= 3x faster at the same log-likelihood.
"""

import contextlib
import warnings

import numpy as np
import pytest
import vecclust
from benchconfig import QUICK, THREADS, all_cpus
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture
from threadpoolctl import threadpool_limits

# (n, d, k, dtypes): the large case and a PPP-like small one (many small fits of 2 components).
CASES = [(10_000, 10, 10, ("float64", "float32")), (10_000, 10, 2, ("float64",))] if QUICK else [
    (100_000, 10, 10, ("float64", "float32")),
    (10_000, 10, 2, ("float64",)),
]
PARAMS = [(n, d, k, dtype) for n, d, k, dtypes in CASES for dtype in dtypes]
COVARIANCE_TYPES = ("full", "diag")
LIBRARIES = ("vecclust", "sklearn")
TOL = 1e-3
MAX_ITER = 100
SPEEDUP_BAR = 3.0
SAME_LOG_LIKELIHOOD_RTOL = 1e-6


def thread_limit(threads):
    return threadpool_limits(limits=1) if threads == "1" else contextlib.nullcontext()


def initial_parameters(X, k, covariance_type):
    """The shared start: uniform weights, k random points, the data's variance per feature."""
    n, d = X.shape
    means = X[np.random.default_rng(0).choice(n, k, replace=False)].astype(np.float64)
    variance = np.var(X, axis=0, dtype=np.float64)
    precisions = np.stack([np.diag(1 / variance)] * k) if covariance_type == "full" else np.tile(1 / variance, (k, 1))
    return dict(weights_init=np.full(k, 1.0 / k), means_init=means, precisions_init=precisions)


def run(library, threads, X, k, covariance_type, start):
    params = dict(n_components=k, covariance_type=covariance_type, tol=TOL, max_iter=MAX_ITER, **start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # recorded as "converged" instead
        if library == "sklearn":
            model = SklearnGaussianMixture(**params).fit(X)
        else:
            model = vecclust.GaussianMixture(**params, n_threads=1 if threads == "1" else None).fit(X)
    return {"lower_bound": float(model.lower_bound_), "n_iter": int(model.n_iter_),
            "converged": bool(model.converged_)}


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"threads{t}")
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("n, d, k, dtype", PARAMS, ids=lambda v: str(v))
def test_gmm(benchmark, bench_data, n, d, k, dtype, covariance_type, threads, library):
    X = bench_data.features(n, d, k, dtype=np.dtype(dtype))
    start = bench_data.result(("gmm_start", n, d, k, dtype, covariance_type),
                              lambda: initial_parameters(X, k, covariance_type))
    benchmark.group = f"gmm n={n} d={d} k={k} {covariance_type} {dtype} threads={threads}"
    benchmark.extra_info.update(bench="gmm", n=n, n_features=d, k=k, dtype=dtype, covariance_type=covariance_type,
                                threads=threads, library=library, n_threads=1 if threads == "1" else all_cpus(),
                                speedup_bar=SPEEDUP_BAR, same_rtol=SAME_LOG_LIKELIHOOD_RTOL)
    with thread_limit(threads):
        own = benchmark.pedantic(run, args=(library, threads, X, k, covariance_type, start),
                                 rounds=3 if n >= 50_000 else 15, iterations=1)
    key = ("gmm", n, d, k, dtype, covariance_type, threads)
    bench_data.store(key + (library,), own)
    other = "sklearn" if library == "vecclust" else "vecclust"

    def run_other():  # untimed, once per session
        with thread_limit(threads):
            return run(other, threads, X, k, covariance_type, start)

    ref = bench_data.result(key + (other,), run_other)
    bounds = {library: own["lower_bound"], other: ref["lower_bound"]}
    benchmark.extra_info.update(
        own,
        lower_bound_vecclust=bounds["vecclust"],
        lower_bound_sklearn=bounds["sklearn"],
        n_iter_other=ref["n_iter"],
        rel_lower_bound_diff=(bounds["sklearn"] - bounds["vecclust"]) / abs(bounds["vecclust"]),
    )
    if dtype == "float64":  # the same EM in float64: the same fit
        assert own["lower_bound"] == pytest.approx(ref["lower_bound"], rel=SAME_LOG_LIKELIHOOD_RTOL)
