"""The KMedoids estimator."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _core
from ._validation import (
    INITS,
    METRICS,
    check_choice,
    check_int,
    check_medoids,
    check_weights,
    effective_n_threads,
    native_byte_order,
    physical_memory_bytes,
    seed_from,
)

METHODS = ("fasterpam", "fastpam1", "pam", "alternate")


class KMedoids(ClusterMixin, TransformerMixin, BaseEstimator):
    """k-medoids clustering: k actual samples as cluster centres, any dissimilarity.

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters k.
    metric : {"euclidean", "sqeuclidean", "manhattan", "cosine", "precomputed"}, default="euclidean"
        With "precomputed", X is a symmetric dissimilarity matrix, and at predict time the
        dissimilarities from the new samples to the training samples.
    method : {"fasterpam", "fastpam1", "pam", "alternate"}, default="fasterpam"
        FasterPAM (eager swaps) is the fast default; FastPAM1 and PAM make the classic PAM
        swaps (PAM the slow way); "alternate" is the k-means-style heuristic.
    init : {"random", "first", "build", "lab", "k-medoids++"} or array-like of int, default="random"
        Initial medoids, or their sample indices (n_clusters of them).
    max_iter : int, default=300
        Maximum passes (FasterPAM) or iterations (other methods).
    n_init : int, default=1
        Restarts with different random initialisations; the lowest loss is kept.
    precompute : {"auto", True, False}, default="auto"
        Whether to compute and store the n x n distance matrix from features (fast), or compute
        distances on demand with O(n k) memory (for data whose matrix does not fit). "auto"
        stores it when it takes at most a quarter of physical memory.
    random_state : int, RandomState, Generator or None
        Seed for the random initialisations.
    n_threads : int or None
        Threads to use; None means all CPUs. Results do not depend on it.

    Attributes
    ----------
    medoid_indices_ : ndarray of shape (n_clusters,)
        Training-sample indices of the medoids.
    cluster_centers_ : ndarray of shape (n_clusters, n_features) or None
        The medoids' feature vectors (None with a precomputed metric).
    labels_ : ndarray of shape (n_samples,)
        Cluster of each training sample.
    inertia_ : float
        Total (weighted) dissimilarity of the samples to their medoids.
    n_iter_ : int
    n_swaps_ : int
    n_features_in_ : int
    """

    def __init__(self, n_clusters=8, *, metric="euclidean", method="fasterpam", init="random", max_iter=300,
                 n_init=1, precompute="auto", random_state=None, n_threads=None):
        self.n_clusters = n_clusters
        self.metric = metric
        self.method = method
        self.init = init
        self.max_iter = max_iter
        self.n_init = n_init
        self.precompute = precompute
        self.random_state = random_state
        self.n_threads = n_threads

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.metric == "precomputed"
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _check_params(self, n_samples):
        check_choice(self.metric, "metric", (*METRICS, "precomputed"))
        check_choice(self.method, "method", METHODS)
        if self.precompute not in ("auto", True, False):
            raise ValueError(f"precompute={self.precompute!r} must be 'auto', True or False")
        check_int(self.max_iter, "max_iter", 1)
        check_int(self.n_init, "n_init", 1)
        n_clusters = check_int(self.n_clusters, "n_clusters", 1)
        if n_clusters > n_samples:
            raise ValueError(f"n_clusters={n_clusters} must be <= n_samples={n_samples}")
        if isinstance(self.init, str):
            check_choice(self.init, "init", INITS)
            return n_clusters, None
        if self.init is None or isinstance(self.init, numbers.Number):
            raise TypeError(f"init must be one of {', '.join(map(repr, INITS))} or an array-like of "
                            f"n_clusters sample indices, got {self.init!r}")
        k, initial = check_medoids(self.init, n_samples)
        if k != n_clusters:
            raise ValueError(f"init gives {k} medoid indices but n_clusters={n_clusters}")
        return n_clusters, initial

    def fit(self, X, y=None, sample_weight=None):
        """Cluster X (features, or a dissimilarity matrix if metric="precomputed")."""
        precomputed = self.metric == "precomputed"
        X = validate_data(self, native_byte_order(X), dtype=[np.float64, np.float32], order="C", ensure_min_samples=2,
                          ensure_all_finite=not precomputed)  # the C++ check covers matrices
        n = X.shape[0]
        if precomputed and X.shape[1] != n:
            raise ValueError(f"with metric='precomputed' X must be a square dissimilarity matrix, got shape {X.shape}")
        k, initial = self._check_params(n)
        weights = check_weights(sample_weight, n, X.dtype)
        options = dict(method=self.method, init=self.init if initial is None else "random", k=k,
                       initial_medoids=initial, max_iter=self.max_iter, n_init=self.n_init,
                       seed=seed_from(self.random_state), sample_weight=weights,
                       n_threads=effective_n_threads(self.n_threads))
        if precomputed:
            result = _core.kmedoids_matrix(X, **options)
        else:
            if k > 1 and np.ptp(X, axis=0).max() == 0:
                raise ValueError(f"all samples are identical, so {k} distinct clusters cannot be formed")
            result = _core.kmedoids_features(X, metric=self.metric, store_matrix=self._store_matrix(X), **options)
        if not result["converged"]:
            warnings.warn(f"KMedoids stopped at max_iter={self.max_iter} before converging; increase max_iter.",
                          ConvergenceWarning, stacklevel=2)
        self.medoid_indices_ = result["medoids"]
        self.labels_ = result["labels"]
        self.inertia_ = float(result["loss"])
        self.n_iter_ = int(result["n_iter"])
        self.n_swaps_ = int(result["n_swap"])
        self.cluster_centers_ = None if precomputed else X[self.medoid_indices_].copy()
        return self

    def _store_matrix(self, X):
        if self.precompute != "auto":
            return bool(self.precompute)
        return X.shape[0] ** 2 * X.itemsize <= physical_memory_bytes() // 4

    def transform(self, X):
        """Dissimilarities from each sample to each medoid, shape (n_samples, n_clusters)."""
        check_is_fitted(self)
        if self.metric == "precomputed":
            X = validate_data(self, native_byte_order(X), dtype=[np.float64, np.float32], reset=False)
            return np.ascontiguousarray(X[:, self.medoid_indices_])
        X = validate_data(self, native_byte_order(X), dtype=[np.float64, np.float32], order="C", reset=False)
        centers = self.cluster_centers_.astype(X.dtype, copy=False)
        return _core.pairwise_distances(X, np.ascontiguousarray(centers), metric=self.metric,
                                        n_threads=effective_n_threads(self.n_threads))

    def predict(self, X):
        """Cluster (0..n_clusters-1) of each sample: its nearest medoid."""
        return np.argmin(self.transform(X), axis=1)
