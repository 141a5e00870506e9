"""Distributed k-means: Lloyd's algorithm with one pass over the blocks per iteration."""

from __future__ import annotations

import numbers
import time

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin
from sklearn.utils import check_array

from .. import _core
from .._utils.validation import INT32_MAX, Boolean, Integer, Options, Real, seed_from, validate_params
from .blocks import (apply_fitted, check_data, check_range, data_stats, finite_block, lazy_rows, n_threads_per_task,
                     over_blocks)
from .init import kmeans_parallel, kmeans_plusplus_on_sample, pass_sums

INITS = ("k-means||", "k-means++")


def _farthest(block, index, offset, centers, count, n_threads):
    """The block's `count` rows farthest from their nearest centre, leaving out rows on it:
    (squared distances, global indices, labels, rows), farthest first, the first index on ties."""
    block = np.ascontiguousarray(block)
    nearest = _core.nearest_centers(block, centers, n_threads=n_threads)
    d2 = nearest["sq_distances"]
    order = np.lexsort((np.arange(len(block)), -d2))[:count]
    order = order[d2[order] > 0]
    return d2[order], offset + order, nearest["labels"][order], block[order]


def _predict_block(block, index, offset, centers, n_threads):
    return _core.nearest_centers(finite_block(block, index, offset), centers, n_threads=n_threads)["labels"]


def _transform_block(block, index, offset, centers, n_threads):
    return _core.pairwise_distances(finite_block(block, index, offset), centers, metric="euclidean",
                                    n_threads=n_threads)


