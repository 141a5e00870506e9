"""The demo's comparison with scikit-learn: the same task from the same start, timed on both."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from .. import GaussianMixture, KMeans, silhouette_score


def best_time(fit: Callable[[], object], repeat: int = 3) -> tuple[float, object]:
    """The fastest of `repeat` calls (a shared machine's stalls only ever add time) and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fit()
        times.append(time.perf_counter() - start)
    return min(times), result


def peer_tasks(args) -> list[tuple[str, Callable[[], object], Callable[[], object], Callable[[object, object], str]]]:
    """(task, vecclust call, scikit-learn call, agreement of their results) for each comparison."""
    from sklearn import cluster, metrics, mixture
    from sklearn.datasets import make_blobs

    rng = np.random.default_rng(args.seed)
    X, _ = make_blobs(n_samples=20_000, centers=20, n_features=16, random_state=args.seed)
    X = X.astype(np.float32)
    centres = X[rng.choice(len(X), 20, replace=False)]
    G, _ = make_blobs(n_samples=10_000, centers=5, n_features=8, random_state=args.seed)
    means = G[rng.choice(len(G), 5, replace=False)]
    S, labels = X[:4000], KMeans(20, random_state=args.seed, n_threads=args.n_threads).fit(X[:4000]).labels_
    # Every initial parameter given, so neither library runs its own k-means first.
    precisions = np.repeat(np.diag(1.0 / G.var(axis=0))[None], 5, axis=0)
    gmm = dict(n_components=5, weights_init=np.full(5, 0.2), means_init=means, precisions_init=precisions,
               covariance_type="full", max_iter=100, tol=1e-3)

    def same_labels(ours, theirs):
        return f"ARI {metrics.adjusted_rand_score(ours.labels_, theirs.labels_):.4f}"

    def lower_bounds(ours, theirs):
        return f"lower bounds differ by {abs(ours.lower_bound_ - theirs.lower_bound_):.1e}"

    return [
        ("k-means, 20000 x 16 float32, k = 20",
         lambda: KMeans(20, init=centres, n_init=1, n_threads=args.n_threads).fit(X),
         lambda: cluster.KMeans(20, init=centres, n_init=1).fit(X), same_labels),
        ("Gaussian mixture, 10000 x 8, 5 full",
         lambda: GaussianMixture(**gmm, n_threads=args.n_threads).fit(G),
         lambda: mixture.GaussianMixture(**gmm).fit(G), lower_bounds),
        ("silhouette, 4000 x 16 float32, k = 20",
         lambda: silhouette_score(S, labels, n_threads=args.n_threads),
         lambda: metrics.silhouette_score(S, labels),
         lambda ours, theirs: f"values differ by {abs(ours - theirs):.1e}"),
    ]


def demo_peers(args) -> list[dict]:
    from .demo import print_table

    print("the same task from the same start on both; best of 3 runs each; ratio > 1: vecclust is faster")
    results, rows = [], []
    for task, ours, theirs, agreement in peer_tasks(args):
        ours_s, ours_result = best_time(ours)
        theirs_s, theirs_result = best_time(theirs)
        results.append(dict(task=task, vecclust_s=ours_s, peer_s=theirs_s))
        rows.append([task, f"{ours_s:.3f}", f"{theirs_s:.3f}", f"{theirs_s / ours_s:.1f}",
                     agreement(ours_result, theirs_result)])
    print_table(["task", "vecclust [s]", "scikit-learn [s]", "ratio", "agreement"], rows,
                right=[False, True, True, True, False])
    return results
