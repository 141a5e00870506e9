"""PPP's fit samples and the data they are read from.

A group's fit sample is its rows with the smallest row hashes, in hash order: the same rows in
the same order whatever the row order of X, and the sample of a union of groups is found from
the groups' own samples (the smallest hashes of a union are among each part's smallest). So
the tree, the merges and the refinement need only the groups' samples and sizes, plus a few
passes over all rows, which a `source` provides: `MemorySource` here, one pass over the blocks
of a dask array in the distributed PPP.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass
class HashSample:
    """The global rows of a group's smallest row hashes (at most the fit size), in hash order,
    their hashes, and the size of the whole group."""

    hashes: np.ndarray
    rows: np.ndarray
    count: int

    @classmethod
    def of(cls, hashes, rows, limit):
        """The sample of the rows given (hashes: theirs)."""
        order = np.argsort(hashes, kind="stable")[:limit]
        return cls(hashes[order], rows[order], len(rows))


def union(samples, limit):
    """The sample of the union of disjoint groups, and for each of its rows the position (in
    `samples`) of the group it came from. Equal hashes mean equal rows, so which of them a tie
    keeps changes nothing."""
    hashes = np.concatenate([s.hashes for s in samples])
    tags = np.repeat(np.arange(len(samples), dtype=np.int64), [len(s.hashes) for s in samples])
    order = np.argsort(hashes, kind="stable")[:limit]
    rows = np.concatenate([s.rows for s in samples])[order]
    return HashSample(hashes[order], rows, sum(s.count for s in samples)), tags[order]


@dataclass
class MemoryNode:
    """A node of the split tree in memory: all its rows; its sample on demand."""

    members: np.ndarray
    source: MemorySource

    @property
    def count(self):
        return len(self.members)

    @cached_property
    def sample(self):
        return HashSample.of(self.source.hashes[self.members], self.members, self.source.limit)


class MemorySource:
    """PPP's passes over data held in memory (X in the fit scale, hashes of the rows as given)."""

    def __init__(self, X, hashes, limit, n_threads):
        self.X, self.hashes, self.limit, self.n_threads = X, hashes, limit, n_threads
        self.n = X.shape[0]
        self.labels = None

    def points(self, rows):
        return self.X[rows]

    def root(self):
        return MemoryNode(np.arange(self.n, dtype=np.int64), self)

    def split(self, proposals):
        """{node: (child 0, child 1)} for each (node, handle, rule): the rule applied to all the
        node's rows."""
        children = {}
        for node, handle, rule in proposals:
            side = rule.apply(self.X, handle.members, self.n_threads).astype(bool)
            children[node] = (MemoryNode(handle.members[~side], self), MemoryNode(handle.members[side], self))
        return children

    def start_labels(self, leaves, leaf_clusters):
        self.labels = np.empty(self.n, dtype=np.int64)
        for leaf, handle in enumerate(leaves):
            self.labels[handle.members] = leaf_clusters[leaf]

    def assign(self, mixture, most_likely):
        """Every row to its most likely component: the samples of the components that are
        present (in component order), whether the labels (the present components numbered
        0, 1, ...) changed, and the present components."""
        components = most_likely(self.X, mixture, self.n_threads)
        present, new = np.unique(components, return_inverse=True)
        changed = not np.array_equal(new, self.labels)
        self.labels = new
        samples = [HashSample.of(self.hashes[rows], rows, self.limit)
                   for rows in (np.flatnonzero(new == c) for c in range(len(present)))]
        return samples, changed, present

    def responsibility_totals(self, mixture, log_responsibilities, block=65536):
        totals = np.zeros(len(mixture.weights))
        for first in range(0, self.n, block):
            totals += np.exp(log_responsibilities(self.X[first:first + block], mixture, self.n_threads)[1]).sum(axis=0)
        return totals

