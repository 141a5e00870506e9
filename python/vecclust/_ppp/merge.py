"""PPP's merge pass: neighbouring clusters are merged while one Gaussian describes their union
better."""

from __future__ import annotations

import math

import numpy as np

from .one_vs_two import PcaSample, one_vs_two
from .sample import union


def merge_leaves(ppp, source, samples):
    """Greedy merge of neighbouring clusters while the criterion prefers one Gaussian for
    their union (samples: each leaf's HashSample; source: where their rows are read);
    returns the cluster of each leaf, numbered in leaf order."""
    clusters = {leaf: [leaf] for leaf in range(len(samples))}
    if ppp.merge == "none" or len(clusters) < 2:
        return np.arange(len(samples), dtype=np.int64)

    def sample_of(cluster):
        return union([samples[leaf] for leaf in clusters[cluster]], ppp.max_fit_samples)[0]

    def centroid(cluster):
        return source.points(sample_of(cluster).rows).astype(np.float64).mean(axis=0)

    centroids = {c: centroid(c) for c in clusters}
    cache = {}
    while len(clusters) > 1:
        ids = sorted(clusters)
        points = np.array([centroids[c] for c in ids])
        dist = ((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=2)
        np.fill_diagonal(dist, np.inf)
        pairs = set()
        for i, a in enumerate(ids):
            for j in np.argsort(dist[i], kind="stable")[: ppp.merge_neighbors]:
                if np.isfinite(dist[i, j]):
                    pairs.add((min(a, ids[j]), max(a, ids[j])))
        scored = []
        for a, b in sorted(pairs):
            key = (tuple(clusters[a]), tuple(clusters[b]))
            if key not in cache:
                cache[key] = _merge_delta(ppp, source, sample_of(a), sample_of(b))
            scored.append((cache[key], a, b))
        delta, a, b = min(scored)
        if delta > ppp.bic_margin:
            break
        ppp._log(f"merge clusters {a} and {b} (leaves {clusters[a]} + {clusters[b]}, delta={delta:.1f})")
        ppp.merges_.append(dict(a=list(clusters[a]), b=list(clusters[b]), delta=delta))
        clusters[a] = sorted(clusters[a] + clusters.pop(b))
        del centroids[b]
        centroids[a] = centroid(a)
    leaf_clusters = np.empty(len(samples), dtype=np.int64)
    for number, cluster in enumerate(sorted(clusters)):
        leaf_clusters[clusters[cluster]] = number
    return leaf_clusters

def _merge_delta(ppp, source, sample_a, sample_b):
    """The split criterion for the union of two clusters, with EM started at the two; +inf if
    it cannot be tested (then the pair is never merged)."""
    both, side = union([sample_a, sample_b], ppp.max_fit_samples)
    if np.bincount(side, minlength=2).min() < 2:
        return math.inf
    sample = PcaSample.of(source.points(both.rows).astype(np.float64))
    if sample.variances[0] <= 0:
        return -math.inf  # identical points: certainly one cluster
    test = one_vs_two(ppp, sample, sample.n_components(ppp.q_max), side, ppp.merge, ppp.merge_box)
    return math.inf if test is None else test[0]
