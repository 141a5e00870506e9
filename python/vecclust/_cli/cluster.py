"""`vecclust cluster`: cluster the rows of a data file, save the labels and print a summary."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .. import CLARA, CLARANS, PPP, GaussianMixture, KMeans, KMedoids
from .common import CLIError, warnings_reported
from .files import check_out, load_matrix, save_labels
from .options import EUCLIDEAN_ONLY, FINDS_K, WITH_K, apply_method_options
from .plots import check_plot_path, cluster_figure


def make_kmeans(args, X, metric):
    init = args.init if isinstance(args.init, str) else X[np.asarray(args.init)]  # indices: those rows
    return KMeans(args.k, init=init, n_init=args.n_init, max_iter=args.max_iter,
                  max_fit_samples=args.max_fit_samples, verbose=int(args.verbose), random_state=args.seed,
                  n_threads=args.n_threads)


def make_gmm(args, X, metric):
    return GaussianMixture(args.k, covariance_type=args.covariance_type, init_params=args.init, n_init=args.n_init,
                           max_iter=args.max_iter, verbose=int(args.verbose), random_state=args.seed,
                           n_threads=args.n_threads)


def make_clara(args, X, metric):
    return CLARA(args.k, n_sampling=args.n_sampling, n_sampling_iter=args.n_sampling_iter, init=args.init,
                 max_iter=args.max_iter, verbose=args.verbose, **common_options(args, metric))


def make_clarans(args, X, metric):
    return CLARANS(args.k, n_local=args.n_local, max_neighbor=args.max_neighbor, verbose=args.verbose,
                   **common_options(args, metric))


def make_ppp(args, X, metric):
    return PPP(verbose=int(args.verbose), n_threads=args.n_threads)  # its result does not depend on a seed


def make_kmedoids(args, X, metric):
    if args.method == "dynmsc":  # KMedoids chooses k by the medoid silhouette
        return KMedoids("auto", max_clusters=args.max_clusters, min_clusters=args.min_clusters, init=args.init,
                        max_iter=args.max_iter, n_init=args.n_init, **common_options(args, metric))
    return KMedoids(args.k, method=args.method, init=args.init, max_iter=args.max_iter, n_init=args.n_init,
                    **common_options(args, metric))


def common_options(args, metric) -> dict:
    return dict(metric=metric, random_state=args.seed, n_threads=args.n_threads)


# --method: the estimators other than KMedoids (which takes the k-medoids methods).
OTHER_METHODS = {"clara": make_clara, "clarans": make_clarans, "kmeans": make_kmeans, "gmm": make_gmm,
                 "ppp": make_ppp}


def resolve_metric(args) -> str:
    """--metric and --precomputed as one metric name; checks that --method and -k go with it."""
    metric = args.metric
    if args.precomputed:
        if metric not in (None, "precomputed"):
            raise CLIError(f"--precomputed conflicts with --metric {metric}")
        metric = "precomputed"
    metric = metric or "euclidean"
    if args.method in EUCLIDEAN_ONLY and metric != "euclidean":
        raise CLIError(f"--method {args.method} works with the euclidean metric only, not {metric}")
    if (args.k is not None) != (args.method in WITH_K):
        raise CLIError(f"--method {args.method} finds the number of clusters itself: do not give -k"
                       if args.method in FINDS_K else f"-k is required for --method {args.method}")
    return metric


def check_data(X: np.ndarray, path: Path, metric: str) -> None:
    """A precomputed matrix must be square; data must be finite."""
    if metric == "precomputed":
        if X.shape[0] != X.shape[1]:
            raise CLIError(f"{path}: with a precomputed metric the file must hold a square dissimilarity "
                           f"matrix, got shape {X.shape}")
        return
    bad = ~np.isfinite(X)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        count = int(bad.sum())
        raise CLIError(f"{path}: contains NaN or infinity ({count} entr{'ies' if count > 1 else 'y'}; first at "
                       f"row {row}, column {col}, counted from 0)")


def print_summary(model, args, X: np.ndarray, metric: str, elapsed: float, out: Path) -> None:
    n = X.shape[0]
    init = args.init if isinstance(args.init, str) else "given"
    if args.method == "ppp":
        print(f"n={n} clusters found={model.n_clusters_} splits={len(model.splits_)} merges={len(model.merges_)} "
              f"time={elapsed:.3f}s (ppp, {X.shape[1]} features, {X.dtype}) -> {out}")
    elif args.method == "gmm":
        print(f"n={n} k={args.k} bic={model.bic(X):.6g} lower bound={model.lower_bound_:.6g} "
              f"iterations={model.n_iter_} converged={model.converged_} time={elapsed:.3f}s "
              f"(gmm, {args.covariance_type} covariances, init {init}, {X.shape[1]} features, {X.dtype}) -> {out}")
    elif args.method == "kmeans":
        print(f"n={n} k={args.k} inertia={model.inertia_:.6g} iterations={model.n_iter_} time={elapsed:.3f}s "
              f"(kmeans, init {init}, {X.shape[1]} features, {X.dtype}) -> {out}")
    else:
        print_kmedoids_summary(model, args, X, metric, elapsed, out)


def print_kmedoids_summary(model, args, X: np.ndarray, metric: str, elapsed: float, out: Path) -> None:
    init = args.init if isinstance(args.init, str) else "given"
    what = "dissimilarity matrix" if metric == "precomputed" else f"{X.shape[1]} features, {metric}"
    k, score = f"k={args.k}", ""
    if args.method == "dynmsc":
        k = f"chosen k={model.n_clusters_}"
        score = f" medoid silhouette={model.silhouettes_[model.n_clusters_ - args.min_clusters]:.6g}"
    elif getattr(model, "silhouettes_", None) is not None:  # the silhouette methods
        score = f" {'silhouette' if args.method == 'pamsil' else 'medoid silhouette'}={model.silhouettes_[0]:.6g}"
    print(f"n={X.shape[0]} {k}{score} loss={model.inertia_:.6g} iterations={model.n_iter_} swaps={model.n_swaps_} "
          f"time={elapsed:.3f}s ({args.method}, init {init}, {what}, {X.dtype}) -> {out}")
    if args.method == "dynmsc":
        tried = range(args.min_clusters, args.max_clusters + 1)
        print("medoid silhouette by k:", " ".join(f"{k}:{s:.4f}" for k, s in zip(tried, model.silhouettes_)))
    print("medoids:", " ".join(str(int(m)) for m in model.medoid_indices_))


def centres_of(model, X: np.ndarray, method: str) -> tuple[np.ndarray, str]:
    """The rows to mark in the plot and their name: the medoids, the centres or the mixture's means."""
    if method == "gmm":
        return model.means_, "means"
    if hasattr(model, "medoid_indices_"):
        return X[model.medoid_indices_], "medoids"
    return model.cluster_centers_, "centres"


