"""The swap pass of the distributed CLARA's refinement: the in-memory swap rounds (FasterPAM's
pricing of a few seeded members per cluster against all k medoids), one pass over the blocks
per round.

A pass does three things on every block: it sums the block's exact loss with the first t of
the proposed swaps applied, for every t (so the proposals are checked one after the other, as
in memory); it prices, in C++ (`_core.swap_prices`), the candidates against the medoids with
every proposed swap applied, over the block's rows of a seeded sample; and it draws the next
round's candidates. The blocks' results are added in block order. Samples and candidates are
chosen by seeded keys of the global row indices, so they depend neither on the workers nor on
the chunking. After the pass the proposals are kept up to the first that does not lower the
loss; that one is undone (dropped) and the rest are checked in the next pass, whose prices are
then the valid ones.
"""

from __future__ import annotations

import time

import numpy as np

from .. import _core
from .blocks import finite_block, over_blocks

SCORE_VALUES = 1 << 22  # distances held at once while a block is scored
MAX_ROUNDS = 10  # pricings, as in memory
MAX_PASSES = 3 * MAX_ROUNDS  # a pass also goes to each swap that did not lower the loss
TOL = 1e-4  # stop once a round lowers the loss by at most TOL x loss
MAX_PRICED = 4096  # points swaps are priced over (a seeded sample beyond), as in memory
_PRICED, _CANDIDATES = 1, 2  # key streams


def row_keys(seed, stream, round_, indices):
    """A uniform number in [0, 1) for each global row index, from (seed, stream, round) alone
    (splitmix64's finaliser of the index plus a seeded salt)."""
    salt = np.random.SeedSequence([seed, stream, round_]).generate_state(1, np.uint64)[0]
    z = np.asarray(indices, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15) + salt
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _prefix_losses(dist, k, slots, losses):
    """Adds to losses[t] the rows' loss with the first t swaps applied: columns k + t of `dist`
    replacing medoid slots[t]. Returns the rows' nearest medoid with every swap applied."""
    base = dist[:, :k].copy()
    losses[0] += float(base.min(axis=1).sum(dtype=np.float64))
    best_new = np.full(len(dist), np.inf, dtype=dist.dtype)
    for t, slot in enumerate(slots):
        base[:, slot] = np.inf
        best_new = np.minimum(best_new, dist[:, k + t])
        losses[t + 1] += float(np.minimum(base.min(axis=1), best_new).sum(dtype=np.float64))
    final = dist[:, :k].copy()
    final[:, slots] = dist[:, k:]
    return np.argmin(final, axis=1)


