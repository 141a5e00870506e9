"""The CLARA estimator: k-medoids on samples, for data too large for an n x n matrix."""

from __future__ import annotations

import numpy as np

from .. import _core
from .._utils.hints import NThreads, Seed
from .._utils.validation import INT32_MAX, Boolean, Integer, seed_from
from .base import MedoidClusterer
from .checks import INIT, MAX_ITER, METHOD


class CLARA(MedoidClusterer):
    """CLARA (Clustering LARge Applications) with FasterPAM inside (FasterCLARA).

    Runs k-medoids on `n_sampling_iter` random samples of `n_sampling` points and keeps the
    medoids with the lowest total deviation over *all* points. Only a sample's small distance
    matrix is stored; scoring streams over the data with O(n) extra memory, in parallel.

    The price of sampling: a medoid can only be one of the sampled points, and with few sample
    points per cluster (the default 80 + 4k gives about 4 per cluster plus 80) the loss is
    typically 10% above FasterPAM on all the data. So by default (`refine=True`) the best
    sample's medoids are then refined on all points, still without an n x n or n x k matrix:
    one alternating step (each medoid moves to the member of its cluster with the least total
    distance to the others), then swap rounds as FasterPAM's, with `swap_candidates` seeded
    members of each cluster as the candidates, priced against all medoids over all points (a
    seeded sample of 4096 beyond that; every swap is checked on the exact loss), until a round
    lowers the loss by at most 0.01% (at most 10 rounds), then alternating steps again (at most
    10, until one gains at most 0.01%). Swaps take a medoid from where two share a cluster to
    where one is missing, which alternating steps cannot. In clusters above 256 members the
    alternating step searches at most 1024 candidates (half of them the members nearest the
    medoid), screened on 256 members, the best 64 summed over at most 4096. A step or round is
    kept only if it lowers the loss over all points.

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
    refine : bool, default=True
        Refine the best sample's medoids on all points (see above). False gives plain CLARA.
    swap_candidates : int, default=8
        Candidates per medoid in each swap round of the refinement; 0 leaves out the swap
        rounds (alternating steps only).
    random_state : int, RandomState, Generator or None
    n_threads : int or None
        Threads to use; None means all CPUs. Results do not depend on it.
    verbose : bool, default=False
        Print the loss of every sample and after every refinement step (swap rounds included).

    Attributes
    ----------
    medoid_indices_, cluster_centers_, labels_, inertia_, n_iter_, n_swaps_, n_features_in_
        As for KMedoids; n_iter_ and n_swaps_ are those of the best sample's run.
    best_sample_ : int
        Which sample gave the medoids.
    sample_losses_ : ndarray of shape (n_sampling_iter,)
        Total deviation over all points of each sample's medoids.
    refine_losses_ : ndarray of shape (n_refine_steps,)
        Total deviation over all points after each refinement step kept (empty without
        refinement); ``inertia_`` is the last.

    References
    ----------
    L. Kaufman and P. J. Rousseeuw, "Clustering Large Data Sets", 1986.
    E. Schubert and P. J. Rousseeuw, "Fast and eager k-medoids clustering", Information
    Systems 101, 2021.
    """

    _parameter_constraints = {
        **MedoidClusterer._parameter_constraints,
        "n_sampling": Integer(1, None, none_ok=True),  # above n: every point (checked against k in fit)
        "n_sampling_iter": Integer(1, INT32_MAX), "method": METHOD, "init": INIT, "keep_medoids": Boolean(),
        "max_iter": MAX_ITER, "refine": Boolean(), "swap_candidates": Integer(0, INT32_MAX), "verbose": None,
    }

    def __init__(self, n_clusters: int = 8, *, metric: str = "euclidean", n_sampling: int | None = None,
                 n_sampling_iter: int = 5, method: str = "fasterpam", init: str = "random", keep_medoids: bool = True,
                 max_iter: int = 300, refine: bool = True, swap_candidates: int = 8, random_state: Seed = None, n_threads: NThreads = None,
                 verbose: bool = False) -> None:
        self.n_clusters = n_clusters
        self.metric = metric
        self.n_sampling = n_sampling
        self.n_sampling_iter = n_sampling_iter
        self.method = method
        self.init = init
        self.keep_medoids = keep_medoids
        self.max_iter = max_iter
        self.refine = refine
        self.swap_candidates = swap_candidates
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose

    def _fit_core(self, X, params, weights):
        n, n_clusters = X.shape[0], params["n_clusters"]
        n_sampling = 80 + 4 * n_clusters if params["n_sampling"] is None else params["n_sampling"]
        if params["n_sampling"] is not None and n_sampling <= n_clusters:
            raise ValueError(f"n_sampling={n_sampling} must be larger than n_clusters={n_clusters}")
        if n_clusters >= n:
            raise ValueError(f"CLARA needs n_clusters={n_clusters} < n_samples={n}: a sample must have more "
                             "points than medoids")
        result = _core.clara(X, metric=self.metric, n_clusters=n_clusters, n_sampling=min(n_sampling, n),
                             n_sampling_iter=params["n_sampling_iter"], method=self.method, init=self.init,
                             keep_medoids=params["keep_medoids"], max_iter=params["max_iter"],
                             seed=seed_from(self.random_state), refine=params["refine"],
                             swap_candidates=params["swap_candidates"], sample_weight=weights, n_threads=self._n_threads(),
                             verbose=bool(self.verbose))
        self.best_sample_ = int(result["best_sample"])
        self.sample_losses_ = self._scale.loss(np.asarray(result["sample_losses"]))
        self.refine_losses_ = self._scale.loss(np.asarray(result["refine_losses"]))
        return result
