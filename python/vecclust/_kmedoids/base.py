"""What KMedoids, CLARA and CLARANS share: parameter constraints, input validation, fitted
attributes, predict and transform."""

from __future__ import annotations

import warnings
from typing import Self

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import _core
from .._utils.scaling import scale_for
from .._utils.hints import ArrayLike, FloatArray, IntArray
from .._utils.validation import check_weights, effective_n_threads, native_byte_order, validate_params
from .._utils.lazy import lazy_on_dask
from .checks import METRIC, N_CLUSTERS


class MedoidClusterer(ClusterMixin, TransformerMixin, BaseEstimator):
    """Base class: subclasses extend `_parameter_constraints` and implement
    `_fit_core(X, params, weights)` (params: the checked parameters by name), which returns
    the core's result dict."""

    # random_state and n_threads: checked where they are converted (seed_from, effective_n_threads).
    _parameter_constraints = {"n_clusters": N_CLUSTERS, "metric": METRIC, "random_state": None, "n_threads": None}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.metric == "precomputed"
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def fit(self, X: ArrayLike, y: object = None, sample_weight: ArrayLike | None = None) -> Self:
        """Cluster X (features, or a dissimilarity matrix if metric="precomputed").

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, n_samples)
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            A sample's weight multiplies its dissimilarity to its medoid in the loss.

        Returns
        -------
        self
        """
        params = validate_params(self)
        precomputed = self.metric == "precomputed"
        X = validate_data(self, native_byte_order(X), dtype=[np.float64, np.float32], order="C", ensure_min_samples=2,
                          ensure_all_finite=not precomputed)  # the C++ check covers matrices
        n = X.shape[0]
        if precomputed and X.shape[1] != n:
            raise ValueError(f"with metric='precomputed' X must be a square dissimilarity matrix, got shape {X.shape}")
        n_clusters, name = params["n_clusters"], "n_clusters"
        if n_clusters == "auto":  # KMedoids: the largest k tried
            n_clusters, name = params["max_clusters"], "max_clusters"
        if n_clusters > n:
            raise ValueError(f"{name}={n_clusters} must be <= n_samples={n}")
        if not precomputed and n_clusters > 1 and np.ptp(X, axis=0).max() == 0:
            raise ValueError(f"all samples are identical, so {n_clusters} distinct clusters cannot be formed")
        weights = check_weights(sample_weight, n, X.dtype)
        result = self._fit_scaled(X, params, weights)
        if not result["converged"]:
            warnings.warn(f"{type(self).__name__} stopped at max_iter={getattr(self, 'max_iter', None)} before "
                          "converging; increase max_iter.", ConvergenceWarning, stacklevel=2)
        self.medoid_indices_ = result["medoids"]
        self.labels_ = result["labels"]
        self.inertia_ = self._scale.loss(float(result["loss"]))
        self.n_iter_ = int(result["n_iter"])
        self.n_swaps_ = int(result["n_swaps"])
        self.cluster_centers_ = None if precomputed else X[self.medoid_indices_].copy()
        return self

    def _fit_scaled(self, X, params, weights):
        """The core's result of fitting X, scaled (self._scale) so that its losses stay in range."""
        self._scale = scale_for(X, self.metric, weights)
        return self._fit_core(self._scale.data(X), params, self._scale.weights(weights))

    def _n_threads(self):
        return effective_n_threads(self.n_threads)

    @lazy_on_dask(columns=lambda self: len(self.medoid_indices_))
    def transform(self, X: ArrayLike) -> FloatArray:
        """Dissimilarities from each sample to each medoid, shape (n_samples, n_clusters)."""
        check_is_fitted(self)
        if self.metric == "precomputed":
            X = validate_data(self, native_byte_order(X), dtype=[np.float64, np.float32], reset=False)
            return np.ascontiguousarray(X[:, self.medoid_indices_])
        X = validate_data(self, native_byte_order(X), dtype=[np.float64, np.float32], order="C", reset=False)
        if self.cluster_centers_ is None:  # fitted on a dissimilarity matrix, then metric was changed
            raise ValueError("this model was fitted with metric='precomputed' and has no centres; fit it again")
        centers = self.cluster_centers_.astype(X.dtype, copy=False)
        scale = scale_for(X, self.metric, others=(centers,))
        centers = scale.data(centers)
        return scale.distances(_core.pairwise_distances(scale.data(X), np.ascontiguousarray(centers),
                                                        metric=self.metric, n_threads=self._n_threads()))

    @lazy_on_dask(np.int64)
    def predict(self, X: ArrayLike) -> IntArray:
        """Cluster (0..n_clusters-1) of each sample: its nearest medoid."""
        return np.argmin(self.transform(X), axis=1)
