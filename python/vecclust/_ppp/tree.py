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


def grow(ppp, X):
    """Splits nodes breadth first from the root (all of X) until none splits or a cap is met;
    fills the tree_, splits_ and split rules of ppp (the PPP being fitted) and returns the
    rows of each leaf."""
    n = X.shape[0]
    ppp.tree_, ppp.splits_, ppp._rules, ppp._leaf_index = [], [], {}, {}
    leaf_rows = []
    ppp.tree_.append(_node_record(0, None, 0, n))
    queue = deque([(0, np.arange(n, dtype=np.int64))])
    while queue:
        node, rows = queue.popleft()
        record = ppp.tree_[node]
        if record["depth"] >= ppp.max_depth:
            outcome = "leaf: max_depth"
        elif len(leaf_rows) + len(queue) + 1 >= ppp.max_clusters:
            outcome = "leaf: max_clusters"
        else:
            outcome = _try_split(ppp, X, rows, record)
        if isinstance(outcome, str):
            record["decision"] = outcome
            ppp._leaf_index[node] = len(leaf_rows)
            leaf_rows.append(rows)
            ppp._log(f"node {node} (n={len(rows)}): {outcome}")
            continue
        rule, side = outcome
        children = []
        for child_rows in (rows[~side], rows[side]):
            children.append(len(ppp.tree_))
            ppp.tree_.append(_node_record(children[-1], node, record["depth"] + 1, len(child_rows)))
            queue.append((children[-1], child_rows))
        record.update(decision="split", children=tuple(children), partition=rule.partition)
        ppp._rules[node] = rule
        ppp.splits_.append(node)
        ppp._log(f"node {node} (n={len(rows)}): split by {rule.partition} into {len(children)} "
                  f"(delta={record['delta_bic']:.1f}, agreement={record['agreement']:.3f})")
    return leaf_rows

def _node_record(node, parent, depth, n_samples):
    return dict(id=node, parent=parent, depth=depth, n_samples=n_samples, n_fit_samples=None, q=None, start=None,
                delta_bic=None, agreement=None, separability=None, partition=None, children=None, decision=None)

def _try_split(ppp, X, rows, record):
    """The node's split rule and each point's side, or the reason it stays a leaf."""
    m = len(rows)
    if m < 2 * ppp.min_cluster_size:
        return "leaf: too small to split"
    sample_rows = ppp._fit_sample(rows)
    sample = PcaSample.of(X[sample_rows].astype(np.float64))
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
    side = rule.apply(X, rows, ppp._n_threads_used).astype(bool)
    if min(side.sum(), m - side.sum()) < ppp.min_cluster_size:
        return "leaf: child too small"
    return rule, side

def _starts(ppp, sample):
    """Initial centre pairs for a node's 2-means: first the centre +- the mean half-normal
    offset along the first principal axis, then k-means++ from seeds 0, 1, ..."""
    offset = math.sqrt(2 * sample.variances[0] / math.pi) * sample.axes[0]
    yield np.ascontiguousarray([sample.mean + offset, sample.mean - offset])
    for seed in range(ppp.n_extra_starts):
        yield _core.kmeans_plusplus(sample.points, n_clusters=2, seed=seed, sample_weight=None,
                                    n_threads=ppp._n_threads_used)
