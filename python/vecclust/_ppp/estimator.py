"""PPP, probabilistic partitive partitioning: a binary divisive clustering in which k-means
proposes every split and a Gaussian mixture validates it, so the number of clusters comes out of
the data.

Each node is cut by 2-means started along its first principal axis; a 1- versus 2-component
full-covariance Gaussian mixture on the node's leading principal components, with EM started at
the cut, decides by BIC whether the node splits. If the mixture's MAP labels disagree with the
cut, the mixture's partition replaces it. A last pass merges neighbouring clusters while a single
Gaussian describes their union better (BIC or ICL).

Nothing depends on a random seed or on the row order: a node is fitted on the points with the
smallest row hashes (a fixed-size, order-free sample), taken in hash order, and every pass over
all points is deterministic C++.
"""

from __future__ import annotations

from typing import Any, Literal, Self

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from .. import _core
from .._utils.scaling import scale_for
from .._utils.hints import ArrayLike, IntArray, NThreads, Seed
from .._utils.validation import (INT64_MAX, Boolean, Integer, Options, Real, effective_n_threads, native_byte_order,
                                 validate_params)
from .._utils.lazy import lazy_on_dask
from .merge import merge_leaves
from .refine import most_likely, refine
from .sample import MemorySource, union
from .tree import grow, route_to_leaves

SPLIT_CRITERIA = ("bic", "icl")
ON_DISAGREEMENT = ("gmm", "reject", "keep")
MERGES = ("bic", "icl", "none")
REFINES = ("cem", "gmm", "none")