def plot_path(args, metric: str) -> Path | None:
    """--plot's file, checked before any work is done."""
    if args.plot is None:
        return None
    if metric == "precomputed":
        raise CLIError("--plot draws feature data; a precomputed dissimilarity matrix has no coordinates to draw")
    path = Path(args.plot)
    check_plot_path(path)
    return path


def cmd_cluster(args) -> int:
    metric = resolve_metric(args)
    apply_method_options(args)
    out = Path(args.out)
    check_out(out)
    plot = plot_path(args, metric)
    path = Path(args.file)
    X = load_matrix(path)
    check_data(X, path, metric)

    model = OTHER_METHODS.get(args.method, make_kmedoids)(args, X, metric)
    with warnings_reported():
        start = time.perf_counter()
        model.fit(X)
        elapsed = time.perf_counter() - start
        labels = model.predict(X) if args.method == "gmm" else model.labels_  # a mixture keeps no labels_
    save_labels(labels, out)
    print_summary(model, args, X, metric, elapsed, out)
    if plot is not None:
        centres, name = centres_of(model, X, args.method)
        title = f"{path.name}: {args.method}, {len(np.unique(labels))} clusters"
        cluster_figure(X, labels, centres, title, plot, centre_name=name)
        print(f"plot written to {plot}")
    return 0
