"""The silhouette and the medoid silhouette: how well a clustering fits, to choose k."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_array, column_or_1d

from .. import _core
from .._utils.scaling import scale_for
from .._utils.validation import check_weights, native_byte_order
from .checks import METRIC, n_threads_from


def check_data(X, metric: str, *, min_samples: int = 1):
    """Features (n, d) or, with metric="precomputed", a square matrix, as a C-contiguous float32 or
    float64 array; a matrix's entries are checked in C++ (finite, non-negative) on the way."""
    metric = METRIC(metric, "metric")
    precomputed = metric == "precomputed"
    if hasattr(X, "toarray"):
        raise TypeError("sparse input is not supported; pass a dense array")
    X = check_array(native_byte_order(X), dtype=[np.float64, np.float32], order="C", ensure_min_samples=min_samples,
                    ensure_all_finite=not precomputed)
    if precomputed:
        if X.shape[0] != X.shape[1]:
            raise ValueError(f"with metric='precomputed' X must be a square distance matrix, got shape {X.shape}")
        atol = 100 * np.finfo(X.dtype).eps
        if np.any(np.abs(np.diagonal(X)) > atol):
            raise ValueError("the precomputed distance matrix has non-zero entries on its diagonal; use "
                             "np.fill_diagonal(X, 0)")
    return X, metric


def encode_labels(labels, n_samples: int):
    """Labels as int64 codes 0..k-1 and k, which must be in [2, n_samples - 1] (as scikit-learn)."""
    labels = column_or_1d(labels, warn=False)
    if labels.shape[0] != n_samples:
        raise ValueError(f"labels has {labels.shape[0]} entries but X has {n_samples} samples")
    if labels.dtype.kind == "f" and not np.all(np.isfinite(labels)):
        raise ValueError("labels contain NaN or infinity")
    classes, codes = np.unique(labels, return_inverse=True)
    k = classes.size
    if not 2 <= k <= n_samples - 1:
        raise ValueError(f"the number of distinct labels is {k}; it must be in [2, n_samples - 1 = {n_samples - 1}]")
    return np.ascontiguousarray(codes.reshape(-1), dtype=np.int64)


def silhouette_samples(X, labels, *, metric="euclidean", sample_weight=None, n_threads=None):
    """The silhouette s(i) of every sample, exact, with O(n k) memory (no n x n matrix).

    s(i) = (b(i) - a(i)) / max(a(i), b(i)), a(i) the mean distance from i to the other members
    of its cluster and b(i) the smallest mean distance from i to the members of another cluster;
    s(i) = 0 for the member of a singleton (and when a = b = 0). The values are those of
    ``sklearn.metrics.silhouette_samples``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or (n_samples, n_samples)
        Features (float32 stays float32 in the distance kernels; sums are float64), or with
        metric="precomputed" a matrix of distances (finite, non-negative, zero diagonal; row i
        holds the distances from sample i).
    labels : array-like of shape (n_samples,)
        Cluster of each sample (any values; 2 to n_samples - 1 distinct ones).
    metric : {"euclidean", "sqeuclidean", "manhattan", "cosine", "precomputed"}, default="euclidean"
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative weights: the means a(i) and b(i) become weighted means (a sample's own
        weight left out of a(i)), so a weight of 0 removes a sample from every other sample's
        silhouette, and an integer weight counts like copies of the sample would in the other
        samples' means. s(i) = 0 when no other sample of positive weight shares i's cluster,
        and b(i) is taken over the clusters of positive total weight only.
    n_threads : int or None
        Threads to use; None means all CPUs. The result does not depend on it.

    Returns
    -------
    ndarray of shape (n_samples,), float64
    """
    X, metric = check_data(X, metric, min_samples=1)
    n = X.shape[0]
    codes = encode_labels(labels, n)
    weights = check_weights(sample_weight, n, X.dtype)
    scale = scale_for(X, metric, weights)  # s(i) is a ratio: scaling by a power of two changes nothing
    return _core.silhouette_samples(scale.data(X), codes, metric=metric, sample_weight=scale.weights(weights),
                                    n_threads=n_threads_from(n_threads))


def silhouette_score(X, labels, *, metric="euclidean", sample_weight=None, n_threads=None):
    """The mean silhouette of all samples (weighted by sample_weight), exact, with O(n k) memory.

    Equal to ``sklearn.metrics.silhouette_score`` (without its sampling). Parameters as for
    :func:`silhouette_samples`; with weights the mean is the weighted mean of s(i).

    Returns
    -------
    float
    """
    s = silhouette_samples(X, labels, metric=metric, sample_weight=sample_weight, n_threads=n_threads)
    if sample_weight is None:
        return float(np.mean(s))
    weights = check_weights(sample_weight, s.shape[0], np.float64)
    return float(np.dot(weights, s) / weights.sum())