def _block_round(block, index, offset, medoids, slots, proposed, final, final_indices, candidates, metric, n_threads,
                 seed, round_, per_cluster, rate):
    """One block's part of a round: (losses with the first t proposals applied for t = 0..m, the
    (k, C) price table against `final`, per cluster of `final` the (keys, global indices, rows)
    of its per_cluster non-medoid members of least key)."""
    block = np.ascontiguousarray(finite_block(block, index, offset))
    k, m = len(medoids), len(slots)
    union = np.ascontiguousarray(np.concatenate([medoids, proposed]))
    losses = np.zeros(m + 1)
    labels = np.empty(len(block), dtype=np.int64)
    step = max(1, SCORE_VALUES // (k + m))
    for start in range(0, len(block), step):
        dist = _core.pairwise_distances(block[start:start + step], union, metric=metric, n_threads=n_threads)
        labels[start:start + len(dist)] = _prefix_losses(dist, k, slots, losses)
    rows = offset + np.arange(len(block), dtype=np.int64)
    priced = block[row_keys(seed, _PRICED, round_, rows) < rate]
    if len(candidates) and len(priced):
        prices = _core.swap_prices(np.ascontiguousarray(priced), final, candidates, metric=metric, n_threads=n_threads)
    else:
        prices = np.zeros((k, len(candidates)))
    keys = row_keys(seed, _CANDIDATES, round_, rows)
    keys[np.isin(rows, final_indices)] = np.inf  # a medoid is no candidate
    drawn = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        members = members[np.argsort(keys[members], kind="stable")[:per_cluster]]
        members = members[np.isfinite(keys[members])]
        drawn.append((keys[members], offset + members, block[members]))
    return losses, prices, drawn


def _drawn_candidates(parts, k, per_cluster):
    """Per cluster, the members of least key over all blocks: (global indices, rows)."""
    indices, rows = [], []
    for c in range(k):
        keys = np.concatenate([part[2][c][0] for part in parts])
        order = np.argsort(keys, kind="stable")[:per_cluster]
        indices.append(np.concatenate([part[2][c][1] for part in parts])[order])
        rows.append(np.concatenate([part[2][c][2] for part in parts])[order])
    return np.concatenate(indices), np.concatenate(rows)


def _proposals(prices, cand_indices, cand_rows, homes, loss):
    """The swaps to try, as the in-memory pass orders them: each candidate's best removal, in
    order of predicted gain (gains within rounding noise left out), skipping any that touches
    a cluster an earlier one touched. A list of (slot, global index, row)."""
    if prices.size == 0:
        return []
    slots = np.argmin(prices, axis=0)
    gains = prices[slots, np.arange(prices.shape[1])]
    touched, out = set(), []
    for j in np.argsort(gains, kind="stable"):
        if not gains[j] < -1e-12 * loss:
            break
        slot, home = int(slots[j]), int(homes[j])
        if slot in touched or home in touched:
            continue
        touched.update((slot, home))
        out.append((slot, int(cand_indices[j]), cand_rows[j]))
    return out


def _applied(indices, rows, swaps):
    indices, rows = indices.copy(), rows.copy()
    for slot, index, row in swaps:
        indices[slot], rows[slot] = index, row
    return indices, np.ascontiguousarray(rows)


def swap_pass(X, medoid_indices, medoid_rows, loss, metric, n_threads, seed, per_cluster, verbose, losses):
    """Swap rounds from the medoids (global indices and rows, k >= 2) whose loss is `loss`.
    Appends the loss after each pass that kept a swap to `losses`; returns (indices, rows)."""
    n, k = X.shape[0], len(medoid_indices)
    rate = 1.0 if n <= MAX_PRICED else MAX_PRICED / n
    current = (np.asarray(medoid_indices, dtype=np.int64), np.ascontiguousarray(medoid_rows))
    proposed = []  # (slot, global index, row) in the order they are checked
    empty = (np.zeros(0, dtype=np.int64), np.zeros((0, medoid_rows.shape[1]), medoid_rows.dtype))
    candidates, round_start = empty, loss
    # pass 0 draws the first candidates; each later pass checks the proposals of the pass
    # before and prices its candidates (while rounds remain), drawing the next ones
    rounds = 0  # pricings that made proposals
    for pass_ in range(MAX_PASSES):
        final = _applied(*current, proposed)
        fresh = ~np.isin(candidates[0], final[0])
        priced = rounds < MAX_ROUNDS and pass_ + 1 < MAX_PASSES
        cand = (candidates[0][fresh], np.ascontiguousarray(candidates[1][fresh])) if priced else empty
        start, checked = time.perf_counter(), len(proposed)
        slots = np.asarray([s for s, _, _ in proposed], dtype=np.int64)
        rows = np.stack([r for _, _, r in proposed]) if proposed else empty[1]
        parts = over_blocks(X, _block_round, current[1], slots, rows, final[1], final[0], cand[1], metric, n_threads,
                            seed, pass_, per_cluster, rate)
        prefix, prices = parts[0][0].copy(), parts[0][1].copy()
        for part in parts[1:]:
            prefix += part[0]
            prices += part[1]
        reference = min(loss, prefix[0])
        kept, number = 0, len(losses) + 1
        while kept < checked and prefix[kept + 1] < (reference if kept == 0 else prefix[kept]):
            kept += 1
        if kept:
            loss = float(prefix[kept])
            losses.append(loss)
        if verbose and checked:
            print(f"refinement step {number}: {kept} of {checked} swaps kept, loss over all points {loss:.6f}"
                  f"{'' if kept else ' (not lower: swaps discarded)'}, {time.perf_counter() - start:.2f} s", flush=True)
        current = _applied(*current, proposed[:kept])
        if kept < checked:  # undo the first that did not lower the loss; check the rest in the next pass
            proposed = proposed[kept + 1:]
        else:
            if checked and round_start - loss <= TOL * loss:
                break
            proposed = []
            if len(cand[0]):
                homes = np.argmin(_core.pairwise_distances(cand[1], current[1], metric=metric, n_threads=n_threads),
                                  axis=1)
                proposed, round_start = _proposals(prices, cand[0], cand[1], homes, loss), loss
                rounds += 1
            if not proposed and (pass_ > 0 or k * per_cluster == 0):
                break
        candidates = _drawn_candidates(parts, k, per_cluster)
    return current
