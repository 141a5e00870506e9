"""Brute-force NumPy oracles for k-medoids, written for clarity rather than speed.

Conventions (the ones vecclust documents):
  * the loss is the total deviation sum_o w_o * D[o, nearest medoid of o];
  * weights scale the point side: the weighted distance of o to medoid m is w_o * D[o, m];
  * ties go to the lower index: the first medoid slot, the first candidate, the first
    (candidate, slot) pair in candidate-major order;
  * a point that is itself a medoid belongs to that medoid.

With integer-valued distances and weights every sum here is exact in float64, so these
oracles decide ties exactly as an exact implementation must.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest


def _as_matrix(diss) -> np.ndarray:
    return np.asarray(diss, dtype=np.float64)


def _weights(weights, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    return np.asarray(weights, dtype=np.float64)


def weighted_matrix(diss, weights=None) -> np.ndarray:
    """W[o, j] = w_o * D[o, j]: the cost of point o when served by medoid j."""
    diss = _as_matrix(diss)
    return _weights(weights, diss.shape[0])[:, None] * diss


def total_deviation(diss, medoids, weights=None) -> float:
    """sum_o w_o * min_i D[o, medoids[i]]."""
    medoids = np.asarray(medoids, dtype=np.intp)
    return float(weighted_matrix(diss, weights)[:, medoids].min(axis=1).sum())


def nearest_labels(diss, medoids) -> np.ndarray:
    """Slot of each point's nearest medoid (lowest slot on ties; a medoid labels itself)."""
    medoids = np.asarray(medoids, dtype=np.intp)
    labels = np.argmin(_as_matrix(diss)[:, medoids], axis=1)
    labels[medoids] = np.arange(medoids.size)
    return labels


def labels_are_nearest(diss, medoids, labels, weights=None) -> bool:
    """Weaker than equality with nearest_labels, for data with ties: every point's label is one
    of its nearest medoids (by weighted distance, so a zero-weight point may have any label),
    and every medoid is labelled with its own slot."""
    cost = weighted_matrix(diss, weights)
    medoids = np.asarray(medoids, dtype=np.intp)
    labels = np.asarray(labels)
    n = cost.shape[0]
    if labels.shape != (n,) or labels.min() < 0 or labels.max() >= medoids.size:
        return False
    assigned = cost[np.arange(n), medoids[labels]]
    if not np.array_equal(assigned, cost[:, medoids].min(axis=1)):
        return False
    return bool(np.array_equal(labels[medoids], np.arange(medoids.size)))


def exhaustive_optimum(diss, k: int, weights=None) -> tuple[float, np.ndarray]:
    """The lowest total deviation over all k-subsets (the first subset in lexicographic order
    on ties) and that subset. Meant for n <= 10."""
    cost = weighted_matrix(diss, weights)
    n = cost.shape[0]
    subsets = np.array(list(itertools.combinations(range(n), k)), dtype=np.intp)
    losses = cost[:, subsets].min(axis=2).sum(axis=0)
    best = int(np.argmin(losses))
    return float(losses[best]), subsets[best]


def swap_losses(diss, medoids, weights=None) -> np.ndarray:
    """L[i, j]: the total deviation after replacing medoids[i] by point j (for every j, medoid
    or not), each computed from scratch."""
    cost = weighted_matrix(diss, weights)
    medoids = np.asarray(medoids, dtype=np.intp)
    n, k = cost.shape[0], medoids.size
    out = np.empty((k, n))
    for i in range(k):
        others = np.delete(medoids, i)
        rest = cost[:, others].min(axis=1) if others.size else np.full(n, np.inf)
        out[i] = np.minimum(rest[:, None], cost).sum(axis=0)
    return out


def best_swap(diss, medoids, weights=None) -> tuple[float, int, int]:
    """(loss after the swap, slot, candidate) of the best single swap of a medoid for a
    non-medoid, the first in (candidate, slot) order on ties."""
    medoids = np.asarray(medoids, dtype=np.intp)
    losses = swap_losses(diss, medoids, weights).T.copy()  # candidate-major: (n, k)
    losses[medoids, :] = np.inf
    flat = int(np.argmin(losses))
    j, i = divmod(flat, medoids.size)
    return float(losses[j, i]), i, j


def is_swap_local_optimum(diss, medoids, weights=None, rtol: float = 1e-9) -> bool:
    """No single (medoid, non-medoid) swap lowers the loss by more than rtol * loss."""
    loss = total_deviation(diss, medoids, weights)
    best_loss, _, _ = best_swap(diss, medoids, weights)
    return best_loss >= loss - rtol * loss


def pam_swap(diss, medoids, weights=None, max_iter: int = 100) -> dict:
    """PAM's original SWAP from the given medoids: each iteration takes the single best swap
    (first (candidate, slot) on ties) if it strictly lowers the loss. n_iter counts every
    iteration, including the last one that found nothing."""
    medoids = np.array(medoids, dtype=np.intp)
    loss = total_deviation(diss, medoids, weights)
    n_iter = n_swap = 0
    converged = False
    while n_iter < max_iter:
        n_iter += 1
        new_loss, slot, candidate = best_swap(diss, medoids, weights)
        if not new_loss < loss:
            converged = True
            break
        medoids[slot] = candidate
        n_swap += 1
        loss = total_deviation(diss, medoids, weights)
    return {"loss": loss, "medoids": medoids, "labels": nearest_labels(diss, medoids),
            "n_iter": n_iter, "n_swap": n_swap, "converged": converged}


def build(diss, k: int, weights=None) -> np.ndarray:
    """PAM's BUILD: the point with the smallest total deviation, then k - 1 times the point
    (not yet chosen) whose addition lowers the total deviation most; lowest index on ties."""
    cost = weighted_matrix(diss, weights)
    chosen = [int(np.argmin(cost.sum(axis=0)))]
    nearest = cost[:, chosen[0]].copy()
    while len(chosen) < k:
        gains = np.minimum(cost - nearest[:, None], 0.0).sum(axis=0)
        gains[chosen] = np.inf
        best = int(np.argmin(gains))
        chosen.append(best)
        nearest = np.minimum(nearest, cost[:, best])
    return np.array(chosen, dtype=np.intp)


def check_progress_lines(lines, pattern, losses):
    """Progress lines of a randomised search (CLARA samples, CLARANS searches): one per step,
    numbered "s/total", each showing that step's loss (the pattern's second-last group) and
    flagged "(best so far)" (its last group) exactly when the loss beats every earlier one.
    Returns the matches."""
    assert len(lines) == len(losses), lines
    matches, running_best = [], np.inf
    for s, (line, loss) in enumerate(zip(lines, losses)):
        match = pattern.search(line)
        assert match, line
        assert (int(match[1]), int(match[2])) == (s + 1, len(losses))
        assert float(match[match.re.groups - 1]) == pytest.approx(loss, abs=1e-6)
        assert (match[match.re.groups] is not None) == (loss < running_best)
        running_best = min(running_best, loss)
        matches.append(match)
    return matches
