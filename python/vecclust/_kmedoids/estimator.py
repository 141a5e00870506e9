"""The KMedoids estimator."""

from __future__ import annotations

import numbers
from typing import Literal

from .. import _core
from .._utils.hints import ArrayLike, NThreads, Seed
from .._utils.validation import Integer, Options, physical_memory_bytes, seed_from
from .base import MedoidClusterer
from .checks import INIT, MAX_ITER, N_CLUSTERS, N_INIT, check_medoids
from .choices import INITS, METHODS, MSC_METHODS
from .functions import kmedoids_on_matrix
from .msc import fit_msc


def _precompute(value, name):
    if value not in ("auto", True, False):
        raise ValueError(f"{name}={value!r} must be 'auto', True or False")
    return value


def _init(value, name):
    """A name from INITS, or initial medoid indices (checked against the data in fit)."""
    if isinstance(value, str):
        return INIT(value, name)
    if value is None or isinstance(value, numbers.Number):
        raise TypeError(f"{name} must be one of {', '.join(map(repr, INITS))} or an array-like of "
                        f"n_clusters sample indices, got {value!r}")
    return value


def _n_clusters(value, name):
    """An int k, or "auto" (DynMSC chooses k in [min_clusters, max_clusters])."""
    return value if isinstance(value, str) and value == "auto" else N_CLUSTERS(value, name)


class KMedoids(MedoidClusterer):
    """k-medoids clustering: k actual samples as cluster centres, any dissimilarity.

    Parameters
    ----------
    n_clusters : int or "auto", default=8
        The number of clusters k. "auto" runs DynMSC: FasterMSC for every k from
        `max_clusters` down to `min_clusters`, keeping the k of the highest average medoid
        silhouette (`method` is then not used).
    metric : {"euclidean", "sqeuclidean", "manhattan", "cosine", "precomputed"}, default="euclidean"
        With "precomputed", X is a symmetric dissimilarity matrix, and at predict time the
        dissimilarities from the new samples to the training samples.
    method : {"fasterpam", "fastpam1", "pam", "alternate", "fastermsc", "fastmsc", "pammedsil", \
"pamsil"}, default="fasterpam"
        FasterPAM (eager swaps) is the fast default; FastPAM1 and PAM make the classic PAM
        swaps (PAM the slow way); "alternate" is the k-means-style heuristic. "fastermsc"
        (eager), "fastmsc" (best swap) and "pammedsil" (the same swaps, the slow way)
        maximise the medoid silhouette instead of minimising the total deviation, "pamsil"
        the silhouette itself (O(k n^3) per swap: small data only); none takes sample
        weights, and n_init restarts keep the highest silhouette.
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
    max_clusters : int, default=10
        With n_clusters="auto", the largest k tried (< n_samples).
    min_clusters : int, default=2
        With n_clusters="auto", the smallest k tried (>= 2).

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
    n_clusters_ : int
        The number of clusters (chosen by DynMSC with n_clusters="auto").
    silhouettes_ : ndarray or None
        The silhouette methods and "auto": the average medoid silhouette of the result (the
        silhouette for "pamsil"), and with "auto" of
        each k from min_clusters to max_clusters (``silhouettes_[k - min_clusters]``).
    """

    _parameter_constraints = {
        **MedoidClusterer._parameter_constraints,
        "n_clusters": _n_clusters, "method": Options((*METHODS, *MSC_METHODS)), "init": _init, "max_iter": MAX_ITER,
        "n_init": N_INIT, "precompute": _precompute, "max_clusters": Integer(2, N_CLUSTERS.high),
        "min_clusters": Integer(2, N_CLUSTERS.high),
    }

    def __init__(self, n_clusters: int | Literal["auto"] = 8, *, metric: str = "euclidean", method: str = "fasterpam",
                 init: str | ArrayLike = "random", max_iter: int = 300, n_init: int = 1,
                 precompute: bool | Literal["auto"] = "auto", random_state: Seed = None,
                 n_threads: NThreads = None, max_clusters: int = 10, min_clusters: int = 2) -> None:
        self.n_clusters = n_clusters
        self.metric = metric
        self.method = method
        self.init = init
        self.max_iter = max_iter
        self.n_init = n_init
        self.precompute = precompute
        self.random_state = random_state
        self.n_threads = n_threads
        self.max_clusters = max_clusters
        self.min_clusters = min_clusters

    def _fit_scaled(self, X, params, weights):
        if self.metric != "precomputed" or self._maximises_silhouette(params):
            return super()._fit_scaled(X, params, weights)
        # The core's matrix check finds the largest entry: no separate pass over n x n values.
        self._scale, result = kmedoids_on_matrix(X, weights, self._core_options(X, params))
        self.n_clusters_, self.silhouettes_ = params["n_clusters"], None
        return result

    def _maximises_silhouette(self, params):
        return params["n_clusters"] == "auto" or self.method in MSC_METHODS

    def _fit_core(self, X, params, weights):
        n_clusters, initial = self._initial_medoids(X, params)
        self.silhouettes_ = None
        if self._maximises_silhouette(params):
            result = fit_msc(self, X, params, weights, initial, auto=params["n_clusters"] == "auto",
                             precompute=self._store_matrix(X))
            self.n_clusters_ = int(result["best_k"])
            self.silhouettes_ = result["silhouettes"]
            return result
        self.n_clusters_ = n_clusters
        return _core.kmedoids_features(X, metric=self.metric, precompute=self._store_matrix(X), sample_weight=weights,
                                       **self._core_options(X, params))

    def _initial_medoids(self, X, params):
        """(k, the initial medoid indices or None); with n_clusters="auto", k is max_clusters."""
        auto = params["n_clusters"] == "auto"
        n_clusters, initial = params["max_clusters"] if auto else params["n_clusters"], None
        if not isinstance(self.init, str):
            k, initial = check_medoids(self.init, X.shape[0])
            if k != n_clusters:
                raise ValueError(f"init gives {k} medoid indices but {'max_clusters' if auto else 'n_clusters'}="
                                 f"{n_clusters}")
        return n_clusters, initial

    def _core_options(self, X, params):
        n_clusters, initial = self._initial_medoids(X, params)
        return dict(method=self.method, init=self.init if initial is None else "random", n_clusters=n_clusters,
                    initial_medoids=initial, max_iter=params["max_iter"], n_init=params["n_init"],
                    seed=seed_from(self.random_state), n_threads=self._n_threads())

    def _store_matrix(self, X):
        if self.precompute != "auto":
            return bool(self.precompute)
        return X.shape[0] ** 2 * X.itemsize <= physical_memory_bytes() // 4
