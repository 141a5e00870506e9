"""Numerics written once for several areas: the tolerance scale and the precision Cholesky."""

from __future__ import annotations

import numpy as np
from scipy import linalg

VARIANCE_BLOCK_VALUES = 1 << 16  # float64 values per block of the variance pass


def mean_variance(X):
    """Mean over the features of their variance, computed in float64 block by block (no copy of
    X however large it is); scales a relative `tol` as scikit-learn does."""
    n, d = X.shape
    mean = X.mean(axis=0, dtype=np.float64)
    sum_squares = np.zeros(d)
    rows = max(1, VARIANCE_BLOCK_VALUES // d)
    for start in range(0, n, rows):
        block = X[start:start + rows].astype(np.float64)
        block -= mean
        sum_squares += np.einsum("ij,ij->j", block, block)
    return float(sum_squares.mean() / n)


def scaled_tol(X, tol):
    """scikit-learn's k-means tolerance: the relative `tol` times the mean per-feature variance of
    X, an absolute bound on the summed squared centre shift."""
    return tol * mean_variance(X)


def precision_cholesky(cov):
    """scikit-learn's parametrisation of a full covariance: the upper-triangular U with
    inv(cov) = U U^T."""
    lower = linalg.cholesky(cov, lower=True)
    return linalg.solve_triangular(lower, np.eye(len(cov)), lower=True).T
