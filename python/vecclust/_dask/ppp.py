"""Distributed PPP: the in-memory PPP's tree, merges and refinement, with each pass over all rows
one pass over the blocks (the nodes' sizes, sums and smallest-hash fit samples combined on
the workers), so the labels are those of vecclust.PPP on the same rows."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from .. import _core
from .._ppp.estimator import PPP as MemoryPPP
from .._ppp.refine import most_likely
from .._ppp.sample import HashSample
from .._ppp.tree import route
from .._utils.scaling import scale_from_largest
from .._utils.validation import effective_n_threads, validate_params
from .blocks import check_data, finite_block, lazy_rows, n_threads_per_task
from .reduce import reduce_blocks


ALL = 2**64 - 1  # the hash threshold that keeps every row


@dataclass
class Part:
    """A group's rows within some blocks: their count and float64 sum (in the data's units),
    and the rows of their smallest hashes up to the group's threshold (at most `limit`, in
    the fit scale)."""

    count: int
    sums: np.ndarray
    hashes: np.ndarray
    rows: np.ndarray
    points: np.ndarray

    @classmethod
    def of(cls, raw, X, hashes, rows, offset, limit, threshold):
        below = rows[hashes[rows] <= np.uint64(threshold)]
        chosen = below[np.argsort(hashes[below], kind="stable")[:limit]]
        return cls(len(rows), raw[rows].sum(axis=0, dtype=np.float64), hashes[chosen], offset + chosen, X[chosen])

    def joined(self, other, limit):
        hashes = np.concatenate([self.hashes, other.hashes])
        order = np.argsort(hashes, kind="stable")[:limit]
        return Part(self.count + other.count, self.sums + other.sums, hashes[order],
                    np.concatenate([self.rows, other.rows])[order], np.concatenate([self.points, other.points])[order])


@dataclass
class Summary:
    """What a pass returns for some blocks: the parts of each group, and by kind of pass the
    largest |value|, the (label, component) pairs seen or the summed responsibilities."""

    parts: dict
    limit: int
    largest: float = 0.0
    pairs: np.ndarray | None = None
    totals: np.ndarray | None = None


def _combine(a, b):
    parts = dict(a.parts)
    for key, part in b.parts.items():
        parts[key] = part.joined(parts[key], a.limit) if key in parts else part
    pairs = None if a.pairs is None else np.union1d(a.pairs, b.pairs)
    totals = None if a.totals is None else a.totals + b.totals
    return Summary(parts, a.limit, max(a.largest, b.largest), pairs, totals)


def _parts(raw, X, hashes, groups, offset, limit, thresholds):
    """The Part of each group present in the block (groups: each row's group; thresholds: the
    largest hash each group's sample may need)."""
    order = np.argsort(groups, kind="stable")
    keys, starts = np.unique(groups[order], return_index=True)
    bounds = list(starts[1:]) + [len(order)]
    return {int(key): Part.of(raw, X, hashes, order[start:end], offset, limit, thresholds.get(int(key), ALL))
            for key, start, end in zip(keys, starts, bounds)}


def _threshold(limit, estimate):
    """A hash bound under which a group of about `estimate` rows has `limit` rows with near
    certainty (row hashes are uniform), so a pass moves about `limit` rows per group, not the
    group; a group found short is collected again."""
    share = (1.25 * limit + 10 * math.sqrt(limit)) / max(estimate, 1.0)
    return ALL if share >= 1 else int(share * 2.0**64)


def _prepared(block, scale, n_threads):
    """The block as given, its row hashes and the block in the fit scale."""
    raw = np.ascontiguousarray(block)
    return raw, _core.row_hashes(raw, n_threads=n_threads), scale.data(raw)


def _root_block(block, index, offset, limit, thresholds, n_threads):
    raw = finite_block(block, index, offset)
    hashes = _core.row_hashes(raw, n_threads=n_threads)
    largest = float(np.abs(raw).max()) if raw.size else 0.0
    groups = np.zeros(len(raw), dtype=np.int64)
    return Summary(_parts(raw, raw, hashes, groups, offset, limit, thresholds), limit, largest)


def _split_block(block, index, offset, tree, proposals, scale, limit, thresholds, n_threads):
    """Each row routed down the tree to its node; the rows of the nodes with a proposed rule
    split by it, into groups 2 node + side."""
    raw, hashes, X = _prepared(block, scale, n_threads)
    nodes = route(*tree[:2], X, n_threads)
    groups = np.full(len(X), -1, dtype=np.int64)
    for node, rule in proposals:
        rows = np.flatnonzero(nodes == node)
        if rows.size:
            groups[rows] = 2 * node + rule.apply(X, rows, n_threads).astype(np.int64)
    parts = _parts(raw, X, hashes, groups, offset, limit, thresholds)
    parts.pop(-1, None)
    return Summary(parts, limit)


def _labels(X, tree, leaf_clusters, previous, n_threads):
    """The clusters before a refinement pass: from the tree and the merges, or the previous
    pass's components (previous: its mixture and the numbering of the present components)."""
    if previous is None:
        return leaf_clusters[tree[2][route(*tree[:2], X, n_threads)]]
    mixture, numbering = previous
    return numbering[most_likely(X, mixture, n_threads)]


def _assign_block(block, index, offset, tree, leaf_clusters, previous, mixture, scale, limit, thresholds, n_threads):
    raw, hashes, X = _prepared(block, scale, n_threads)
    labels = _labels(X, tree, leaf_clusters, previous, n_threads)
    components = most_likely(X, mixture, n_threads)
    pairs = np.unique(labels * len(mixture.weights) + components)
    return Summary(_parts(raw, X, hashes, components, offset, limit, thresholds), limit, pairs=pairs)


def _totals_block(block, index, offset, mixture, scale, log_responsibilities, n_threads):
    X = scale.data(np.ascontiguousarray(block))
    return Summary({}, 0, totals=np.exp(log_responsibilities(X, mixture, n_threads)[1]).sum(axis=0))


def _label_block(block, index, offset, tree, leaf_clusters, final, scale, n_threads):
    """The fitted labels of a block, computed as the in-memory fit computes them."""
    X = scale.data(np.ascontiguousarray(block))
    if final is None:
        return _labels(X, tree, leaf_clusters, None, n_threads)
    mixture, numbering, component_clusters = final
    return component_clusters[_labels(X, tree, leaf_clusters, (mixture, numbering), n_threads)]


@dataclass
class DaskNode:
    count: int
    sample: HashSample
    sums: np.ndarray


class DaskSource:
    """PPP's passes over a dask array: the same interface as the in-memory source, the fit
    samples' rows kept on the client."""

    def __init__(self, ppp, X, n_threads):
        self.ppp, self.X, self.n_threads = ppp, X, n_threads
        self.n, self.limit = X.shape[0], ppp.max_fit_samples
        self.rows = np.empty(0, dtype=np.int64)
        self.store = np.empty((0, X.shape[1]), dtype=X.dtype)
        self.n_passes = 0

    def points(self, rows):
        return self.store[np.searchsorted(self.rows, rows)]

    def _pass(self, what, func, *shared, **options):
        start = time.perf_counter()
        summary = reduce_blocks(self.X, func, _combine, *shared, n_threads=self.n_threads, **options)
        self.n_passes += 1
        self.ppp._log(f"Pass {self.n_passes} ({what}): {time.perf_counter() - start:.2f} s")
        return summary

    def _collect(self, what, func, estimates, *shared):
        """A pass whose groups' samples are cut at hash thresholds set from the groups' expected
        sizes; groups found short are collected again (at thresholds from their true sizes)."""
        thresholds = {key: _threshold(self.limit, estimate) for key, estimate in estimates.items()}
        summary = self._pass(what, func, *shared, limit=self.limit, thresholds=thresholds)
        shrink = 1
        while True:
            short = {key: part.count for key, part in summary.parts.items()
                     if len(part.rows) < min(self.limit, part.count)}
            if not short:
                return summary
            shrink *= 2
            thresholds = {key: _threshold(self.limit, short[key] / shrink) if key in short else 0
                          for key in summary.parts}
            again = self._pass(what + ", short samples again", func, *shared, limit=self.limit, thresholds=thresholds)
            summary.parts.update({key: again.parts[key] for key in short})

    def _node(self, part, scaled=True):
        """A node (or group) of a part, its sample's rows added to the store."""
        if part is None:
            return DaskNode(0, HashSample(np.empty(0, np.uint64), np.empty(0, np.int64), 0), np.zeros(self.X.shape[1]))
        points = part.points if scaled else self.scale.data(part.points)
        rows, first = np.unique(np.concatenate([self.rows, part.rows]), return_index=True)
        self.store = np.concatenate([self.store, points])[first]
        self.rows = rows
        return DaskNode(part.count, HashSample(part.hashes, part.rows, part.count), part.sums)

    def root(self):
        summary = self._collect("finite values, the root's sample", _root_block, {0: self.n})
        self.scale = scale_from_largest(summary.largest, self.X.dtype, "sqeuclidean", self.X.shape)
        self.ppp._scale = self.scale
        return self._node(summary.parts[0], scaled=False)

    def tree(self):
        """The split rules, the children of each split node and, once the tree is grown, the
        leaf number of each node."""
        return self.ppp._rules, self.ppp._children, getattr(self.ppp, "_leaf_number", None)

    def split(self, proposals):
        if not proposals:
            return {}
        estimates = {}
        for node, handle, rule in proposals:
            side = rule.apply(self.points(handle.sample.rows), np.arange(len(handle.sample.rows)), 1)
            share = float(side.mean()) if side.size else 0.5
            estimates.update({2 * node: (1 - share) * handle.count, 2 * node + 1: share * handle.count})
        summary = self._collect(f"depth {self.ppp.tree_[proposals[0][0]]['depth']}, {len(proposals)} splits",
                                _split_block, estimates, self.tree(), [(node, rule) for node, _, rule in proposals],
                                self.ppp._scale)
        return {node: (self._node(summary.parts.get(2 * node)), self._node(summary.parts.get(2 * node + 1)))
                for node, _, _ in proposals}

    def start_labels(self, leaves, leaf_clusters):
        self.leaf_clusters, self.previous, self.groups = np.asarray(leaf_clusters), None, None

    def assign(self, mixture, most_likely):
        estimates = dict(enumerate(mixture.weights * self.n))
        summary = self._collect("refinement", _assign_block, estimates, self.tree(), self.leaf_clusters,
                                self.previous, mixture, self.ppp._scale)
        present = np.array(sorted(summary.parts), dtype=np.int64)
        numbering = np.full(len(mixture.weights), -1, dtype=np.int64)
        numbering[present] = np.arange(len(present))
        k = len(mixture.weights)
        changed = bool(np.any(numbering[summary.pairs % k] != summary.pairs // k))
        self.previous = (mixture, numbering)
        self.groups = [self._node(summary.parts[c]) for c in present]
        return [group.sample for group in self.groups], changed, present

    def responsibility_totals(self, mixture, log_responsibilities):
        return self._pass("mixture weights", _totals_block, mixture, self.ppp._scale, log_responsibilities).totals


class PPP(MemoryPPP):
    """PPP on a dask array of shape (n_samples, n_features), chunked by rows: the same
    parameters, tree and labels as vecclust.PPP on the same rows, whatever the chunking, the
    number of workers or the row order (labels follow the rows).

    Every node is fitted, as in memory, on its rows with the smallest row hashes; one pass over
    the blocks per tree level routes each row to its node and returns each new node's size,
    sum and fit sample (combined on the workers, so the client receives at most
    max_fit_samples rows per node); each refinement pass is one more. The fit samples live on
    the client; nothing else of the data leaves the workers. The fitted attributes are the
    in-memory PPP's, with ``labels_`` a dask array (computed lazily); ``predict`` takes numpy
    or dask arrays (then lazily, one ``map_blocks``). ``n_threads`` is the C++ threads per
    block task (None: 1) and the client's for the in-memory steps; ``verbose`` also prints one
    line per pass. With ``refine="gmm"`` on more than max_fit_samples rows, the mixture
    weights are sums over all rows, equal to the in-memory ones only to rounding.
    """

    def fit(self, X, y=None):
        """Build the split tree on the rows of X (a dask array; numpy input is cut into blocks)."""
        validate_params(self)
        X = check_data(X)
        if X.shape[0] == 0:
            raise ValueError("Found array with 0 sample(s) (shape=(0, %d)) while a minimum of 1 is required."
                             % X.shape[1])
        self.n_features_in_ = X.shape[1]
        self._n_threads_used = effective_n_threads(self.n_threads)
        source = DaskSource(self, X, n_threads_per_task(self.n_threads))
        with threadpool_limits(limits=1, user_api="blas"):
            leaves, refined = self._fit_tree(source)
        if refined is None:
            final, groups, clusters = None, leaves, self.leaf_clusters_
        else:
            final = (*source.previous, self._component_clusters)
            groups, clusters = source.groups, self._component_clusters
        self.n_clusters_ = int(clusters.max()) + 1
        totals = np.zeros((self.n_clusters_, X.shape[1]))
        counts = np.zeros(self.n_clusters_)
        for cluster, group in zip(clusters, groups):
            totals[cluster] += group.sums
            counts[cluster] += group.count
        self.cluster_centers_ = (totals / counts[:, None]).astype(X.dtype)
        self.labels_ = lazy_rows(X, _label_block, np.int64, tree=source.tree(), leaf_clusters=self.leaf_clusters_,
                                 final=final, scale=self._scale, n_threads=source.n_threads)
        self.n_passes_ = source.n_passes
        self.separability_ = np.array([self.tree_[s]["separability"] for s in self.splits_])
        self.most_separable_split_ = (self.splits_[int(np.argmax(self.separability_))] if self.splits_ else None)
        return self
