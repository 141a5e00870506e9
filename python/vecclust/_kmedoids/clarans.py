"""The CLARANS estimator: randomised swap search with distances computed on demand."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _core
from .._utils.hints import NThreads, Seed
from .._utils.validation import INT32_MAX, Boolean, Integer, seed_from
from .base import MedoidClusterer


def _max_neighbor(value, name):
    """A count (>= 1) or a fraction (< 1) of the n - k non-medoids; inf and huge counts mean n."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not value > 0:
        raise ValueError(f"{name}={value} must be > 0")
    return value


class CLARANS(MedoidClusterer):
    """FastCLARANS: k-medoids by randomised search of the swap neighbourhood.

    From random medoids, candidate points are drawn in random order; each is priced against all
    k medoids at once in one O(n) pass and swapped in if that lowers the loss. After
    `max_neighbor` candidates in a row without improvement the search stops at a local optimum;
    `n_local` searches are made and the best kept. Distances are computed on demand: no n x n
    matrix is ever stored (memory O(n k)).

    A search that stops after `max_neighbor` failures is rarely at a local optimum, so by
    default (`refine=True`) the best search's medoids are then refined on all points as
    CLARA's are: alternating steps, each moving every medoid to the member of its cluster with
    the least total distance to the others, kept only while they lower the loss (see CLARA).

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
    refine : bool, default=True
        Refine the best search's medoids on all points (see above). False gives plain CLARANS.
    swap_candidates : int, default=8
        Candidates per medoid in each swap round of the refinement (as CLARA's); 0 leaves out
        the swap rounds.
    random_state : int, RandomState, Generator or None
    n_threads : int or None
        Threads to use; None means all CPUs. Results do not depend on it.
    verbose : bool, default=False
        Print the loss of every local search and after every refinement step.

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
    refine_losses_ : ndarray of shape (n_refine_steps,)
        Loss after each refinement step kept (empty without refinement); ``inertia_`` is the
        last of these, or of ``swap_losses_`` if there are none.

    References
    ----------
    R. T. Ng and J. Han, "CLARANS: A method for clustering objects for spatial data mining",
    IEEE TKDE 14(5), 2002.
    E. Schubert and P. J. Rousseeuw, "Faster k-medoids clustering: improving the PAM, CLARA, and
    CLARANS algorithms", SISAP 2019.
    """

    _parameter_constraints = {
        **MedoidClusterer._parameter_constraints,
        "n_local": Integer(1, INT32_MAX), "max_neighbor": _max_neighbor, "refine": Boolean(),
        "swap_candidates": Integer(0, INT32_MAX), "verbose": None,
    }

    def __init__(self, n_clusters: int = 8, *, metric: str = "euclidean", n_local: int = 2,
                 max_neighbor: float = 0.025, refine: bool = True, swap_candidates: int = 8, random_state: Seed = None,
                 n_threads: NThreads = None, verbose: bool = False) -> None:
        self.n_clusters = n_clusters
        self.metric = metric
        self.n_local = n_local
        self.max_neighbor = max_neighbor
        self.refine = refine
        self.swap_candidates = swap_candidates
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose

    def _patience(self, n, n_clusters):
        """The count of candidates without improvement that ends a search, for n points."""
        value = _max_neighbor(self.max_neighbor, "max_neighbor")
        # The core caps the count at n anyway; capping here also handles inf and huge ints.
        return max(1, math.ceil(value * (n - n_clusters))) if value < 1 else int(min(value, n))

    def _fit_core(self, X, params, weights):
        n_clusters = params["n_clusters"]
        result = _core.clarans(X, metric=self.metric, n_clusters=n_clusters, n_local=params["n_local"],
                               max_neighbor=self._patience(X.shape[0], n_clusters), seed=seed_from(self.random_state),
                               refine=params["refine"],
                               swap_candidates=params["swap_candidates"], sample_weight=weights, n_threads=self._n_threads(),
                               verbose=bool(self.verbose))
        self.best_local_ = int(result["best_local"])
        self.local_losses_ = self._scale.loss(np.asarray(result["local_losses"]))
        self.swap_losses_ = self._scale.loss(np.asarray(result["swap_losses"]))
        self.refine_losses_ = self._scale.loss(np.asarray(result["refine_losses"]))
        return result
