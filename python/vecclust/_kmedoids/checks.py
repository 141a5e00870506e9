"""The constraints shared by KMedoids, CLARA, CLARANS and the public functions, and the checks
of a dissimilarity matrix and of initial medoids."""

from __future__ import annotations

import numbers

import numpy as np

from .._utils.validation import INT32_MAX, INT64_MAX, Integer, Options, effective_n_threads, native_byte_order
from .choices import INITS, METHODS, METRICS

N_CLUSTERS = Integer(1, INT64_MAX)  # an index_t
MAX_ITER = Integer(1, INT32_MAX)
FUNCTION_MAX_ITER = Integer(0, INT32_MAX)  # the functions allow 0: the initial medoids, assigned
N_INIT = Integer(1, INT32_MAX)
N_THREADS = Integer(None, INT32_MAX, none_ok=True)  # then effective_n_threads
METRIC = Options((*METRICS, "precomputed"))
METHOD = Options(METHODS)
INIT = Options(INITS)


def n_threads_from(n_threads) -> int:
    return effective_n_threads(N_THREADS(n_threads, "n_threads"))


def check_medoids(medoids, n_samples: int):
    """k (an int) or initial medoid indices; returns (k, indices or None)."""
    if isinstance(medoids, numbers.Integral) and not isinstance(medoids, bool):
        k = int(medoids)
        if not 1 <= k <= n_samples:
            raise ValueError(f"the number of medoids k={k} must be in [1, n_samples={n_samples}]")
        return k, None
    if isinstance(medoids, (bool, str, float)) or medoids is None:
        raise TypeError(f"medoids must be an int k or an array of initial medoid indices, got {medoids!r}")
    indices = np.asarray(medoids)
    if indices.ndim != 1 or indices.size == 0:
        raise ValueError("initial medoids must be a non-empty 1-d array of sample indices")
    if not np.issubdtype(indices.dtype, np.integer):
        raise TypeError(f"initial medoid indices must be integers, got dtype {indices.dtype}")
    if indices.min() < 0 or indices.max() >= n_samples:
        raise ValueError(f"initial medoid indices must be in [0, {n_samples}), got {indices.tolist()}")
    if np.unique(indices).size != indices.size:
        raise ValueError(f"initial medoid indices must be distinct, got {indices.tolist()}")
    return indices.size, np.ascontiguousarray(indices, dtype=np.int64)


def check_dissimilarity(diss) -> np.ndarray:
    """A square float32/float64 C-contiguous matrix (integers become float64); contents are
    validated in C++ (finite, non-negative, zero diagonal, symmetric)."""
    if hasattr(diss, "toarray"):
        raise TypeError("a sparse dissimilarity matrix is not supported; pass a dense array")
    diss = native_byte_order(np.asarray(diss))
    if diss.dtype.kind in "biu":
        diss = diss.astype(np.float64)
    elif diss.dtype not in (np.float32, np.float64):
        if diss.dtype.kind == "f":
            diss = diss.astype(np.float64)
        else:
            raise TypeError(f"the dissimilarity matrix must be numeric, got dtype {diss.dtype}")
    if diss.ndim != 2:
        raise ValueError(f"the dissimilarity matrix must be 2-dimensional, got shape {diss.shape}")
    if diss.shape[0] != diss.shape[1]:
        raise ValueError(f"the dissimilarity matrix must be square, got shape {diss.shape}")
    if diss.shape[0] == 0:
        raise ValueError("the dissimilarity matrix is empty")
    if diss.shape[0] < 2:
        raise ValueError("k-medoids needs at least 2 samples, got 1 sample")
    return np.ascontiguousarray(diss)
