"""The refinement of the distributed CLARA's medoids on all points: alternating steps, one pass
over the blocks per step, and the swap pass between them (clara_swap.py).

A pass assigns every point to its nearest present medoid, sums the loss, sums for each
candidate the distances to the members of the cluster it is a candidate for, and draws the next
step's candidates (a first pass only scores and draws): for each cluster the members with the smallest seeded random keys (a uniform
sample of the whole cluster, whichever block holds them). After the pass each medoid moves to
its least-cost candidate (it stays on ties), and the next pass scores that move; a move that
does not lower the loss is undone and ends the refinement, as in memory.
"""

from __future__ import annotations

import time

import numpy as np

from .. import _core
from .blocks import block_rng, finite_block, over_blocks
from .clara_swap import swap_pass

SCORE_VALUES = 1 << 22  # distances held at once while a block is scored

CANDIDATES = 16  # per cluster and step, besides the present medoid
MAX_STEPS = 10
TOL = 1e-4  # stop once a step lowers the loss by at most TOL x loss


def _block_step(block, index, offset, medoids, candidates, owners, metric, n_threads, seed, stream, step):
    """One block's part of a step: (loss, cost per candidate, per cluster the (keys, global
    indices, rows) of its members with the CANDIDATES smallest keys)."""
    block = np.ascontiguousarray(finite_block(block, index, offset))
    k = len(medoids)
    labels = np.empty(len(block), dtype=np.int64)
    loss, costs = 0.0, np.zeros(len(candidates))
    step_rows = max(1, SCORE_VALUES // (k + len(candidates)))
    for start in range(0, len(block), step_rows):
        rows = block[start:start + step_rows]
        dist = _core.pairwise_distances(rows, medoids, metric=metric, n_threads=n_threads)
        near = np.argmin(dist, axis=1)
        labels[start:start + len(rows)] = near
        loss += float(dist[np.arange(len(rows)), near].sum(dtype=np.float64))
        to_candidates = _core.pairwise_distances(rows, candidates, metric=metric, n_threads=n_threads)
        costs += np.where(near[:, None] == owners[None, :], to_candidates, 0).sum(axis=0, dtype=np.float64)
    keys = block_rng(seed, *stream, step, index).random(len(block))
    drawn = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        members = members[np.argsort(keys[members], kind="stable")[:CANDIDATES]]
        drawn.append((keys[members], offset + members, block[members]))
    return loss, costs, drawn


def _next_candidates(parts, k):
    """Per cluster, the members with the CANDIDATES smallest keys over all blocks: (global indices,
    rows, owners), concatenated over the clusters."""
    indices, rows, owners = [], [], []
    for c in range(k):
        keys = np.concatenate([part[2][c][0] for part in parts])
        order = np.argsort(keys, kind="stable")[:CANDIDATES]
        indices.append(np.concatenate([part[2][c][1] for part in parts])[order])
        rows.append(np.concatenate([part[2][c][2] for part in parts])[order])
        owners.append(np.full(len(order), c))
    return np.concatenate(indices), np.concatenate(rows), np.concatenate(owners)


def refine(X, medoid_indices, medoid_rows, metric, n_threads, seed, verbose, max_steps=MAX_STEPS, stream=(),
           steps_before=0):
    """Alternating steps from the medoids (global indices and rows) in at most max_steps + 1
    passes: the first draws candidates (seeded by seed, the key stream, the step and the
    block), the second prices them, each later one scores a move and prices the next. Returns (indices, rows, losses after the steps kept): the medoids as given when
    no step is kept. Verbose lines number the steps after steps_before."""
    k = len(medoid_indices)
    candidates = (np.zeros(0, dtype=np.int64), np.zeros((0, medoid_rows.shape[1]), medoid_rows.dtype),
                  np.zeros(0, dtype=np.int64))
    best = (medoid_indices, medoid_rows)
    best_loss, losses = None, []
    current = best
    for step in range(max_steps + 1):
        # the present medoids are candidates too, so a medoid moves only to a strictly better member
        cand_indices = np.concatenate([candidates[0], current[0]])
        cand_rows = np.ascontiguousarray(np.concatenate([candidates[1], current[1]]))
        cand_owners = np.concatenate([candidates[2], np.arange(k)])
        start = time.perf_counter()
        parts = over_blocks(X, _block_step, np.ascontiguousarray(current[1]), cand_rows, cand_owners, metric,
                            n_threads, seed, stream, step)
        loss = sum(part[0] for part in parts)
        if current is not best:  # this pass scored a move
            kept = loss < best_loss
            if verbose:
                print(f"refinement step {steps_before + len(losses) + 1}: loss over all points {loss:.6f}"
                      f"{'' if kept else ' (not lower: step discarded)'}, {time.perf_counter() - start:.2f} s",
                      flush=True)
            if not kept:
                break
            gain = best_loss - loss
            losses.append(loss)
            best, best_loss = current, loss
            if gain <= TOL * loss or step == max_steps:
                break
        elif best_loss is None:
            best_loss = loss
        costs = sum(part[1] for part in parts)
        pick = np.arange(len(cand_indices) - k, len(cand_indices))  # the present medoids
        for j in range(len(cand_indices) - k):
            c = cand_owners[j]
            if costs[j] < costs[pick[c]]:
                pick[c] = j
        if not np.array_equal(cand_indices[pick], current[0]):  # the next pass scores the move
            current = (cand_indices[pick], cand_rows[pick])
        elif step > 0:
            break
        candidates = _next_candidates(parts, k)
    return best[0], best[1], np.asarray(losses)


def refine_all(X, medoid_indices, medoid_rows, loss, metric, n_threads, seed, verbose, swap_candidates):
    """The refinement as in memory: alternating steps; or, with swap_candidates > 0 and k >= 2,
    one alternating step (it moves every medoid near its cluster's centre at once), the swap
    pass from the loss reached (`loss` is the given medoids'), then alternating steps.
    Returns (indices, rows, losses after the steps and rounds kept)."""
    if swap_candidates == 0 or len(medoid_indices) < 2:
        return refine(X, medoid_indices, medoid_rows, metric, n_threads, seed, verbose)
    indices, rows, first = refine(X, medoid_indices, medoid_rows, metric, n_threads, seed, verbose, max_steps=2)
    losses = list(first)
    indices, rows = swap_pass(X, indices, rows, losses[-1] if losses else loss, metric, n_threads, seed,
                              swap_candidates, verbose, losses)
    indices, rows, after = refine(X, indices, rows, metric, n_threads, seed, verbose, stream=(1,),
                                  steps_before=len(losses))
    return indices, rows, np.asarray(losses + list(after))
