"""Distributed CLARA: samples drawn per block, k-medoids on each sample in memory, every sample's
medoids scored in one pass over the data."""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin

from .. import _core
from .._kmedoids.checks import MAX_ITER, N_CLUSTERS
from .._kmedoids.choices import METRICS
from .._kmedoids.estimator import KMedoids
from .._utils.validation import INT32_MAX, Boolean, Integer, Options, seed_from, validate_params
from .blocks import apply_fitted, block_rng, check_data, finite_block, lazy_rows, n_threads_per_task, over_blocks
from .clara_refine import refine_all

SCORE_VALUES = 1 << 22  # distances held at once while a block is scored


def _block_sample(block, index, offset, seed, counts):
    """For each sample s, counts[s] distinct rows of the block drawn uniformly by the generator
    of (seed, s, block): their global indices (ascending) and the rows."""
    block = finite_block(block, index, offset)
    out = []
    for s, count in enumerate(counts):
        local = np.sort(block_rng(seed, s, index).choice(len(block), size=int(count), replace=False))
        out.append((offset + local, block[local]))
    return out


def _block_losses(block, index, offset, medoids, n_sets, metric, n_threads):
    """The block's loss (float64 sum of distances to the nearest medoid) for each of the n_sets
    medoid sets stacked in `medoids`."""
    block = np.ascontiguousarray(block)
    losses = np.zeros(n_sets)
    step = max(1, SCORE_VALUES // len(medoids))
    for start in range(0, len(block), step):
        dist = _core.pairwise_distances(block[start:start + step], medoids, metric=metric, n_threads=n_threads)
        nearest = dist.reshape(len(dist), n_sets, -1).min(axis=2)
        losses += nearest.sum(axis=0, dtype=np.float64)
    return losses


def _medoid_distances(block, index, offset, centers, metric, n_threads):
    return _core.pairwise_distances(finite_block(block, index, offset), centers, metric=metric, n_threads=n_threads)


def _nearest_medoid(block, index, offset, centers, metric, n_threads):
    return np.argmin(_medoid_distances(block, index, offset, centers, metric, n_threads), axis=1)


class CLARA(ClusterMixin, TransformerMixin, BaseEstimator):
    """CLARA on a dask array of shape (n_samples, n_features), chunked by rows.

    One pass draws all `n_sampling_iter` samples: each sample's size is split over the blocks
    in proportion to their rows (a multivariate hypergeometric draw seeded by random_state and
    the sample's index), and each block draws its share uniformly, seeded by random_state, the
    sample's and the block's index. Each sample is clustered in memory by FasterPAM with the
    BUILD initialisation (vecclust.KMedoids), and one more pass scores every sample's medoids
    on all points; the lowest loss wins. Unlike the in-memory CLARA, later samples do not
    include the best medoids so far (the samples are drawn together). With `refine=True` the
    best medoids are then refined on all points as in memory, one pass over the blocks per step
    or round: an alternating step, swap rounds, then alternating steps. In an alternating step
    every medoid moves to the member of its cluster with the least total distance to the
    cluster among 16 members drawn uniformly from the whole cluster in the pass before (a first
    pass draws them), and a step is kept only if it lowers the loss, until a step gains at most
    0.01% (at most 10 steps). A swap round prices `swap_candidates` members of each cluster
    against all k medoids with FasterPAM's rule, each block adding its points' part of the
    (medoid, candidate) price table in C++, the tables summed in block order; the best
    non-conflicting swaps are applied and checked on the exact loss in the next pass, kept up to
    the first that does not lower it (that one is undone); rounds stop below a 0.01% gain,
    after at most 10. Above 4,096 points the prices come from a sample, each point in it with
    probability 4096 / n_samples.

    Every draw of the refinement is seeded by random_state and a point's global index (the
    alternating steps' draws also by the block), so the medoids do not depend on the workers.
    The results differ from the in-memory CLARA's: the samples are drawn per block, the
    alternating steps search 16 drawn members per cluster (the in-memory steps search whole
    clusters up to 1,024 members), the candidates and priced points are drawn by other
    generators (the priced sample anew each round, where in memory it is drawn once), and a
    round's candidates are members of the clusters of the round before, as they are drawn in
    the pass that checks that round's swaps (which saves a pass per round).

    Parameters
    ----------
    n_clusters : int, default=8
    n_sampling : int or None, default=None
        Sample size, > n_clusters; None means 80 + 4 * n_clusters. Capped at n_samples.
    n_sampling_iter : int, default=5
    metric : {"euclidean", "sqeuclidean", "manhattan", "cosine"}, default="euclidean"
    max_iter : int, default=300
        Maximum FasterPAM passes on a sample.
    refine : bool, default=True
        Refine the best sample's medoids on all points (see above); False gives plain CLARA.
    swap_candidates : int, default=8
        Members of each cluster priced as a swap in each swap round; 0 leaves the swap rounds
        out (alternating steps only).
    random_state : int, RandomState, Generator or None
    n_threads : int or None, default=None
        C++ threads per task; None means 1.
    verbose : bool, default=False
        Print one line per pass and per sample, and the loss after every refinement step and swap
        round (the lines of the steps and rounds kept are ``refine_losses_``).

    Attributes
    ----------
    medoid_indices_ : ndarray of shape (n_clusters,), global row indices
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
    labels_ : dask array of shape (n_samples,), computed lazily
    inertia_ : float
        Total distance of all points to their nearest medoid.
    sample_losses_ : ndarray of shape (n_sampling_iter,)
    refine_losses_ : ndarray of shape (n_refine_steps,)
        Loss after each refinement step and swap round kept (empty without refinement);
        ``inertia_`` is the last.
    best_sample_ : int
    sample_indices_ : list of ndarray
        The global row indices of each sample, ascending.
    n_iter_, n_swaps_ : int
        Of the best sample's FasterPAM run.
    """

    _parameter_constraints = {
        "n_clusters": N_CLUSTERS,
        "n_sampling": Integer(1, None, none_ok=True),
        "n_sampling_iter": Integer(1, INT32_MAX),
        "metric": Options(METRICS),
        "max_iter": MAX_ITER,
        "refine": Boolean(),
        "swap_candidates": Integer(0, INT32_MAX),
        "random_state": None,
        "n_threads": Integer(1, INT32_MAX, none_ok=True),
        "verbose": Boolean(int_ok=True),
    }

    def __init__(self, n_clusters=8, *, n_sampling=None, n_sampling_iter=5, metric="euclidean", max_iter=300,
                 refine=True, swap_candidates=8, random_state=None, n_threads=None, verbose=False):
        self.n_clusters = n_clusters
        self.n_sampling = n_sampling
        self.n_sampling_iter = n_sampling_iter
        self.metric = metric
        self.max_iter = max_iter
        self.refine = refine
        self.swap_candidates = swap_candidates
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose

    def fit(self, X, y=None):
        """Cluster the rows of X (a dask array; numpy input is cut into blocks)."""
        params = validate_params(self)
        X = check_data(X)
        n = X.shape[0]
        k, n_samples, verbose = params["n_clusters"], params["n_sampling_iter"], params["verbose"]
        size = 80 + 4 * k if params["n_sampling"] is None else params["n_sampling"]
        if size <= k:
            raise ValueError(f"n_sampling={size} must be larger than n_clusters={k}")
        if k >= n:
            raise ValueError(f"CLARA needs n_clusters={k} < n_samples={n}: a sample must have more points than "
                             "medoids")
        size = min(size, n)
        n_threads = n_threads_per_task(params["n_threads"])
        seed = seed_from(self.random_state)
        start = time.perf_counter()

        rows_per_block = np.asarray(X.chunks[0], dtype=np.int64)
        shares = np.stack([block_rng(seed, s).multivariate_hypergeometric(rows_per_block, size)
                           for s in range(n_samples)], axis=1)  # (blocks, samples)
        parts = over_blocks(X, _block_sample, seed, per_block=list(shares))
        if verbose:
            print(f"Sampling pass: {n_samples} samples of {size} rows, {time.perf_counter() - start:.2f} s", flush=True)

        self.sample_indices_, medoid_sets, fits = [], [], []
        for s in range(n_samples):
            indices = np.concatenate([part[s][0] for part in parts])
            rows = np.ascontiguousarray(np.concatenate([part[s][1] for part in parts]))
            fit = KMedoids(k, metric=self.metric, method="fasterpam", init="build", max_iter=params["max_iter"],
                           n_threads=n_threads).fit(rows)
            self.sample_indices_.append(indices)
            medoid_sets.append((indices[fit.medoid_indices_], rows[fit.medoid_indices_]))
            fits.append(fit)

        begin = time.perf_counter()
        stacked = np.ascontiguousarray(np.concatenate([rows for _, rows in medoid_sets]))
        block_losses = over_blocks(X, _block_losses, stacked, n_samples, self.metric, n_threads)
        losses = np.zeros(n_samples)
        for part in block_losses:
            losses += part
        best = int(np.argmin(losses))
        if verbose:
            print(f"Scoring pass: losses {', '.join(f'{v:.6g}' for v in losses)}, best sample {best}, "
                  f"{time.perf_counter() - begin:.2f} s", flush=True)

        self.sample_losses_ = losses
        self.best_sample_ = best
        self.medoid_indices_, self.cluster_centers_ = medoid_sets[best]
        self.inertia_ = float(losses[best])
        self.refine_losses_ = np.zeros(0)
        if params["refine"]:
            self.medoid_indices_, self.cluster_centers_, self.refine_losses_ = refine_all(
                X, self.medoid_indices_, self.cluster_centers_, self.inertia_, self.metric, n_threads, seed, verbose,
                params["swap_candidates"])
            if self.refine_losses_.size:
                self.inertia_ = float(self.refine_losses_[-1])
        self.n_iter_, self.n_swaps_ = fits[best].n_iter_, fits[best].n_swaps_
        self.n_features_in_ = X.shape[1]
        self.labels_ = lazy_rows(X, _nearest_medoid, np.int64, centers=self.cluster_centers_, metric=self.metric,
                                 n_threads=n_threads)
        return self

    def predict(self, X):
        """Index of the nearest medoid of each row; lazy for a dask array."""
        return apply_fitted(self, X, _nearest_medoid, np.int64, metric=self.metric)

    def transform(self, X):
        """Distances to the medoids, shape (n_samples, n_clusters); lazy for a dask array."""
        return apply_fitted(self, X, _medoid_distances, None, self.n_clusters, metric=self.metric)
