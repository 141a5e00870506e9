"""The KMeans estimator: scikit-learn's KMeans interface on the C++ Lloyd/Hamerly/Elkan core."""

from __future__ import annotations

import numbers
import warnings
from typing import Literal, Self

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import _core
from .._utils.numerics import scaled_tol
from .._utils.scaling import scale_for
from .._utils.hints import ArrayLike, FloatArray, IntArray, NThreads, Seed
from .._utils.validation import (Boolean, Integer, Options, Real, check_choice, check_int, check_weights,
                                 effective_n_threads, native_byte_order, seed_from, validate_params)
from .._utils.lazy import lazy_on_dask

ALGORITHMS = ("lloyd", "hamerly", "elkan")
KMEANS_INITS = ("k-means++", "random")
RANDOM_INIT_RESTARTS = 10  # n_init="auto" with init="random", as in scikit-learn


class KMeans(ClusterMixin, TransformerMixin, ClassNamePrefixFeaturesOutMixin, BaseEstimator):
    """k-means clustering (Lloyd's algorithm, or Hamerly's or Elkan's exact accelerated variant).

    The interface and the results follow scikit-learn's ``sklearn.cluster.KMeans``: from the
    same initial centres both reach the same labels, centres and number of iterations (same
    convergence rule, same empty-cluster relocation). float32 data is clustered in float32
    without a copy, and a fixed ``random_state`` gives bit-identical results for any
    ``n_threads``.

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters k.
    init : {"k-means++", "random"} or array-like of shape (n_clusters, n_features), default="k-means++"
        "k-means++": greedy k-means++ seeding (2 + ln k candidates per centre, drawn with
        probability proportional to weight x squared distance). "random": n_clusters distinct
        samples drawn with probability proportional to their weight. An array gives the initial
        centres.
    n_init : "auto" or int, default="auto"
        Runs from different initialisations; the lowest inertia is kept. "auto" is 1 for
        "k-means++" and an array, 10 for "random". With an array only one run is made.
    max_iter : int, default=300
        Maximum iterations of a run.
    tol : float, default=1e-4
        Relative tolerance: a run stops once the summed squared centre shift is at most tol
        times the mean per-feature variance of the data (the run also stops when no label
        changes).
    verbose : int, default=0
        Print each iteration's label changes and centre shift.
    random_state : int, RandomState, Generator or None
        Seed for the initialisations and the `max_fit_samples` subsample.
    algorithm : {"lloyd", "hamerly", "elkan"}, default="hamerly"
        All give the same result (labels, centres, inertia and iterations, bit for bit).
        "hamerly" keeps two distance bounds per point and skips most distance computations
        once the centres settle; "elkan" keeps a lower bound per point and centre (n_samples x
        n_clusters values of the data's dtype) and the centre-to-centre distances, which skip
        far more of them when the clusters overlap, at the cost of that memory.
    max_fit_samples : int or None, default=None
        If set and n_samples exceeds it, the centres are fitted on a random subsample of this
        many samples; then every sample is assigned to its nearest centre (``labels_`` and
        ``inertia_`` are for all the data, ``n_iter_`` for the subsample's fit).
    n_threads : int or None, default=None
        Threads to use; None means all CPUs. Results do not depend on it.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        The centres, in the dtype of the training data.
    labels_ : ndarray of shape (n_samples,)
        Cluster of each training sample.
    inertia_ : float
        Sum of (weighted) squared distances of the samples to their centre.
    n_iter_ : int
        Iterations of the best run.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X has string feature names.
    """

    # None: checked where it is used (init and n_init depend on each other and on X; random_state
    # and n_threads have their own conversions).
    _parameter_constraints = {
        "n_clusters": Integer(1),
        "init": None,
        "n_init": None,
        "max_iter": Integer(1),
        "tol": Real(0),
        "verbose": Boolean(int_ok=True),
        "random_state": None,
        "algorithm": Options(ALGORITHMS),
        "max_fit_samples": Integer(1, none_ok=True),
        "n_threads": None,
    }

    def __init__(self, n_clusters: int = 8, *, init: str | ArrayLike = "k-means++", n_init: int | Literal["auto"] = "auto",
                 max_iter: int = 300, tol: float = 1e-4, verbose: int = 0, random_state: Seed = None,
                 algorithm: Literal["lloyd", "hamerly", "elkan"] = "hamerly", max_fit_samples: int | None = None,
                 n_threads: NThreads = None) -> None:
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.algorithm = algorithm
        self.max_fit_samples = max_fit_samples
        self.n_threads = n_threads

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # ------------------------------------------------------------------ fitting

    def fit(self, X: ArrayLike, y: object = None, sample_weight: ArrayLike | None = None) -> Self:
        """Compute k-means clustering.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            float32 and float64 C-ordered arrays are used as they are; anything else is converted.
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Weight of each sample in the means and the inertia (and in the "k-means++" and
            "random" draws; not used with an init array).

        Returns
        -------
        self
        """
        params = validate_params(self)
        X = validate_data(self, native_byte_order(X), dtype=[np.float64, np.float32], order="C")
        n_samples = X.shape[0]
        n_clusters, verbose, fit_size = params["n_clusters"], params["verbose"], params["max_fit_samples"]
        if n_clusters > n_samples:
            raise ValueError(f"n_samples={n_samples} should be >= n_clusters={n_clusters}")
        init = self._check_init(X, n_clusters)
        n_init = self._check_n_init(init)
        if fit_size is not None and fit_size < n_clusters:
            raise ValueError(f"max_fit_samples={fit_size} must be >= n_clusters={n_clusters}")
        weights = check_weights(sample_weight, n_samples, X.dtype)
        n_threads = effective_n_threads(self.n_threads)

        rng = np.random.default_rng(seed_from(self.random_state))
        X_fit, weights_fit = X, weights
        subsampled = fit_size is not None and n_samples > fit_size
        if subsampled:
            rows = np.sort(rng.choice(n_samples, size=fit_size, replace=False))
            X_fit = np.ascontiguousarray(X[rows])
            weights_fit = None if weights is None else np.ascontiguousarray(weights[rows])
            if weights_fit is not None and not np.any(weights_fit > 0):
                raise ValueError(f"every sample of the max_fit_samples={fit_size} subsample has weight zero; "
                                 "increase max_fit_samples")
        # Data near the dtype's limits is clustered at a power-of-two scale (exact; see scaling.py).
        scale = scale_for(X, "sqeuclidean", weights, others=(init,) if isinstance(init, np.ndarray) else ())
        X, X_fit, weights, weights_fit = scale.data(X), scale.data(X_fit), scale.weights(weights), scale.weights(weights_fit)
        if isinstance(init, np.ndarray):
            init = scale.data(init)
        absolute_tol = scaled_tol(X_fit, params["tol"])

        best = None
        for run in range(n_init):
            seed = int(rng.integers(0, 2**63 - 1))
            centers = self._initial_centers(X_fit, weights_fit, init, n_clusters, seed, n_threads)
            if verbose:
                print(f"Initialization complete (run {run + 1} of {n_init})", flush=True)
            result = _core.kmeans(X_fit, centers, sample_weight=weights_fit, max_iter=params["max_iter"],
                                  tol=absolute_tol, algorithm=params["algorithm"], n_threads=n_threads,
                                  verbose=verbose)
            if best is None or result["inertia"] < best["inertia"]:
                best = result

        assert best is not None  # n_init >= 1
        centers = best["centers"]
        if subsampled:
            labels, inertia = assign(X, centers, weights, n_threads)
        else:
            labels, inertia = best["labels"], float(best["inertia"])
        distinct = np.unique(labels).size
        if distinct < n_clusters:
            warnings.warn(f"Number of distinct clusters ({distinct}) found smaller than n_clusters ({n_clusters}). "
                          "Possibly due to duplicate points in X.", ConvergenceWarning, stacklevel=2)
        self.cluster_centers_ = scale.unscale_data(centers)
        self.labels_ = labels
        self.inertia_ = scale.loss(inertia)
        self.n_iter_ = int(best["n_iter"])
        self._n_features_out = n_clusters
        return self

    def _initial_centers(self, X, weights, init, n_clusters, seed, n_threads):
        if isinstance(init, np.ndarray):
            return init
        if init == "k-means++":
            return _core.kmeans_plusplus(X, n_clusters=n_clusters, seed=seed, sample_weight=weights,
                                         n_threads=n_threads)
        return X[random_rows(X.shape[0], n_clusters, weights, seed)]

    # ------------------------------------------------------------------ parameter checks

    def _check_init(self, X, n_clusters):
        """The init name, or the initial centres as a C-ordered array of X's dtype."""
        if isinstance(self.init, str):
            return check_choice(self.init, "init", KMEANS_INITS)
        if self.init is None or isinstance(self.init, (numbers.Number, bytes)) or callable(self.init):
            raise TypeError(f"init must be one of {', '.join(map(repr, KMEANS_INITS))} or an array of shape "
                            f"(n_clusters, n_features), got {self.init!r}")
        centers = check_array(native_byte_order(self.init), dtype=X.dtype, order="C", copy=True,
                              input_name="init")
        if centers.shape[0] != n_clusters:
            raise ValueError(f"The shape of the initial centers {centers.shape} does not match the number of "
                             f"clusters {n_clusters}.")
        if centers.shape[1] != X.shape[1]:
            raise ValueError(f"The shape of the initial centers {centers.shape} does not match the number of "
                             f"features of the data {X.shape[1]}.")
        return centers

    def _check_n_init(self, init):
        if isinstance(self.n_init, str):
            if self.n_init != "auto":
                raise ValueError(f"n_init={self.n_init!r} must be 'auto' or an int >= 1")
            return RANDOM_INIT_RESTARTS if isinstance(init, str) and init == "random" else 1
        n_init = check_int(self.n_init, "n_init", 1)
        if isinstance(init, np.ndarray) and n_init != 1:
            warnings.warn(f"Explicit initial center position passed: performing only one init in KMeans instead of "
                          f"n_init={n_init}.", RuntimeWarning, stacklevel=3)
            return 1
        return n_init

    # ------------------------------------------------------------------ using the centres

    def _check_test_data(self, X):
        check_is_fitted(self)
        X = validate_data(self, native_byte_order(X), dtype=[np.float64, np.float32], order="C", reset=False)
        centers = np.ascontiguousarray(self.cluster_centers_, dtype=X.dtype)
        return X, centers

    @lazy_on_dask(np.int64)
    def predict(self, X: ArrayLike) -> IntArray:
        """Index of the nearest centre of each sample (the first on ties)."""
        X, centers = self._check_test_data(X)
        scale = scale_for(X, "sqeuclidean", others=(centers,))
        return _core.nearest_centers(scale.data(X), scale.data(centers), n_threads=effective_n_threads(self.n_threads))["labels"]

    @lazy_on_dask(columns=lambda self: len(self.cluster_centers_))
    def transform(self, X: ArrayLike) -> FloatArray:
        """Euclidean distances from each sample to each centre, shape (n_samples, n_clusters)."""
        X, centers = self._check_test_data(X)
        scale = scale_for(X, "euclidean", others=(centers,))
        return scale.distances(_core.pairwise_distances(scale.data(X), scale.data(centers), metric="euclidean",
                                                        n_threads=effective_n_threads(self.n_threads)))

    def score(self, X: ArrayLike, y: object = None, sample_weight: ArrayLike | None = None) -> float:
        """Opposite of the (weighted) sum of squared distances of X to the nearest centres."""
        X, centers = self._check_test_data(X)
        weights = check_weights(sample_weight, X.shape[0], X.dtype)
        scale = scale_for(X, "sqeuclidean", weights, others=(centers,))
        inertia = assign(scale.data(X), scale.data(centers), scale.weights(weights), effective_n_threads(self.n_threads))[1]
        return -scale.loss(inertia)


def assign(X, centers, weights, n_threads):
    """Nearest-centre labels and the (weighted) inertia, summed in float64."""
    nearest = _core.nearest_centers(X, centers, n_threads=n_threads)
    labels, sq_distances = nearest["labels"], nearest["sq_distances"].astype(np.float64)
    inertia = float(sq_distances.sum() if weights is None else sq_distances @ weights.astype(np.float64))
    return labels, inertia


def random_rows(n_samples, n_clusters, weights, seed):
    """n_clusters distinct rows drawn with probability proportional to their weight."""
    rng = np.random.default_rng(seed)
    if weights is None:
        return rng.choice(n_samples, size=n_clusters, replace=False)
    positive = np.count_nonzero(weights)
    if positive < n_clusters:
        raise ValueError(f"init='random' draws n_clusters={n_clusters} distinct samples with probability proportional "
                         f"to sample_weight, but only {positive} samples have a positive weight")
    probabilities = weights.astype(np.float64)
    return rng.choice(n_samples, size=n_clusters, replace=False, p=probabilities / probabilities.sum())
