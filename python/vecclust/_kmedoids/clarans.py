"""The CLARANS estimator: randomised swap search with distances computed on demand."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _core
from .base import MedoidClusterer
from .._utils.validation import check_int, seed_from


class CLARANS(MedoidClusterer):
    """FastCLARANS: k-medoids by randomised search of the swap neighbourhood.

    From random medoids, candidate points are drawn in random order; each is priced against all
    k medoids at once in one O(n) pass and swapped in if that lowers the loss. After
    `max_neighbor` candidates in a row without improvement the search stops at a local optimum;
    `n_local` searches are made and the best kept. Distances are computed on demand: no n x n
    matrix is ever stored (memory O(n k)).

    Parameters
    ----------
    n_clusters : int, default=8
    metric : {"euclidean", "sqeuclidean", "manhattan", "cosine", "precomputed"}, default="euclidean"
    n_local : int, default=2
        Number of local searches from random medoids.
    max_neighbor : float or int, default=0.025
        Candidates tried without improvement before a search stops: a fraction of
        (n_samples - n_clusters) when below 1, otherwise a count (capped at n_samples, which
        makes the result a true swap-local optimum).
    random_state : int, RandomState, Generator or None
    n_threads : int or None
        Threads to use; None means all CPUs. Results do not depend on it.
    verbose : bool, default=False
        Print the loss of every local search.

    Attributes
    ----------
    medoid_indices_, cluster_centers_, labels_, inertia_, n_swaps_, n_features_in_
        As for KMedoids.
    n_iter_ : int
        Candidates tried by the best search.
    best_local_ : int
        Which search gave the medoids.
    local_losses_ : ndarray of shape (n_local,)
        Final loss of each search.
    swap_losses_ : ndarray
        Loss of the best search at its start and after each accepted swap (decreasing).

    References
    ----------
    R. T. Ng and J. Han, "CLARANS: A method for clustering objects for spatial data mining",
    IEEE TKDE 14(5), 2002.
    E. Schubert and P. J. Rousseeuw, "Faster k-medoids clustering: improving the PAM, CLARA, and
    CLARANS algorithms", SISAP 2019.
    """

    def __init__(self, n_clusters=8, *, metric="euclidean", n_local=2, max_neighbor=0.025, random_state=None,
                 n_threads=None, verbose=False):
        self.n_clusters = n_clusters
        self.metric = metric
        self.n_local = n_local
        self.max_neighbor = max_neighbor
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose

    def _patience(self, n_samples, n_clusters):
        value = self.max_neighbor
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"max_neighbor must be a number, got {value!r}")
        if not value > 0:
            raise ValueError(f"max_neighbor={value} must be > 0")
        if value < 1:
            return max(1, math.ceil(value * (n_samples - n_clusters)))
        return int(min(value, n_samples))  # the core caps at n anyway; this also handles inf and huge ints

    def _fit_core(self, X, precomputed, n_clusters, weights):
        check_int(self.n_local, "n_local", 1)
        patience = self._patience(X.shape[0], n_clusters)
        result = _core.clarans(X, precomputed=precomputed, metric="euclidean" if precomputed else self.metric,
                               k=n_clusters, n_local=self.n_local, patience=patience,
                               seed=seed_from(self.random_state), sample_weight=weights,
                               n_threads=self._n_threads(), verbose=bool(self.verbose))
        self.best_local_ = int(result["best_local"])
        self.local_losses_ = np.asarray(result["local_losses"])
        self.swap_losses_ = np.asarray(result["swap_losses"])
        return result
