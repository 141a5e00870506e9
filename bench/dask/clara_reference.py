"""The in-memory CLARA given the distributed CLARA's sample.

vecclust.CLARA draws its samples inside the core from its seed alone (never from the data), so
the rows it will sample are known in advance: this module redraws the indices of its first
sample (the core's xoshiro256** generator and lazy Fisher-Yates shuffle, in Python) and
permutes the rows so that the distributed CLARA's best sample lies at those indices, in the same
order. `vecclust.CLARA(n_sampling_iter=1, init="build")` on the permuted rows then runs FasterPAM
on exactly that sample, scores its medoids on all rows and refines them in memory; the
permutation changes no loss. That the two sample losses agree (to the rounding of the sums over
all rows) checks the redraw.
"""

from __future__ import annotations

import numpy as np

import vecclust
from vecclust._utils.validation import seed_from

MASK = (1 << 64) - 1


class Xoshiro256:
    """The core's Rng (base/random.hpp): splitmix64-seeded xoshiro256**."""

    def __init__(self, seed):
        self.s = []
        for _ in range(4):
            seed = (seed + 0x9E3779B97F4A7C15) & MASK
            z = seed
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
            self.s.append(z ^ (z >> 31))

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & MASK

    def next(self):
        s = self.s
        result = (self._rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result

    def below(self, bound):
        product = self.next() * bound
        if (product & MASK) < bound:
            threshold = ((1 << 64) - bound) % bound
            while (product & MASK) < threshold:
                product = self.next() * bound
        return product >> 64


def first_sample(n, size, random_state):
    """The sorted row indices of vecclust.CLARA's first sample for n rows (size < n)."""
    seeds = Xoshiro256(seed_from(random_state))
    seeds.next()  # the first sample's initialisation seed
    rng = Xoshiro256(seeds.next())
    moved, out = {}, []
    for drawn in range(size):
        j = drawn + rng.below(n - drawn)
        out.append(moved.get(j, j))
        moved[j] = moved.get(drawn, drawn)
    return np.sort(np.array(out, dtype=np.int64))


def permutation_placing(n, wanted, at):
    """perm with perm[at[j]] = wanted[j] (both sorted, distinct, equally long): X[perm] holds
    the wanted rows at the positions `at`, in the same order."""
    perm = np.arange(n, dtype=np.int64)
    perm[at] = wanted
    free_positions = np.setdiff1d(wanted, at, assume_unique=True)
    unused_values = np.setdiff1d(at, wanted, assume_unique=True)
    perm[free_positions] = unused_values
    return perm


def clara_on_sample(X, sample, n_clusters, random_state=0, **options):
    """vecclust.CLARA fitted in memory with `sample` (sorted global rows) as its only sample:
    the fitted estimator and its medoids as rows of X."""
    at = first_sample(len(X), len(sample), random_state)
    perm = permutation_placing(len(X), np.asarray(sample, dtype=np.int64), at)
    fit = vecclust.CLARA(n_clusters, n_sampling=len(sample), n_sampling_iter=1, init="build", method="fasterpam",
                         random_state=random_state, **options).fit(X[perm])
    return fit, perm[fit.medoid_indices_]
