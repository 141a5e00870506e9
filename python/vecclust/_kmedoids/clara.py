"""The CLARA estimator: k-medoids on samples, for data too large for an n x n matrix."""

from __future__ import annotations

import numbers

import numpy as np

from .. import _core
from .estimator import METHODS
from .base import MedoidClusterer
from .._utils.validation import INITS, check_choice, check_int, seed_from


class CLARA(MedoidClusterer):
    """CLARA (Clustering LARge Applications) with FasterPAM inside (FasterCLARA).

    Runs k-medoids on `n_sampling_iter` random samples of `n_sampling` points and keeps the
    medoids with the lowest total deviation over *all* points. Only a sample's small distance
    matrix is stored; scoring streams over the data with O(n) extra memory, in parallel.

    The price of sampling: a medoid can only be one of the sampled points. With few sample
    points per cluster (the default 80 + 4k gives about 4 per cluster plus 80) the loss is
    typically several percent above FasterPAM on all the data; a larger `n_sampling` closes
    the gap at quadratic cost in the sample size.

    Parameters
    ----------
    n_clusters : int, default=8
    metric : {"euclidean", "sqeuclidean", "manhattan", "cosine", "precomputed"}, default="euclidean"
    n_sampling : int or None, default=None
        Sample size, > n_clusters; None means 80 + 4 * n_clusters. Capped at n_samples.
    n_sampling_iter : int, default=5
        Number of samples.
    method : {"fasterpam", "fastpam1", "pam", "alternate"}, default="fasterpam"
        k-medoids algorithm run on each sample.
    init : {"random", "first", "build", "lab", "k-medoids++"}, default="random"
        Initialisation within each sample.
    keep_medoids : bool, default=True
        Include the best medoids found so far in every later sample.
    max_iter : int, default=300
        Maximum passes of the k-medoids algorithm on a sample.
    random_state : int, RandomState, Generator or None
    n_threads : int or None
        Threads to use; None means all CPUs. Results do not depend on it.
    verbose : bool, default=False
        Print the loss of every sample.

    Attributes
    ----------
    medoid_indices_, cluster_centers_, labels_, inertia_, n_iter_, n_swaps_, n_features_in_
        As for KMedoids; n_iter_ and n_swaps_ are those of the best sample's run.
    best_sample_ : int
        Which sample gave the medoids.
    sample_losses_ : ndarray of shape (n_sampling_iter,)
        Total deviation over all points of each sample's medoids.

    References
    ----------
    L. Kaufman and P. J. Rousseeuw, "Clustering Large Data Sets", 1986.
    E. Schubert and P. J. Rousseeuw, "Fast and eager k-medoids clustering", Information
    Systems 101, 2021.
    """

    def __init__(self, n_clusters=8, *, metric="euclidean", n_sampling=None, n_sampling_iter=5, method="fasterpam",
                 init="random", keep_medoids=True, max_iter=300, random_state=None, n_threads=None, verbose=False):
        self.n_clusters = n_clusters
        self.metric = metric
        self.n_sampling = n_sampling
        self.n_sampling_iter = n_sampling_iter
        self.method = method
        self.init = init
        self.keep_medoids = keep_medoids
        self.max_iter = max_iter
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose

    def _sample_size(self, n_clusters):
        if self.n_sampling is None:
            return 80 + 4 * n_clusters
        if isinstance(self.n_sampling, bool) or not isinstance(self.n_sampling, numbers.Integral):
            raise TypeError(f"n_sampling must be None or an int, got {self.n_sampling!r}")
        if self.n_sampling <= n_clusters:
            raise ValueError(f"n_sampling={self.n_sampling} must be larger than n_clusters={n_clusters}")
        return int(self.n_sampling)

    def _fit_core(self, X, precomputed, n_clusters, weights):
        check_choice(self.method, "method", METHODS)
        check_choice(self.init, "init", INITS)
        check_int(self.max_iter, "max_iter", 1)
        check_int(self.n_sampling_iter, "n_sampling_iter", 1)
        if not isinstance(self.keep_medoids, (bool, np.bool_)):
            raise TypeError(f"keep_medoids must be True or False, got {self.keep_medoids!r}")
        sample_size = min(self._sample_size(n_clusters), X.shape[0])
        if n_clusters >= X.shape[0]:
            raise ValueError(f"CLARA needs n_clusters={n_clusters} < n_samples={X.shape[0]}: a sample must have more "
                             "points than medoids")
        result = _core.clara(X, precomputed=precomputed, metric="euclidean" if precomputed else self.metric,
                             k=n_clusters, sample_size=sample_size, n_samples=self.n_sampling_iter,
                             method=self.method, init=self.init, keep_medoids=bool(self.keep_medoids),
                             max_iter=self.max_iter, seed=seed_from(self.random_state), sample_weight=weights,
                             n_threads=self._n_threads(), verbose=bool(self.verbose))
        self.best_sample_ = int(result["best_sample"])
        self.sample_losses_ = np.asarray(result["sample_losses"])
        return result
