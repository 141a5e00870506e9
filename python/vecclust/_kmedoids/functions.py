"""k-medoids on a precomputed dissimilarity matrix: fasterpam, fastpam1, pam, alternating,
pam_build. The argument conventions follow the `kmedoids` package, so code can switch over."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .. import _core
from .._utils.hints import ArrayLike, KMedoidsInit, Medoids, NThreads, Seed
from .._utils.scaling import Scale, scale_from_largest, unscaled_range
from .._utils.validation import check_weights, seed_from
from .checks import FUNCTION_MAX_ITER, INIT, check_dissimilarity, check_medoids, n_threads_from


@dataclass(frozen=True)
class KMedoidsResult:
    """The outcome of a k-medoids run.

    Attributes
    ----------
    loss : float
        Total deviation: the (weighted) sum of each sample's dissimilarity to its medoid.
    labels : ndarray of shape (n_samples,)
        Cluster of each sample, 0..k-1, in the order of `medoids`.
    medoids : ndarray of shape (k,)
        Sample indices of the medoids.
    n_iter : int
        Passes (FasterPAM) or iterations (the other methods) made.
    n_swap : int
        Medoid changes made.
    converged : bool
        False when max_iter stopped the search before a local optimum.
    """

    loss: float
    labels: np.ndarray
    medoids: np.ndarray
    n_iter: int
    n_swap: int
    converged: bool


def kmedoids_on_matrix(diss, weights, options) -> tuple:
    """_core.kmedoids_matrix on a checked matrix; when its largest entry (found by the core in the
    pass that validates the matrix) is out of the range the losses can be computed in, again on
    the matrix and weights scaled by powers of two. Returns (the Scale, the core's result)."""
    low, high = unscaled_range(diss.dtype, diss.shape[0], weights)
    raw = _core.kmedoids_matrix(diss, sample_weight=weights, unscaled_low=low, unscaled_high=high, **options)
    if "largest" not in raw:
        return Scale(), raw
    scale = scale_from_largest(raw["largest"], diss.dtype, "precomputed", diss.shape, weights)
    raw = _core.kmedoids_matrix(scale.data(diss), sample_weight=scale.weights(weights), unscaled_low=0.0,
                                unscaled_high=math.inf, **options)
    return scale, raw


def run_on_matrix(diss, medoids, *, method, max_iter, init, random_state, sample_weight, n_threads, n_init=1):
    diss = check_dissimilarity(diss)
    n = diss.shape[0]
    k, initial = check_medoids(medoids, n)
    init = INIT(init, "init")
    max_iter = FUNCTION_MAX_ITER(max_iter, "max_iter")
    weights = check_weights(sample_weight, n, diss.dtype)
    options = dict(method=method, init=init, n_clusters=k, initial_medoids=initial, max_iter=max_iter, n_init=n_init,
                   seed=seed_from(random_state), n_threads=n_threads_from(n_threads))
    scale, raw = kmedoids_on_matrix(diss, weights, options)
    return KMedoidsResult(loss=scale.loss(raw["loss"]), labels=raw["labels"], medoids=raw["medoids"], n_iter=raw["n_iter"],
                          n_swap=raw["n_swaps"], converged=raw["converged"])


def fasterpam(diss: ArrayLike, medoids: Medoids, *, max_iter: int = 100, init: KMedoidsInit = "random",
              random_state: Seed = None, sample_weight: ArrayLike | None = None,
              n_threads: NThreads = None) -> KMedoidsResult:
    """FasterPAM k-medoids (eager swaps, O(n^2) per pass) on a dissimilarity matrix.

    Parameters
    ----------
    diss : array-like of shape (n_samples, n_samples)
        Symmetric, non-negative dissimilarities with a zero diagonal; float32 stays float32.
    medoids : int or array-like of int
        The number of clusters k, or the indices of the initial medoids.
    max_iter : int, default=100
        Maximum number of passes over the candidates.
    init : {"random", "first", "build", "lab", "k-medoids++"}, default="random"
        How to choose the initial medoids when `medoids` is an int.
    random_state : int, RandomState, Generator or None
        Seed for the random initialisations.
    sample_weight : array-like of shape (n_samples,), optional
        A sample's weight multiplies its dissimilarity to its medoid in the loss.
    n_threads : int or None
        Threads to use; None means all CPUs. The result does not depend on it.

    Returns
    -------
    KMedoidsResult

    References
    ----------
    E. Schubert and P. J. Rousseeuw, "Fast and eager k-medoids clustering: O(k) runtime
    improvement of the PAM, CLARA, and CLARANS algorithms", Information Systems 101, 2021.
    """
    return run_on_matrix(diss, medoids, method="fasterpam", max_iter=max_iter, init=init,
                         random_state=random_state, sample_weight=sample_weight, n_threads=n_threads)


def fastpam1(diss: ArrayLike, medoids: Medoids, *, max_iter: int = 100, init: KMedoidsInit = "random",
             random_state: Seed = None, sample_weight: ArrayLike | None = None,
             n_threads: NThreads = None) -> KMedoidsResult:
    """FastPAM1: the best single swap per iteration (the same swaps as PAM), O(n^2) per swap.

    Parameters and return value as for :func:`fasterpam`.
    """
    return run_on_matrix(diss, medoids, method="fastpam1", max_iter=max_iter, init=init,
                         random_state=random_state, sample_weight=sample_weight, n_threads=n_threads)


def pam(diss: ArrayLike, medoids: Medoids, *, max_iter: int = 100, init: KMedoidsInit = "build",
        random_state: Seed = None, sample_weight: ArrayLike | None = None,
        n_threads: NThreads = None) -> KMedoidsResult:
    """PAM (Kaufman & Rousseeuw): BUILD (by default) then the original SWAP, O(k n^2) per swap.

    The slow reference; prefer :func:`fasterpam`. Parameters and return value as for
    :func:`fasterpam`.
    """
    return run_on_matrix(diss, medoids, method="pam", max_iter=max_iter, init=init,
                         random_state=random_state, sample_weight=sample_weight, n_threads=n_threads)


def alternating(diss: ArrayLike, medoids: Medoids, *, max_iter: int = 100, init: KMedoidsInit = "random",
                random_state: Seed = None, sample_weight: ArrayLike | None = None,
                n_threads: NThreads = None) -> KMedoidsResult:
    """Alternating (k-means style) k-medoids: assign, then re-centre each cluster on its medoid.

    Parameters and return value as for :func:`fasterpam`.
    """
    return run_on_matrix(diss, medoids, method="alternate", max_iter=max_iter, init=init,
                         random_state=random_state, sample_weight=sample_weight, n_threads=n_threads)


def pam_build(diss: ArrayLike, k: int, *, sample_weight: ArrayLike | None = None,
              n_threads: NThreads = None) -> KMedoidsResult:
    """PAM's greedy BUILD initialisation alone, O(k n^2); `n_iter` and `n_swap` are 0."""
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
        raise TypeError(f"k must be an int, got {k!r}")
    # No pass of any method: BUILD's medoids and their assignment, with nothing left to converge.
    result = run_on_matrix(diss, k, method="fasterpam", max_iter=0, init="build", random_state=None,
                           sample_weight=sample_weight, n_threads=n_threads)
    return dataclasses.replace(result, converged=True)
