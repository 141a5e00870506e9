"""PPP's split tree: nodes split breadth first, each by 2-means on its fit sample, kept when the
1- versus 2-component test accepts the cut."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from .. import _core
from .one_vs_two import PcaSample, cut_agreement, one_vs_two


@dataclass
class SplitRule:
    """Routes a node's points to its two children: the nearer of two k-means centres, or the MAP
    component of the 2-component mixture in the node's PCA coordinates."""

    partition: str  # "kmeans" or "gmm"
    centers: np.ndarray | None = None
    mixture: dict | None = None

    def apply(self, X, rows, n_threads):
        if self.partition == "kmeans":
            return _core.split_by_centers(X, rows, self.centers.astype(X.dtype), n_threads=n_threads)
        return _core.split_by_mixture(X, rows, n_threads=n_threads, **self.mixture)


def grow(ppp, source):
    """Splits nodes breadth first from the root (all rows of the source) until none splits or a
    cap is met; fills the tree_, splits_ and split rules of ppp (the PPP being fitted) and
    returns the handle of each leaf (its size and fit sample). A level's splits are proposed
    from the nodes' fit samples, applied to all rows in one pass, then decided in queue order,
    which is the order of a node-by-node breadth-first search (a node past the max_clusters
    cap keeps its record empty)."""
    ppp.tree_, ppp.splits_, ppp._rules, ppp._children, ppp._leaf_index = [], [], {}, {}, {}
    leaves = []
    root = source.root()
    ppp.tree_.append(_node_record(0, None, 0, root.count))
    queue = deque([(0, root)])
    while queue:
        proposed = {}  # node: (its record's fields, a rule or why it stays a leaf)
        for node, handle in queue:
            if ppp.tree_[node]["depth"] < ppp.max_depth:
                fields = {}
                proposed[node] = (fields, _propose_split(ppp, source, handle, fields))
        children = source.split([(node, handle, proposed[node][1]) for node, handle in queue
                                 if node in proposed and not isinstance(proposed[node][1], str)])
        for _ in range(len(queue)):
            node, handle = queue.popleft()
            record = ppp.tree_[node]
            if record["depth"] >= ppp.max_depth:
                outcome = "leaf: max_depth"
            elif len(leaves) + len(queue) + 1 >= ppp.max_clusters:
                outcome = "leaf: max_clusters"
            else:
                fields, outcome = proposed[node]
                record.update(fields)
                if not isinstance(outcome, str) and min(h.count for h in children[node]) < ppp.min_cluster_size:
                    outcome = "leaf: child too small"
            if isinstance(outcome, str):
                record["decision"] = outcome
                ppp._leaf_index[node] = len(leaves)
                leaves.append(handle)
                ppp._log(f"node {node} (n={handle.count}): {outcome}")
                continue
            ids = []
            for child in children[node]:
                ids.append(len(ppp.tree_))
                ppp.tree_.append(_node_record(ids[-1], node, record["depth"] + 1, child.count))
                queue.append((ids[-1], child))
            record.update(decision="split", children=tuple(ids), partition=outcome.partition)
            ppp._rules[node], ppp._children[node] = outcome, tuple(ids)
            ppp.splits_.append(node)
            ppp._log(f"node {node} (n={handle.count}): split by {outcome.partition} into {len(ids)} "
                      f"(delta={record['delta_bic']:.1f}, agreement={record['agreement']:.3f})")
    ppp._leaf_number = np.full(len(ppp.tree_), -1, dtype=np.int64)
    ppp._leaf_number[list(ppp._leaf_index)] = list(ppp._leaf_index.values())
    return leaves


def route(rules, children, X, n_threads):
    """The node each row of X reaches down the split rules: the first without a rule."""
    nodes = np.zeros(X.shape[0], dtype=np.int64)
    pending = [(0, np.arange(X.shape[0], dtype=np.int64))]
    while pending:
        node, rows = pending.pop()
        rule = rules.get(node)
        if rule is None or rows.size == 0:
            nodes[rows] = node
            continue
        side = rule.apply(X, rows, n_threads).astype(bool)
        first, second = children[node]
        pending += [(first, rows[~side]), (second, rows[side])]
    return nodes


def route_to_leaves(ppp, X, n_threads):
    """The leaf index (in leaf order) each row of X reaches down the fitted tree."""
    return ppp._leaf_number[route(ppp._rules, ppp._children, X, n_threads)]


def _node_record(node, parent, depth, n_samples):
    return dict(id=node, parent=parent, depth=depth, n_samples=n_samples, n_fit_samples=None, q=None, start=None,
                delta_bic=None, agreement=None, separability=None, partition=None, children=None, decision=None)

def _propose_split(ppp, source, handle, record):
    """The node's split rule, found on its fit sample, or the reason it stays a leaf; fills
    the record's fields."""
    m = handle.count
    if m < 2 * ppp.min_cluster_size:
        return "leaf: too small to split"
    sample_rows = handle.sample.rows
    sample = PcaSample.of(source.points(sample_rows).astype(np.float64))
    record["n_fit_samples"] = len(sample_rows)
    if sample.variances[0] <= 0:
        return "leaf: constant"
    min_sample_size = max(2.0, ppp.min_cluster_size * len(sample_rows) / m)
    q = sample.n_components(ppp.q_max)
    record["q"] = q
    tol = ppp.kmeans_tol * float(np.mean(np.var(sample.points, axis=0)))
    best, failures = None, []  # best: ((accepted, agreement), k-means result, test)
    for start, init in enumerate(_starts(ppp, sample)):
        km = _core.kmeans(sample.points, init, sample_weight=None, max_iter=ppp.kmeans_max_iter, tol=tol,
                          algorithm="hamerly", n_threads=ppp._n_threads_used)
        if np.bincount(km["labels"], minlength=2).min() < min_sample_size:
            failures.append("leaf: k-means child too small")
            continue
        test = one_vs_two(ppp, sample, q, km["labels"], ppp.split_criterion)
        if test is None:
            failures.append("leaf: singular covariance")
            continue
        # A start whose split the test accepts beats one it rejects; then the best agreement.
        score = (test[0] > ppp.bic_margin, cut_agreement(km["labels"], test[2]))
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
    if delta <= ppp.bic_margin:
        return "leaf: one Gaussian preferred"
    record["agreement"] = agreement
    if agreement >= ppp.agreement_threshold or ppp.on_disagreement == "keep":
        rule = SplitRule("kmeans", centers=km["centers"])
    elif ppp.on_disagreement == "gmm":
        rule = SplitRule("gmm", mixture=dict(
            mean=sample.mean, components=sample.axes[:q], log_weights=np.log(mixture.weights),
            means=mixture.means, precisions_cholesky=mixture.precisions_cholesky))
    else:
        return "leaf: k-means and mixture disagree"
    return rule

def _starts(ppp, sample):
    """Initial centre pairs for a node's 2-means: first the centre +- the mean half-normal
    offset along the first principal axis, then k-means++ from seeds 0, 1, ..."""
    offset = math.sqrt(2 * sample.variances[0] / math.pi) * sample.axes[0]
    yield np.ascontiguousarray([sample.mean + offset, sample.mean - offset])
    for seed in range(ppp.n_extra_starts):
        yield _core.kmeans_plusplus(sample.points, n_clusters=2, seed=seed, sample_weight=None,
                                    n_threads=ppp._n_threads_used)
