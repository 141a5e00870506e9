"""Silhouette clustering: medoid_silhouette, fastermsc, fastmsc, pammedsil, pamsil and dynmsc (the
conventions of the `kmedoids` package: a dissimilarity matrix and k or the initial medoids)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _core
from .._utils.scaling import scale_for
from .._utils.validation import seed_from
from .checks import FUNCTION_MAX_ITER, INIT, check_dissimilarity, check_medoids, n_threads_from
from .silhouette import check_data


@dataclass(frozen=True)
class MSCResult:
    """The outcome of a medoid silhouette clustering.

    Attributes
    ----------
    silhouette : float
        The objective of the result (higher is better, at most 1): the average medoid
        silhouette, or for pamsil the silhouette.
    loss : float
        The same value, which the `kmedoids` package returns as `loss`.
    labels : ndarray of shape (n_samples,)
        Cluster of each sample (its nearest medoid), 0..k-1 in the order of `medoids`.
    medoids : ndarray of shape (k,)
    n_iter : int
        Passes over the candidates (summed over every k for dynmsc).
    n_swap : int
        Medoid changes made (summed over every k for dynmsc).
    converged : bool
    best_k : int
        The number of clusters chosen (k for fastermsc).
    silhouettes : ndarray
        dynmsc: the average medoid silhouette for each k in `range_k` (fastermsc: the one k).
    range_k : range
        The values of k tried.
    """

    silhouette: float
    loss: float
    labels: np.ndarray
    medoids: np.ndarray
    n_iter: int
    n_swap: int
    converged: bool
    best_k: int
    silhouettes: np.ndarray
    range_k: range


def medoid_silhouette(X, medoids, *, metric="euclidean", samples=False, n_threads=None):
    """The medoid silhouette of a clustering given by its medoids, in O(n k) time and memory.

    Each sample's s(i) = 1 - a(i) / b(i), a(i) and b(i) its distances to the nearest and second
    nearest medoid (s(i) = 1 if b(i) = 0); the score is their mean. Equal to
    ``kmedoids.medoid_silhouette`` on the same matrix.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or (n_samples, n_samples)
        Features, or with metric="precomputed" a distance matrix (only the medoids' rows are
        read, and checked: finite, non-negative).
    medoids : array-like of int, shape (k,), k >= 2
        Sample indices of the medoids.
    metric : {"euclidean", "sqeuclidean", "manhattan", "cosine", "precomputed"}, default="euclidean"
    samples : bool, default=False
        Also return every sample's s(i).
    n_threads : int or None

    Returns
    -------
    float, or (float, ndarray of shape (n_samples,)) with samples=True
    """
    X, metric = check_data(X, metric, min_samples=2)
    k, indices = check_medoids(medoids, X.shape[0])
    if indices is None:
        raise TypeError("medoids must be an array of sample indices")
    if k < 2:
        raise ValueError("the medoid silhouette needs at least 2 medoids")
    scale = scale_for(X, metric)
    s = _core.medoid_silhouette(scale.data(X), indices, metric=metric, n_threads=n_threads_from(n_threads))
    score = float(np.mean(s))
    return (score, s) if samples else score


def _prepare(diss, medoids, init, max_iter, *, minimum=2):
    diss = check_dissimilarity(diss)
    n = diss.shape[0]
    k, initial = check_medoids(medoids, n)
    if k < minimum:
        raise ValueError(f"the medoid silhouette needs at least 2 clusters, got k={k}")
    if k >= n:
        raise ValueError(f"the number of medoids k={k} must be < n_samples={n}")
    return diss, k, initial, INIT(init, "init"), FUNCTION_MAX_ITER(max_iter, "max_iter")


def _result(raw, n, range_k, best_k, silhouettes):
    return MSCResult(silhouette=float(raw["silhouette"]), loss=float(raw["silhouette"]),
                     labels=raw["labels"], medoids=raw["medoids"], n_iter=int(raw["n_iter"]), n_swap=int(raw["n_swaps"]),
                     converged=bool(raw["converged"]), best_k=best_k, silhouettes=silhouettes, range_k=range_k)


def _swap_method(method, diss, medoids, max_iter, init, random_state, n_threads):
    diss, k, initial, init, max_iter = _prepare(diss, medoids, init, max_iter)
    scale = scale_for(diss, "precomputed")
    raw = _core.msc_kmedoids(scale.data(diss), method=method, metric="precomputed", precompute=False, init=init,
                             n_clusters=k, initial_medoids=initial, max_iter=max_iter,
                             seed=seed_from(random_state), n_threads=n_threads_from(n_threads))
    return _result(raw, diss.shape[0], range(k, k + 1), k, np.array([raw["silhouette"]]))


_SWAP_PARAMETERS = """
    Parameters
    ----------
    diss : array-like of shape (n_samples, n_samples)
        Symmetric, non-negative dissimilarities with a zero diagonal; float32 stays float32.
    medoids : int or array-like of int
        The number of clusters k (2 <= k < n_samples), or the indices of the initial medoids.
    max_iter : int, default=100
        Maximum number of passes over the candidates (swaps for the best-swap methods).
    init : {"random", "first", "build", "lab", "k-medoids++"}, default=%r
        How to choose the initial medoids when `medoids` is an int.
    random_state : int, RandomState, Generator or None
    n_threads : int or None
        Threads to use; None means all CPUs. The result does not depend on it.

    Returns
    -------
    MSCResult
"""

_MSC_REFERENCE = """
    References
    ----------
    L. Lenssen and E. Schubert, "Medoid silhouette clustering with automatic cluster number
    selection", Information Systems 120, 2024.
"""

_PAM_REFERENCE = """
    References
    ----------
    M. Van der Laan, K. Pollard and J. Bryan, "A new partitioning around medoids algorithm",
    Journal of Statistical Computation and Simulation 73(8), 2003.
