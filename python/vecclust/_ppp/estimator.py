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

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from .. import _core
from .._utils.numerics import precision_cholesky
from .._mixture.gmm import EMResult, fit_em, log_responsibilities, n_parameters
from .._utils.validation import check_choice, check_int, effective_n_threads, native_byte_order


@dataclass
class _SplitRule:
    """Routes a node's points to its two children: the nearer of two k-means centres, or the MAP
    component of the 2-component mixture in the node's PCA coordinates."""

    partition: str  # "kmeans" or "gmm"
    centers: np.ndarray | None = None
    mixture: dict | None = None

    def apply(self, X, rows, n_threads):
        if self.partition == "kmeans":
            return _core.split_by_centers(X, rows, self.centers.astype(X.dtype), n_threads)
        return _core.split_by_mixture(X, rows, n_threads=n_threads, **self.mixture)


@dataclass
class _PcaSample:
    """A fit sample in float64 with its principal axes (descending variance)."""

    points: np.ndarray
    mean: np.ndarray
    variances: np.ndarray
    axes: np.ndarray

    @classmethod
    def of(cls, points):
        mean = points.mean(axis=0)
        centred = points - mean
        cov = centred.T @ centred / max(len(points) - 1, 1)
        variances, vectors = np.linalg.eigh(cov)
        order = np.argsort(-variances, kind="stable")
        variances = np.clip(variances[order], 0.0, None)
        axes = vectors[:, order].T
        # An eigenvector's sign is arbitrary: make its largest entry positive.
        axes *= np.where(axes[np.arange(len(axes)), np.argmax(np.abs(axes), axis=1)] < 0, -1.0, 1.0)[:, None]
        return cls(points, mean, variances, axes)

    def n_components(self, q_max):
        """min(q_max, d, floor(sqrt(m/5)), rank), at least 1: keeps a full covariance's
        parameter count well below the sample size."""
        top = self.variances[0]
        rank = int(np.count_nonzero(self.variances > top * 1e-10)) if top > 0 else 0
        return max(1, min(q_max, len(self.variances), int(math.sqrt(len(self.points) / 5)), rank))

    def project(self, q):
        return (self.points - self.mean) @ self.axes[:q].T


