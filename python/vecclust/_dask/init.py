"""Initial centres of the distributed k-means: k-means|| (Bahmani et al., "Scalable K-Means++",
2012) over the blocks, or k-means++ on a uniform sample."""

from __future__ import annotations

import numpy as np

from .. import _core
from .._utils.numerics import scaled_tol
from .blocks import block_rng, over_blocks, take_rows

ROUNDS = 5  # oversampling rounds of k-means|| (the paper finds 5 enough)
PLUSPLUS_SAMPLE = 100  # k-means++ runs on max(this x k, 10,000) rows
REDUCE_TOL = 1e-4  # of the weighted k-means that reduces the candidates to k


def _block_sums(block, index, offset, centers, n_threads):
    return _core.kmeans_block_sums(np.ascontiguousarray(block), centers, n_threads=n_threads)


def _block_oversample(block, index, offset, centers, cost, factor, seed, round_, n_threads):
    """Each row drawn with probability min(1, factor x d^2(row, centres) / cost); the rows drawn
    and the block's cost for the centres."""
    block = np.ascontiguousarray(block)
    if len(block) == 0:
        return block, 0.0
    d2 = _core.nearest_centers(block, centers, n_threads=n_threads)["sq_distances"].astype(np.float64)
    draws = block_rng(seed, round_, index).random(len(block))
    chosen = draws < factor * d2 / cost if cost > 0 else np.zeros(len(block), dtype=bool)
    return block[chosen], float(d2.sum())


def pass_sums(X, centers, n_threads):
    """One pass: the float64 per-centre sums, counts and inertia, the blocks added in block order."""
    parts = over_blocks(X, _block_sums, centers, n_threads=n_threads)
    sums, counts, inertia = np.zeros(centers.shape), np.zeros(len(centers)), 0.0
    for part in parts:
        sums += part["sums"]
        counts += part["counts"]
        inertia += part["inertia"]
    return sums, counts, inertia


def kmeans_parallel(X, n_clusters, oversampling_factor, seed, n_threads):
    """k-means||: one uniform row, ROUNDS passes each drawing about oversampling_factor x k rows
    with probability proportional to their squared distance, a pass counting the rows nearest
    each candidate, and weighted k-means++ and k-means on the candidates in memory."""
    rng = block_rng(seed, 0)
    n = X.shape[0]
    candidates = take_rows(X, [int(rng.integers(n))])
    cost = pass_sums(X, candidates, n_threads)[2]
    factor = oversampling_factor * n_clusters
    for round_ in range(1, ROUNDS + 1):
        # The probabilities use the cost of the previous candidates (at least the current one),
        # so that a round is one pass.
        parts = over_blocks(X, _block_oversample, candidates, cost, factor, seed, round_, n_threads)
        candidates = np.concatenate([candidates] + [rows for rows, _ in parts])
        cost = sum(block_cost for _, block_cost in parts)
    if len(candidates) < n_clusters:  # few distinct rows: fill up with uniform ones
        extra = rng.choice(n, size=n_clusters - len(candidates), replace=False)
        candidates = np.concatenate([candidates, take_rows(X, extra)])
    weights = pass_sums(X, candidates, n_threads)[1].astype(X.dtype)
    if len(candidates) == n_clusters:
        return candidates
    seed_pp, seed_fit = (int(s) for s in rng.integers(0, 2**63 - 1, size=2))
    centers = _core.kmeans_plusplus(candidates, n_clusters=n_clusters, seed=seed_pp, sample_weight=weights,
                                    n_threads=n_threads)
    result = _core.kmeans(candidates, centers, sample_weight=weights, max_iter=300,
                          tol=scaled_tol(candidates, REDUCE_TOL), algorithm="hamerly", n_threads=n_threads)
    return result["centers"]


def kmeans_plusplus_on_sample(X, n_clusters, seed, n_threads):
    """Greedy k-means++ on a uniform sample of max(PLUSPLUS_SAMPLE x k, 10,000) rows."""
    rng = block_rng(seed, 0)
    n = X.shape[0]
    size = min(n, max(PLUSPLUS_SAMPLE * n_clusters, 10_000))
    sample = take_rows(X, np.sort(rng.choice(n, size=size, replace=False)))
    return _core.kmeans_plusplus(sample, n_clusters=n_clusters, seed=int(rng.integers(0, 2**63 - 1)),
                                 sample_weight=None, n_threads=n_threads)