"""


def fastermsc(diss, medoids, *, max_iter=100, init="random", random_state=None, n_threads=None):
    return _swap_method("fastermsc", diss, medoids, max_iter, init, random_state, n_threads)


def fastmsc(diss, medoids, *, max_iter=100, init="random", random_state=None, n_threads=None):
    return _swap_method("fastmsc", diss, medoids, max_iter, init, random_state, n_threads)


def pammedsil(diss, medoids, *, max_iter=100, init="build", random_state=None, n_threads=None):
    return _swap_method("pammedsil", diss, medoids, max_iter, init, random_state, n_threads)


def pamsil(diss, medoids, *, max_iter=100, init="build", random_state=None, n_threads=None):
    return _swap_method("pamsil", diss, medoids, max_iter, init, random_state, n_threads)


fastermsc.__doc__ = ("""FasterMSC: k-medoids that maximises the medoid silhouette, with eager swaps, O(n^2) per pass.
""" + _SWAP_PARAMETERS % "random" + _MSC_REFERENCE)
fastmsc.__doc__ = ("""FastMSC: the best swap for the medoid silhouette in each iteration, O(n^2) per swap.

    It makes the same swaps as :func:`pammedsil`, k^2 times faster; :func:`fastermsc` is faster still.
""" + _SWAP_PARAMETERS % "random" + _MSC_REFERENCE)
pammedsil.__doc__ = ("""PAMMEDSIL: the original best-swap search for the medoid silhouette, O(k^2 n^2) per swap.

    Each trial swap is priced from scratch; :func:`fastmsc` makes the same swaps faster.
""" + _SWAP_PARAMETERS % "build" + _PAM_REFERENCE)
pamsil.__doc__ = ("""PAMSIL: the best-swap search for the silhouette itself, O(k n^3) per swap (small n only).

    Each trial labels every sample by its nearest medoid and computes the exact silhouette
    (singletons count 0); the best swap is made while it raises the silhouette.
""" + _SWAP_PARAMETERS % "build" + _PAM_REFERENCE)


def dynmsc(diss, max_k, *, min_k=2, max_iter=100, init="random", random_state=None, n_threads=None):
    """DynMSC: FasterMSC for k = max_k down to min_k, keeping the k of the best medoid silhouette.

    The run at max_k starts from `max_k` initial medoids; every later run starts from the
    previous result less the medoid whose removal lowers the medoid silhouette least.

    Parameters
    ----------
    diss : array-like of shape (n_samples, n_samples)
        As for :func:`fastermsc`.
    max_k : int or array-like of int
        The largest k (< n_samples), or the max_k initial medoids.
    min_k : int, default=2
        The smallest k tried, 2 <= min_k <= max_k.
    max_iter, init, random_state, n_threads
        As for :func:`fastermsc` (max_iter per k).

    Returns
    -------
    MSCResult
        With ``best_k``, the medoids and labels for it, and ``silhouettes``, the average medoid
        silhouette for every k in ``range_k`` = range(min_k, max_k + 1).
    """
    diss, k, initial, init, max_iter = _prepare(diss, max_k, init, max_iter)
    min_k = check_min_k(min_k, k)
    scale = scale_for(diss, "precomputed")
    raw = _core.dynmsc(scale.data(diss), metric="precomputed", precompute=False, init=init, max_clusters=k,
                       min_clusters=min_k, initial_medoids=initial, max_iter=max_iter, seed=seed_from(random_state),
                       n_threads=n_threads_from(n_threads))
    return _result(raw, diss.shape[0], range(min_k, k + 1), int(raw["best_k"]), raw["silhouettes"])


def check_min_k(min_k, max_k):
    if isinstance(min_k, bool) or not isinstance(min_k, (int, np.integer)):
        raise TypeError(f"min_k must be an int, got {min_k!r}")
    if not 2 <= min_k <= max_k:
        raise ValueError(f"min_k={min_k} must be in [2, max_k={max_k}]")
    return int(min_k)


def fit_msc(estimator, X, params, weights, initial, *, auto, precompute):
    """KMedoids' fit with a method of MSC_METHODS or n_clusters="auto" (DynMSC): the core's
    result dict, with the best silhouette over n_init restarts."""
    if weights is not None:
        raise ValueError("sample_weight is not supported by the medoid silhouette methods")
    n = X.shape[0]
    k = params["max_clusters"] if auto else params["n_clusters"]
    name = "max_clusters" if auto else "n_clusters"
    if not 2 <= k < n:
        raise ValueError(f"the medoid silhouette needs 2 <= {name}={k} < n_samples={n}")
    if auto and params["min_clusters"] > k:
        raise ValueError(f"min_clusters={params['min_clusters']} must be <= max_clusters={k}")
    init = "random" if initial is not None else estimator.init
    runs = 1 if initial is not None or init in ("first", "build") else params["n_init"]
    seeds = np.random.default_rng(seed_from(estimator.random_state)).integers(0, 2**63 - 1, size=runs)
    common = dict(metric=estimator.metric, precompute=precompute, init=init, initial_medoids=initial,
                  max_iter=params["max_iter"], n_threads=estimator._n_threads())
    best = None
    for seed in seeds:
        if auto:
            raw = _core.dynmsc(X, max_clusters=k, min_clusters=params["min_clusters"], seed=int(seed), **common)
        else:
            raw = _core.msc_kmedoids(X, method=estimator.method, n_clusters=k, seed=int(seed), **common)
            raw["best_k"], raw["silhouettes"] = k, np.array([raw["silhouette"]])
        if best is None or raw["silhouette"] > best["silhouette"]:
            best = raw
    return best