class KMeans(ClusterMixin, TransformerMixin, ClassNamePrefixFeaturesOutMixin, BaseEstimator):
    """k-means on a dask array of shape (n_samples, n_features), chunked by rows.

    Each Lloyd iteration is one pass over the blocks: every block is reduced in C++ (the
    assignment kernels of vecclust.KMeans) to float64 per-centre sums, counts and inertia, and
    the blocks are added in block order, so the result depends neither on the number of
    workers nor on which worker ran which block. From the same initial centres it reaches the
    labels and centres of ``vecclust.KMeans(algorithm="lloyd")`` on the same data in memory (to
    rounding): the same stopping rule (summed squared centre shift <= tol x mean variance)
    and the same relocation of empty clusters (the farthest points, found in an extra pass).

    Parameters
    ----------
    n_clusters : int, default=8
    init : {"k-means||", "k-means++"} or array of shape (n_clusters, n_features), default="k-means||"
        "k-means||": scalable k-means++ (5 oversampling passes drawing about
        oversampling_factor x n_clusters rows each, then weighted k-means++ and k-means on the
        candidates in memory). "k-means++": greedy k-means++ on a uniform sample of
        max(100 x n_clusters, 10,000) rows. An array gives the initial centres.
    oversampling_factor : float, default=2
    max_iter : int, default=300
    tol : float, default=1e-4
        Relative to the mean per-feature variance of the data, as in scikit-learn.
    random_state : int, RandomState, Generator or None
        Seed of the initialisation; the draws of each block are seeded by it and the block's
        index.
    n_threads : int or None, default=None
        C++ threads per block task; None means 1 (the Dask workers' threads run blocks in
        parallel).
    verbose : bool or int, default=False
        Print one line per pass (iteration, inertia, centre shift, time).

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features), the data's dtype
    labels_ : dask array of shape (n_samples,), computed lazily from the centres
    inertia_ : float
    n_iter_ : int
    n_features_in_ : int
    """

    _parameter_constraints = {
        "n_clusters": Integer(1),
        "init": None,  # a name or an array: checked in fit against the data
        "oversampling_factor": Real(0, low_open=True),
        "max_iter": Integer(1, INT32_MAX),
        "tol": Real(0),
        "random_state": None,
        "n_threads": Integer(1, INT32_MAX, none_ok=True),
        "verbose": Boolean(int_ok=True),
    }

    def __init__(self, n_clusters=8, *, init="k-means||", oversampling_factor=2, max_iter=300, tol=1e-4,
                 random_state=None, n_threads=None, verbose=False):
        self.n_clusters = n_clusters
        self.init = init
        self.oversampling_factor = oversampling_factor
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def fit(self, X, y=None):
        """Cluster the rows of X (a dask array; numpy input is cut into blocks)."""
        params = validate_params(self)
        X = check_data(X)
        n, d = X.shape
        k = params["n_clusters"]
        if k > n:
            raise ValueError(f"n_samples={n} should be >= n_clusters={k}")
        init = self._check_init(d, X.dtype)
        n_threads = n_threads_per_task(params["n_threads"])
        verbose = params["verbose"]
        start = time.perf_counter()
        stats = data_stats(X)
        check_range(stats.largest, n, d, X.dtype)
        tol = params["tol"] * stats.mean_variance
        seed = seed_from(self.random_state)
        if isinstance(init, np.ndarray):
            centers = init
        elif init == "k-means||":
            centers = kmeans_parallel(X, k, params["oversampling_factor"], seed, n_threads)
        else:
            centers = kmeans_plusplus_on_sample(X, k, seed, n_threads)
        centers = np.ascontiguousarray(centers, dtype=X.dtype)
        if verbose:
            print(f"Initialization complete ({init if isinstance(init, str) else 'array'}), "
                  f"{time.perf_counter() - start:.2f} s", flush=True)

        for it in range(params["max_iter"]):
            begin = time.perf_counter()
            sums, counts, inertia = pass_sums(X, centers, n_threads)
            new = self._relocate(X, centers, sums, counts, n_threads)
            filled = counts > 0
            new[filled] = (sums[filled] / counts[filled, None]).astype(X.dtype)
            diff = new - centers
            shift = float(np.einsum("ij,ij->i", diff, diff).astype(np.float64).sum())
            if verbose:
                print(f"Iteration {it}: inertia {inertia:.6g}, centre shift {shift:.6g}, "
                      f"{time.perf_counter() - begin:.2f} s", flush=True)
            centers = new
            if shift <= tol:
                break
        if shift > 0:  # the last pass measured the centres before their update
            inertia = pass_sums(X, centers, n_threads)[2]
            if verbose:
                print(f"Final inertia {inertia:.6g}, {time.perf_counter() - start:.2f} s in all", flush=True)
        self.cluster_centers_ = centers
        self.inertia_ = float(inertia)
        self.n_iter_ = it + 1
        self.n_features_in_ = d
        self._n_features_out = k
        self.labels_ = lazy_rows(X, _predict_block, np.int64, centers=centers, n_threads=n_threads)
        return self

    def _relocate(self, X, centers, sums, counts, n_threads):
        """scikit-learn's rule for empty clusters: each takes one of the points farthest from
        their centres (an extra pass, only when a cluster is empty); sums and counts are
        updated in place. Returns the new centres' starting values (the old centres)."""
        new = centers.copy()
        empty = np.flatnonzero(counts == 0)
        if empty.size == 0:
            return new
        parts = over_blocks(X, _farthest, centers, int(empty.size), n_threads)
        d2 = np.concatenate([p[0] for p in parts])
        where = np.concatenate([p[1] for p in parts])
        labels = np.concatenate([p[2] for p in parts])
        rows = np.concatenate([p[3] for p in parts])
        order = np.lexsort((where, -d2))[:empty.size]
        for target, e in zip(empty, order):
            value = rows[e].astype(np.float64)
            sums[labels[e]] -= value
            counts[labels[e]] -= 1
            sums[target] = value
            counts[target] = 1
        return new

    def _check_init(self, n_features, dtype):
        if isinstance(self.init, str):
            return Options(INITS)(self.init, "init")
        if self.init is None or isinstance(self.init, (numbers.Number, bytes)) or callable(self.init):
            raise TypeError(f"init must be one of {', '.join(map(repr, INITS))} or an array of shape "
                            f"(n_clusters, n_features), got {self.init!r}")
        centers = check_array(self.init, dtype=dtype, order="C", copy=True, input_name="init")
        if centers.shape != (self.n_clusters, n_features):
            raise ValueError(f"The shape of the initial centers {centers.shape} does not match "
                             f"(n_clusters, n_features) = ({self.n_clusters}, {n_features}).")
        return centers

    # ------------------------------------------------------------------ using the centres

    def predict(self, X):
        """Index of the nearest centre of each row (the first on ties); lazy for a dask array."""
        return apply_fitted(self, X, _predict_block, np.int64)

    def transform(self, X):
        """Euclidean distances to the centres, shape (n_samples, n_clusters); lazy for a dask array."""
        return apply_fitted(self, X, _transform_block, None, self.n_clusters)
