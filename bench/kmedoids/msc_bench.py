"""FasterMSC and DynMSC against the `kmedoids` package on the same float32 matrix and initial
medoids, one thread; and DynMSC from features (no matrix) at a larger n.

    python bench/kmedoids/msc_bench.py [--n 10000 --k 10 --max-k 30 --rounds 3 --only fastermsc]
    python bench/kmedoids/msc_bench.py --features --n 100000 --max-k 12 --true-k 8

Matrix mode: make_blobs(n, 8 features, centers=k, random_state=0) as float32, its euclidean
distance matrix (float32, exactly symmetric); the initial medoids are drawn once and given to
both libraries. fastermsc runs with k initial medoids, dynmsc with max_k of them (k = 2..max_k).
Each round times both in turn (the peer first, then vecclust); the best of the rounds is
reported with the ratio, and the results are compared (medoids, labels, silhouettes).

Features mode: KMedoids(n_clusters="auto", precompute=False), distances computed on demand, on
blobs with a known number of clusters; prints the time, the chosen k and the silhouettes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def blobs(n, centers, d=8, seed=0):
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=n, n_features=d, centers=centers, cluster_std=1.0, center_box=(-20, 20),
                      random_state=seed)
    return np.ascontiguousarray(X, dtype=np.float32), y


def distance_matrix(X):
    """Euclidean distances in float32, mirrored so that the matrix is exactly symmetric."""
    from vecclust import _core

    D = _core.pairwise_distances(X, X, metric="euclidean", n_threads=0)
    step = 1024
    for i in range(0, len(D), step):
        D[i:i + step, i + step:] = D[i + step:, i:i + step].T
        block = D[i:i + step, i:i + step]
        block[...] = np.tril(block) + np.tril(block, -1).T
    np.fill_diagonal(D, 0)
    return D


def best_time(function, rounds):
    times, result = [], None
    for _ in range(rounds):
        t0 = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - t0)
    return min(times), result


def matrix_mode(args):
    import kmedoids

    import vecclust

    X, _ = blobs(args.n, args.k)
    D = distance_matrix(X)
    rng = np.random.default_rng(1)
    init_k = rng.choice(args.n, args.k, replace=False)
    init_max = rng.choice(args.n, args.max_k, replace=False)
    runs = {
        "fastermsc": (lambda: kmedoids.fastermsc(D, init_k.astype(np.uintp)),
                      lambda: vecclust.fastermsc(D, init_k, n_threads=1)),
        "dynmsc": (lambda: kmedoids.dynmsc(D, init_max.astype(np.uintp), 2),
                   lambda: vecclust.dynmsc(D, init_max, min_k=2, n_threads=1)),
    }
    report = {"n": args.n, "k": args.k, "max_k": args.max_k, "dtype": "float32", "threads": 1, "rounds": args.rounds}
    for name, (peer, ours) in runs.items():
        if args.only and name != args.only:
            continue
        peer_seconds = ours_seconds = float("inf")
        for _ in range(args.rounds):  # alternate, so that both see the same load
            t, expected = best_time(peer, 1)
            peer_seconds = min(peer_seconds, t)
            t, got = best_time(ours, 1)
            ours_seconds = min(ours_seconds, t)
        peer_medoids = np.asarray(expected.medoids).astype(np.int64)
        peer_silhouettes = np.asarray(expected.losses) if name == "dynmsc" else np.array([expected.loss])
        report[name] = {
            "kmedoids_seconds": peer_seconds, "vecclust_seconds": ours_seconds, "speedup": peer_seconds / ours_seconds,
            "same_medoids": bool(np.array_equal(np.sort(peer_medoids), np.sort(got.medoids))),
            # the medoid of each point (the two may order the medoids differently)
            "same_assignment": bool(np.array_equal(peer_medoids[np.asarray(expected.labels).astype(np.int64)],
                                                   got.medoids[got.labels])),
            "best_k": {"kmedoids": int(getattr(expected, "bestk", args.k)), "vecclust": got.best_k},
            "max_silhouette_diff": float(np.max(np.abs(peer_silhouettes - got.silhouettes))),
            "silhouette_diff_above_k2": float(np.max(np.abs(peer_silhouettes[1:] - got.silhouettes[1:])))
            if name == "dynmsc" else None,
            "n_iter": {"kmedoids": int(expected.n_iter), "vecclust": got.n_iter},
        }
    return report


def features_mode(args):
    from sklearn.metrics import adjusted_rand_score

    from vecclust import KMedoids

    X, y = blobs(args.n, args.true_k)
    model = KMedoids("auto", max_clusters=args.max_k, min_clusters=2, precompute=False, init="k-medoids++",
                     random_state=0, n_threads=args.threads)
    seconds, _ = best_time(lambda: model.fit(X), 1)
    return {"n": args.n, "d": X.shape[1], "dtype": "float32", "true_k": args.true_k, "k_range": [2, args.max_k],
            "threads": args.threads, "seconds": seconds, "chosen_k": int(model.n_clusters_),
            "silhouettes": [round(float(s), 4) for s in model.silhouettes_],
            "ari": float(adjusted_rand_score(y, model.labels_)), "n_iter": int(model.n_iter_)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--k", type=int, default=10, help="fastermsc's k (and the blobs' count)")
    parser.add_argument("--max-k", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["fastermsc", "dynmsc"], help="matrix mode: run only this one")
    parser.add_argument("--features", action="store_true", help="DynMSC from features, no matrix")
    parser.add_argument("--true-k", type=int, default=8, help="features mode: the blobs' count")
    parser.add_argument("--threads", type=int, default=None, help="features mode: threads (default: all)")
    args = parser.parse_args(argv)
    report = features_mode(args) if args.features else matrix_mode(args)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