class PPP(ClusterMixin, BaseEstimator):
    """Probabilistic partitive partitioning: divisive 2-means validated by Gaussian mixtures.

    Finds the number of clusters itself, and gives the same clusters whatever the random seed,
    thread count or row order.

    Parameters
    ----------
    min_cluster_size : int, default=10
        A split that leaves a child smaller than this is rejected.
    max_clusters : int, default=64
        Cap on the number of leaves (a safety net, not a k).
    max_depth : int, default=32
        Cap on the depth of the split tree.
    q_max : int, default=10
        Largest number of principal components the mixture test uses.
    max_fit_samples : int, default=10000
        A node with more points is fitted and tested on this many of them (those with the
        smallest row hashes); all points are then assigned. Keeps the cost linear in n and the
        test's power independent of n.
    split_criterion : {"bic", "icl"}, default="bic"
        Split when BIC(1 component) - BIC(2 components) > bic_margin; "icl" also subtracts twice
        the 2-component posterior entropy.
    bic_margin : float, default=0.0
    agreement_threshold : float, default=0.9
        Smallest per-child fraction of the k-means cut that the mixture's MAP labels must
        reproduce for the k-means cut to be kept.
    on_disagreement : {"gmm", "reject", "keep"}, default="gmm"
        Below the threshold: use the mixture's partition, make the node a leaf, or keep k-means.
    merge : {"bic", "icl", "none"}, default="bic"
        Final pass: merge neighbouring clusters while one Gaussian describes their union better.
    merge_neighbors : int, default=3
        Each cluster is tested against its this many nearest clusters (by centroid).
    merge_box : bool, default=True
        In the merge pass, a uniform box (along the principal axes, or the feature axes when the
        test uses them all) also counts as "one cluster". Gaussian pieces always describe a flat
        distribution better than one Gaussian, so without it a uniform cube ends in many clusters.
    refine : {"cem", "gmm", "none"}, default="cem"
        "cem": after the tree and merges, hard classification-EM passes move every point to the
        cluster whose Gaussian explains it best (points cut off their cluster near the root
        return), then a second merge pass runs; predict then uses those Gaussians. "gmm": one
        global full-covariance EM (soft, at most gmm_max_iter iterations on the clusters' fit
        samples) started from the clusters, every point to its most likely component, then
        the second merge pass; on the benchmark suite within 0.001 mean ARI of "cem" and 1.4x
        slower. "none": the tree's cuts are final and predict routes points down the tree.
    refine_iter : int, default=3
        Largest number of classification-EM passes (refine="cem").
    reg_covar_rel : float, default=1e-6
        Covariance regularisation relative to the mean variance of the tested coordinates.
    kmeans_max_iter, kmeans_tol, gmm_max_iter, gmm_tol : k-means and EM limits.
    n_extra_starts : int, default=0
        Extra candidate cuts per node: 2-means from k-means++ seeds 0 .. n_extra_starts - 1 on
        the node's fit sample, besides the principal-axis start. Each is tested like the first
        and the one whose cut the mixture reproduces best (highest agreement; the earlier start
        on ties) is used. Fixed seeds on an order-free sample keep the result deterministic.
    random_state : ignored
        Accepted so that PPP drops in where a seed is passed; the result never depends on it.
    n_threads : int or None, default=None
        Threads for the passes over the data (None: all CPUs). Results do not depend on it.
    verbose : int, default=0
        Print each node's decision and each merge.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
    n_clusters_ : int
    cluster_centers_ : ndarray of shape (n_clusters_, n_features)
    tree_ : list of dict
        One record per node of the split tree (id, parent, depth, n_samples, n_fit_samples, q,
        start (which 2-means start was used: 0 the principal axis, s > 0 k-means++ seed s - 1),
        delta_bic, agreement, partition, children, decision), in creation order.
    splits_ : list of int
        Ids of the nodes that were split, in order.
    separability_ : ndarray
        Per accepted split, the criterion gain per fitted point (log-likelihood gain per point).
    most_separable_split_ : int or None
        The split node with the largest separability_.
    merges_ : list of dict
        The merges performed (clusters a and b by their leaves, and the criterion difference).
    leaf_clusters_ : ndarray
        The final cluster of each leaf.
    """

    _parameter_constraints = {
        "min_cluster_size": Integer(1),
        "max_clusters": Integer(1),
        "max_depth": Integer(0),
        "q_max": Integer(1),
        "max_fit_samples": Integer(2),
        "split_criterion": Options(SPLIT_CRITERIA),
        "bic_margin": Real(),
        "agreement_threshold": Real(0, 1),
        "on_disagreement": Options(ON_DISAGREEMENT),
        "merge": Options(MERGES),
        "merge_neighbors": Integer(1),
        "merge_box": Boolean(int_ok=True),
        "refine": Options(REFINES),
        "refine_iter": Integer(1),
        "reg_covar_rel": Real(0),
        "kmeans_max_iter": Integer(1, INT64_MAX),
        "kmeans_tol": Real(0),
        "gmm_max_iter": Integer(1, INT64_MAX),
        "gmm_tol": Real(0),
        "n_extra_starts": Integer(0),
        "random_state": None,
        "n_threads": None,
        "verbose": Boolean(int_ok=True),
    }

    def __init__(self, *, min_cluster_size: int = 10, max_clusters: int = 64, max_depth: int = 32, q_max: int = 10,
                 max_fit_samples: int = 10_000, split_criterion: Literal["bic", "icl"] = "bic", bic_margin: float = 0.0,
                 agreement_threshold: float = 0.9, on_disagreement: Literal["gmm", "reject", "keep"] = "gmm",
                 merge: Literal["bic", "icl", "none"] = "bic", merge_neighbors: int = 3, merge_box: bool = True,
                 refine: Literal["cem", "gmm", "none"] = "cem", refine_iter: int = 3, reg_covar_rel: float = 1e-6,
                 kmeans_max_iter: int = 300, kmeans_tol: float = 1e-4, gmm_max_iter: int = 100, gmm_tol: float = 1e-3,
                 n_extra_starts: int = 0, random_state: Seed = None, n_threads: NThreads = None,
                 verbose: int = 0) -> None:
        self.min_cluster_size = min_cluster_size
        self.max_clusters = max_clusters
        self.max_depth = max_depth
        self.q_max = q_max
        self.max_fit_samples = max_fit_samples
        self.split_criterion = split_criterion
        self.bic_margin = bic_margin
        self.agreement_threshold = agreement_threshold
        self.on_disagreement = on_disagreement
        self.merge = merge
        self.merge_neighbors = merge_neighbors
        self.refine = refine
        self.merge_box = merge_box
        self.refine_iter = refine_iter
        self.reg_covar_rel = reg_covar_rel
        self.kmeans_max_iter = kmeans_max_iter
        self.kmeans_tol = kmeans_tol
        self.gmm_max_iter = gmm_max_iter
        self.gmm_tol = gmm_tol
        self.n_extra_starts = n_extra_starts
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags

    def fit(self, X: ArrayLike, y: object = None) -> Self:
        """Build the split tree on X and label every sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features); float32 stays float32.
        y : ignored

        Returns
        -------
        self
        """
        validate_params(self)
        X = validate_data(self, native_byte_order(X), dtype=[np.float64, np.float32], order="C")
        self._n_threads_used = effective_n_threads(self.n_threads)
        # Every decision is scale-free (relative tolerances and regularisation, BIC differences),
        # so data at the edge of the dtype's range is fitted scaled by a power of two; the row
        # hashes, and with them the fit samples, come from X itself.
        self._scale = scale_for(X, "sqeuclidean")
        data = self._scale.data(X)
        # Small dense algebra (PCA, Cholesky) runs in BLAS/LAPACK; one BLAS thread keeps its
        # results bit-identical whatever the machine's thread count.
        with threadpool_limits(limits=1, user_api="blas"):
            source = MemorySource(data, _core.row_hashes(X, n_threads=self._n_threads_used), self.max_fit_samples,
                                  self._n_threads_used)
            leaves, refined = self._fit_tree(source)
            if refined is None:
                source.start_labels(leaves, self.leaf_clusters_)
                labels = source.labels
            else:
                labels = self._component_clusters[source.labels]
        self.labels_ = labels
        self.n_clusters_ = int(labels.max()) + 1
        self.cluster_centers_ = _core.group_means(X, labels, n_clusters=self.n_clusters_,
                                                 n_threads=self._n_threads_used).astype(X.dtype)
        self.separability_ = np.array([self.tree_[s]["separability"] for s in self.splits_])
        self.most_separable_split_ = (self.splits_[int(np.argmax(self.separability_))] if self.splits_ else None)
        return self

    @lazy_on_dask(np.int64)
    def predict(self, X: ArrayLike) -> IntArray:
        """Cluster of each sample: routed down the split tree, then mapped through the merges."""
        check_is_fitted(self)
        X = validate_data(self, native_byte_order(X), dtype=[np.float64, np.float32], order="C", reset=False)
        n_threads = effective_n_threads(self.n_threads)
        X = self._scale.data(X)  # the rules and Gaussians are in the fitted data's scale
        if self._mixture is not None:
            return self._component_clusters[most_likely(X, self._mixture, n_threads)]
        return self.leaf_clusters_[route_to_leaves(self, X, n_threads)]

    def fit_predict(self, X: ArrayLike, y: object = None) -> IntArray:
        return self.fit(X).labels_

    def _log(self, message):
        if self.verbose:
            print(message, flush=True)

    def _fit_tree(self, source):
        """The split tree, the merges and the refinement on a source of the data's passes; sets
        the fitted tree attributes and returns the leaves and, when refinement ran, the samples
        of the refined components (whose final clusters are self._component_clusters)."""
        self.merges_: list[Any] = []
        leaves = grow(self, source)
        self.leaf_clusters_ = merge_leaves(self, source, [leaf.sample for leaf in leaves])
        self._mixture = refined = None
        if self.refine != "none" and self.leaf_clusters_.max() > 0:
            source.start_labels(leaves, self.leaf_clusters_)
            cluster_samples = [union([leaf.sample for leaf, c in zip(leaves, self.leaf_clusters_) if c == cluster],
                                     self.max_fit_samples)[0] for cluster in range(int(self.leaf_clusters_.max()) + 1)]
            refined = refine(self, source, cluster_samples)
            # Refinement can leave two parts of one cluster side by side: merge again.
            self._component_clusters = merge_leaves(self, source, refined)
        return leaves, refined