def _gaussian_of(Z, reg):
    """Maximum-likelihood Gaussian (biased covariance + reg on the diagonal)."""
    mean = Z.mean(axis=0)
    centred = Z - mean
    cov = centred.T @ centred / len(Z) + reg * np.eye(Z.shape[1])
    return mean, cov


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

    def __init__(self, *, min_cluster_size=10, max_clusters=64, max_depth=32, q_max=10, max_fit_samples=10_000,
                 split_criterion="bic", bic_margin=0.0, agreement_threshold=0.9, on_disagreement="gmm", merge="bic",
                 merge_neighbors=3, merge_box=True, refine="cem", refine_iter=3, reg_covar_rel=1e-6,
                 kmeans_max_iter=300, kmeans_tol=1e-4, gmm_max_iter=100, gmm_tol=1e-3, n_extra_starts=0,
                 random_state=None, n_threads=None, verbose=0):
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

    def _check_params(self):
        check_int(self.min_cluster_size, "min_cluster_size", 1)
        check_int(self.max_clusters, "max_clusters", 1)
        check_int(self.max_depth, "max_depth", 0)
        check_int(self.q_max, "q_max", 1)
        check_int(self.max_fit_samples, "max_fit_samples", 2)
        check_int(self.merge_neighbors, "merge_neighbors", 1)
        check_int(self.kmeans_max_iter, "kmeans_max_iter", 1)
        check_int(self.gmm_max_iter, "gmm_max_iter", 1)
        check_choice(self.split_criterion, "split_criterion", ("bic", "icl"))
        check_choice(self.on_disagreement, "on_disagreement", ("gmm", "reject", "keep"))
        check_choice(self.merge, "merge", ("bic", "icl", "none"))
        check_choice(self.refine, "refine", ("cem", "gmm", "none"))
        check_int(self.refine_iter, "refine_iter", 1)
        check_int(self.n_extra_starts, "n_extra_starts", 0)
        for name in ("bic_margin", "agreement_threshold", "reg_covar_rel", "kmeans_tol", "gmm_tol"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if not 0.0 <= self.agreement_threshold <= 1.0:
            raise ValueError(f"agreement_threshold={self.agreement_threshold} must be in [0, 1]")
        for name in ("reg_covar_rel", "kmeans_tol", "gmm_tol"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    def fit(self, X, y=None):
        """Build the split tree on X and label every sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features); float32 stays float32.
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        X = validate_data(self, native_byte_order(X), dtype=[np.float64, np.float32], order="C")
        self._n_threads_used = effective_n_threads(self.n_threads)
        # Small dense algebra (PCA, Cholesky) runs in BLAS/LAPACK; one BLAS thread keeps its
        # results bit-identical whatever the machine's thread count.
        with threadpool_limits(limits=1, user_api="blas"):
            self._hashes = _core.row_hashes(X, self._n_threads_used)
            self.merges_ = []
            leaf_rows = self._grow(X)
            self.leaf_clusters_ = self._merge_leaves(X, leaf_rows)
            labels = np.empty(X.shape[0], dtype=np.int64)
            for leaf, rows in enumerate(leaf_rows):
                labels[rows] = self.leaf_clusters_[leaf]
            self._mixture = None
            if self.refine != "none" and labels.max() > 0:
                labels = self._refine(X, labels)
                # Refinement can leave two parts of one cluster side by side: merge again.
                self._component_clusters = self._merge_leaves(
                    X, [np.flatnonzero(labels == c) for c in range(int(labels.max()) + 1)])
                labels = self._component_clusters[labels]
        del self._hashes
        self.labels_ = labels
        self.n_clusters_ = int(labels.max()) + 1
        self.cluster_centers_ = _core.group_means(X, labels, self.n_clusters_, self._n_threads_used).astype(X.dtype)
        self.separability_ = np.array([self.tree_[s]["separability"] for s in self.splits_])
        self.most_separable_split_ = (self.splits_[int(np.argmax(self.separability_))] if self.splits_ else None)
        return self

    def predict(self, X):
        """Cluster of each sample: routed down the split tree, then mapped through the merges."""
        check_is_fitted(self)
        X = validate_data(self, native_byte_order(X), dtype=[np.float64, np.float32], order="C", reset=False)
        n_threads = effective_n_threads(self.n_threads)
        if self._mixture is not None:
            return self._component_clusters[self._most_likely(X, self._mixture, n_threads)]
        labels = np.empty(X.shape[0], dtype=np.int64)
        pending = [(0, np.arange(X.shape[0], dtype=np.int64))]
        while pending:
            node, rows = pending.pop()
            rule = self._rules.get(node)
            if rule is None:
                labels[rows] = self.leaf_clusters_[self._leaf_index[node]]
                continue
            side = rule.apply(X, rows, n_threads).astype(bool)
            first, second = self.tree_[node]["children"]
            pending += [(first, rows[~side]), (second, rows[side])]
        return labels

    @staticmethod
    def _most_likely(X, mixture, n_threads, block=65536):
        """MAP component of each row, in blocks to bound the memory of the responsibilities."""
        out = np.empty(X.shape[0], dtype=np.int64)
        for start in range(0, X.shape[0], block):
            rows = X[start:start + block]
            out[start:start + block] = np.argmax(log_responsibilities(rows, mixture, n_threads)[1], axis=1)
        return out

    def fit_predict(self, X, y=None):
        return self.fit(X).labels_

    # -- growing the tree ---------------------------------------------------------------------

    def _log(self, message):
        if self.verbose:
            print(message, flush=True)

    def _fit_sample(self, rows):
        """The node's points with the smallest row hashes, in hash order: the same sample in
        the same order whatever the row order of X (equal hashes mean equal rows)."""
        order = np.argsort(self._hashes[rows], kind="stable")[: self.max_fit_samples]
        return rows[order]

    def _grow(self, X):
        n = X.shape[0]
        self.tree_, self.splits_, self._rules, self._leaf_index = [], [], {}, {}
        leaf_rows = []
        self.tree_.append(self._node_record(0, None, 0, n))
        queue = deque([(0, np.arange(n, dtype=np.int64))])
        while queue:
            node, rows = queue.popleft()
            record = self.tree_[node]
            if record["depth"] >= self.max_depth:
                outcome = "leaf: max_depth"
            elif len(leaf_rows) + len(queue) + 1 >= self.max_clusters:
                outcome = "leaf: max_clusters"
            else:
                outcome = self._try_split(X, rows, record)
            if isinstance(outcome, str):
                record["decision"] = outcome
                self._leaf_index[node] = len(leaf_rows)
                leaf_rows.append(rows)
                self._log(f"node {node} (n={len(rows)}): {outcome}")
                continue
            rule, side = outcome
            children = []
            for child_rows in (rows[~side], rows[side]):
                children.append(len(self.tree_))
                self.tree_.append(self._node_record(children[-1], node, record["depth"] + 1, len(child_rows)))
                queue.append((children[-1], child_rows))
            record.update(decision="split", children=tuple(children), partition=rule.partition)
            self._rules[node] = rule
            self.splits_.append(node)
            self._log(f"node {node} (n={len(rows)}): split by {rule.partition} into {len(children)} "
                      f"(delta={record['delta_bic']:.1f}, agreement={record['agreement']:.3f})")
        return leaf_rows

    @staticmethod
    def _node_record(node, parent, depth, n_samples):
        return dict(id=node, parent=parent, depth=depth, n_samples=n_samples, n_fit_samples=None, q=None, start=None,
                    delta_bic=None, agreement=None, separability=None, partition=None, children=None, decision=None)

    def _try_split(self, X, rows, record):
        """The node's split rule and each point's side, or the reason it stays a leaf."""
        m = len(rows)
        if m < 2 * self.min_cluster_size:
            return "leaf: too small to split"
        sample_rows = self._fit_sample(rows)
        sample = _PcaSample.of(X[sample_rows].astype(np.float64))
        record["n_fit_samples"] = len(sample_rows)
        if sample.variances[0] <= 0:
            return "leaf: constant"
        min_sample_size = max(2.0, self.min_cluster_size * len(sample_rows) / m)
        q = sample.n_components(self.q_max)
        record["q"] = q
        tol = self.kmeans_tol * float(np.mean(np.var(sample.points, axis=0)))
        best, failures = None, []  # best: ((accepted, agreement), k-means result, test)
        for start, init in enumerate(self._starts(sample)):
            km = _core.kmeans(sample.points, init, sample_weight=None, max_iter=self.kmeans_max_iter, tol=tol,
                              algorithm="hamerly", n_threads=self._n_threads_used)
            if np.bincount(km["labels"], minlength=2).min() < min_sample_size:
                failures.append("leaf: k-means child too small")
                continue
            test = self._one_vs_two(sample, q, km["labels"], self.split_criterion)
            if test is None:
                failures.append("leaf: singular covariance")
                continue
            # A start whose split the test accepts beats one it rejects; then the best agreement.
            score = (test[0] > self.bic_margin, _agreement(km["labels"], test[2]))
            if best is None or score > best[0]:
                best = (score, km, test)
                record["start"] = start
            if score == (True, 1.0):
                break
        if best is None:
            return failures[0]
        (_, agreement), km, (delta, mixture, _) = best
        record["delta_bic"] = delta
        record["separability"] = delta / len(sample_rows)
        if delta <= self.bic_margin:
            return "leaf: one Gaussian preferred"
        record["agreement"] = agreement
        if agreement >= self.agreement_threshold or self.on_disagreement == "keep":
            rule = _SplitRule("kmeans", centers=km["centers"])
        elif self.on_disagreement == "gmm":
            rule = _SplitRule("gmm", mixture=dict(
                mean=sample.mean, components=sample.axes[:q], log_weights=np.log(mixture.weights),
                means=mixture.means, precisions_cholesky=mixture.precisions_cholesky))
        else:
            return "leaf: k-means and mixture disagree"
        side = rule.apply(X, rows, self._n_threads_used).astype(bool)
        if min(side.sum(), m - side.sum()) < self.min_cluster_size:
            return "leaf: child too small"
        return rule, side

    def _starts(self, sample):
        """Initial centre pairs for a node's 2-means: first the centre +- the mean half-normal
        offset along the first principal axis, then k-means++ from seeds 0, 1, ..."""
        offset = math.sqrt(2 * sample.variances[0] / math.pi) * sample.axes[0]
        yield np.ascontiguousarray([sample.mean + offset, sample.mean - offset])
        for seed in range(self.n_extra_starts):
            yield _core.kmeans_plusplus(sample.points, n_clusters=2, seed=seed, sample_weight=None,
                                        n_threads=self._n_threads_used)

    def _one_vs_two(self, sample, q, side, criterion, box_null=False):
        """BIC(1 component) - BIC(2 components) on the sample's first q principal coordinates
        (minus twice the posterior entropy for ICL), with EM started at the given 2-partition.
        Returns (delta, mixture, MAP side), or None if a covariance is singular."""
        # A component needs well more points than coordinates, or its near-singular covariance
        # makes any small group look like a cluster of its own.
        q = max(1, min(q, int(np.bincount(side, minlength=2).min()) // 2))
        Z = sample.project(q)
        m = len(Z)
        reg = self.reg_covar_rel * float(sample.variances[:q].sum()) / q
        try:
            mean, cov = _gaussian_of(Z, reg)
            one = EMResult(np.ones(1), mean[None], cov[None], precision_cholesky(cov)[None])
            halves = [_gaussian_of(Z[side == s], reg) for s in (0, 1)]
            weights = np.bincount(side, minlength=2) / m
            two = fit_em(Z, weights, np.array([h[0] for h in halves]),
                         np.array([precision_cholesky(h[1]) for h in halves]), covariance_type="full",
                         reg_covar=reg, tol=self.gmm_tol, max_iter=self.gmm_max_iter, n_threads=self._n_threads_used)
        except (linalg.LinAlgError, ValueError):
            return None
        log_like_one = log_responsibilities(Z, one, self._n_threads_used)[0].sum()
        log_prob, log_resp = log_responsibilities(Z, two, self._n_threads_used)
        log_m = math.log(m)
        bic_one = -2 * log_like_one + n_parameters(1, q, "full") * log_m
        if box_null:
            log_volume = float(np.log(np.ptp(Z, axis=0)).sum())
            if q == Z.shape[1] == sample.points.shape[1]:  # the feature axes span the same space
                log_volume = min(log_volume, float(np.log(np.ptp(sample.points, axis=0)).sum()))
            log_volume += q * math.log((m + 1) / (m - 1))
            bic_box = 2 * m * log_volume + 2 * q * log_m
            bic_one = min(bic_one, bic_box)
        delta = bic_one - (-2 * log_prob.sum() + n_parameters(2, q, "full") * log_m)
        if criterion == "icl":
            resp = np.exp(log_resp)
            delta -= 2 * float(-(resp * log_resp).sum())
        return float(delta), two, np.argmax(log_resp, axis=1)

    def _refine(self, X, labels):
        """Moves every point to the cluster whose Gaussian gives it the highest weighted
        likelihood, which returns points that an early cut separated from their cluster.
        "cem": hard classification-EM passes, each Gaussian fitted on its cluster's own fit
        sample and shrunk towards the pooled covariance so small groups stay well posed.
        "gmm": one soft EM started from those Gaussians. Clusters left empty disappear. Sets self._mixture and returns the labels (0..K'-1), which equal the
        mixture's MAP components."""
        n_iter = self.refine_iter if self.refine == "cem" else 1
        for _ in range(n_iter):
            groups = [X[self._fit_sample(np.flatnonzero(labels == c))].astype(np.float64)
                      for c in range(int(labels.max()) + 1)]
            mixture = _shrunk_mixture(groups, np.bincount(labels), self.reg_covar_rel)
            if self.refine == "gmm":
                mixture = self._global_em(X, groups, mixture)
            components = self._most_likely(X, mixture, self._n_threads_used)
            present, new = np.unique(components, return_inverse=True)
            self._mixture = EMResult(mixture.weights[present] / mixture.weights[present].sum(), mixture.means[present],
                                     None, mixture.precisions_cholesky[present])
            if np.array_equal(new, labels):
                break
            labels = new
        return new

    def _global_em(self, X, groups, start):
        """Full-covariance EM from the given mixture on the clusters' fit samples together (all
        points when n <= max_fit_samples; otherwise every cluster keeps its say, however small,
        and the weights are then re-estimated from all points). The start is kept if EM meets
        a singular covariance."""
        sample = np.concatenate(groups)
        reg = max(self.reg_covar_rel * float(np.var(sample, axis=0).mean()), np.finfo(np.float64).tiny)
        try:
            mixture = fit_em(sample, start.weights, start.means, start.precisions_cholesky, covariance_type="full",
                             reg_covar=reg, tol=self.gmm_tol, max_iter=self.gmm_max_iter, n_threads=self._n_threads_used)
        except (linalg.LinAlgError, ValueError):
            return start
        if len(sample) < X.shape[0]:
            totals = np.zeros(len(mixture.weights))
            for first in range(0, X.shape[0], 65536):
                totals += np.exp(log_responsibilities(X[first:first + 65536], mixture, self._n_threads_used)[1]).sum(axis=0)
            mixture = EMResult(totals / X.shape[0], mixture.means, mixture.covariances, mixture.precisions_cholesky)
        return mixture

    # -- merging --------------------------------------------------------------------------------

    def _merge_leaves(self, X, leaf_rows):
        """Greedy merge of neighbouring clusters while the criterion prefers one Gaussian for
        their union; returns the cluster of each leaf, numbered in leaf order."""
        clusters = {leaf: [leaf] for leaf in range(len(leaf_rows))}
        if self.merge == "none" or len(clusters) < 2:
            return np.arange(len(leaf_rows), dtype=np.int64)

        def rows_of(cluster):
            return np.concatenate([leaf_rows[leaf] for leaf in clusters[cluster]])

        def centroid(cluster):
            return X[self._fit_sample(rows_of(cluster))].astype(np.float64).mean(axis=0)

        centroids = {c: centroid(c) for c in clusters}
        cache = {}
        while len(clusters) > 1:
            ids = sorted(clusters)
            points = np.array([centroids[c] for c in ids])
            dist = ((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=2)
            np.fill_diagonal(dist, np.inf)
            pairs = set()
            for i, a in enumerate(ids):
                for j in np.argsort(dist[i], kind="stable")[: self.merge_neighbors]:
                    if np.isfinite(dist[i, j]):
                        pairs.add((min(a, ids[j]), max(a, ids[j])))
            scored = []
            for a, b in sorted(pairs):
                key = (tuple(clusters[a]), tuple(clusters[b]))
                if key not in cache:
                    cache[key] = self._merge_delta(X, rows_of(a), rows_of(b))
                scored.append((cache[key], a, b))
            delta, a, b = min(scored)
            if delta > self.bic_margin:
                break
            self._log(f"merge clusters {a} and {b} (leaves {clusters[a]} + {clusters[b]}, delta={delta:.1f})")
            self.merges_.append(dict(a=list(clusters[a]), b=list(clusters[b]), delta=delta))
            clusters[a] = sorted(clusters[a] + clusters.pop(b))
            del centroids[b]
            centroids[a] = centroid(a)
        leaf_clusters = np.empty(len(leaf_rows), dtype=np.int64)
        for number, cluster in enumerate(sorted(clusters)):
            leaf_clusters[clusters[cluster]] = number
        return leaf_clusters

    def _merge_delta(self, X, rows_a, rows_b):
        """The split criterion for the union of two clusters, with EM started at the two; +inf if
        it cannot be tested (then the pair is never merged)."""
        rows = np.concatenate([rows_a, rows_b])
        membership = np.repeat(np.array([0, 1], dtype=np.int64), [len(rows_a), len(rows_b)])
        order = np.argsort(self._hashes[rows], kind="stable")[: self.max_fit_samples]
        side = membership[order]
        if np.bincount(side, minlength=2).min() < 2:
            return math.inf
        sample = _PcaSample.of(X[rows[order]].astype(np.float64))
        if sample.variances[0] <= 0:
            return -math.inf  # identical points: certainly one cluster
        test = self._one_vs_two(sample, sample.n_components(self.q_max), side, self.merge, self.merge_box)
        return math.inf if test is None else test[0]


def _shrunk_mixture(groups, counts, reg_covar_rel):
    """One Gaussian per group of points (a cluster's fit sample; counts: the clusters' sizes):
    weight, mean and covariance shrunk towards the pooled within-group covariance by d + 2
    pseudo-points (a conjugate prior's MAP estimate)."""
    points = np.concatenate(groups)
    d = points.shape[1]
    means = np.array([g.mean(axis=0) for g in groups])
    scatters = [(g - mean).T @ (g - mean) for g, mean in zip(groups, means)]
    pooled = sum(scatters) / len(points)
    # Regularise relative to the total variance: the pooled one is 0 when every group is one point.
    pooled.flat[:: d + 1] += max(reg_covar_rel * float(np.var(points, axis=0).mean()), np.finfo(np.float64).tiny)
    prior = d + 2.0
    chol = np.array([precision_cholesky((s + prior * pooled) / (len(g) + prior)) for s, g in zip(scatters, groups)])
    counts = np.asarray(counts, dtype=np.float64)
    return EMResult(counts / counts.sum(), means, None, chol)


def _agreement(km_side, mixture_side):
    """Smallest per-child fraction of the k-means cut that the mixture reproduces, with the
    mixture's two labels matched to the children by the larger diagonal."""
    table = np.zeros((2, 2))
    np.add.at(table, (km_side, mixture_side), 1)
    if table[0, 0] + table[1, 1] < table[0, 1] + table[1, 0]:
        table = table[:, ::-1]
    return float(min(table[0, 0] / table[0].sum(), table[1, 1] / table[1].sum()))
