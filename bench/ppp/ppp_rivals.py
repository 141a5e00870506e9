"""The methods PPP is compared with, each a function (X, seed) -> labels.

* X-means (Pelleg & Moore, ICML 2000): improve-params (k-means from the current centres) and
  improve-structure (every centre's region is split by a local 2-means; the children are kept
  when the BIC of identical spherical Gaussians prefers them) until nothing splits or `kmax` is
  reached; the model with the best global BIC seen on the way is returned.
* G-means (Hamerly & Elkan, NIPS 2003): every centre's points are split by a 2-means started at
  c +/- sqrt(2 lambda / pi) v along the first principal component; the children are kept when an
  Anderson-Darling test rejects normality of the projection onto c1 - c2 (alpha = 1e-4:
  A*^2 = A^2 (1 + 4/n - 25/n^2) > 1.8692); then k-means runs globally on all centres, until
  nothing splits.
* GMM-BIC sweep: scikit-learn GaussianMixture (full covariance) for K = 1..30, minimum BIC.
* HDBSCAN: scikit-learn's, allow_single_cluster=True, min_cluster_size = max(5, n // 100).
  Noise keeps the label -1.
* BisectingKMeans given the true k (a reference, it does not choose k).
* PPP (vecclust.PPP), and PPP with the ICL merge, when vecclust has it.

`METHODS` lists them for the quality script and the benchmarks.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import log_ndtr
from sklearn.cluster import HDBSCAN, BisectingKMeans, KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

KMAX = 50  # the cap on k for X-means and G-means
GMM_KMAX = 30  # the GMM-BIC sweep fits K = 1..30

# G-means' critical value of A*^2 = A^2 (1 + 4/n - 25/n^2) at alpha = 1e-4 (mean and variance
# estimated), as in Hamerly & Elkan.
GMEANS_CRITICAL_VALUE = 1.8692


def _quiet(fit):
    """Run `fit` with scikit-learn's convergence warnings silenced: the methods only compare
    the models they get, a model whose EM or k-means stopped at max_iter included."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit()


def _kmeans(X, centers, max_iter=300):
    """Lloyd k-means started at `centers` (deterministic: one start, no random init)."""
    km = KMeans(n_clusters=len(centers), init=np.asarray(centers, dtype=X.dtype), n_init=1, max_iter=max_iter,
                algorithm="lloyd")
    _quiet(lambda: km.fit(X))
    return km.cluster_centers_, km.labels_


# --------------------------------------------------------------------------------------------
# X-means


def spherical_bic(X, labels, centers):
    """BIC of K identical spherical Gaussians (pooled per-dimension variance) fitted to the hard
    partition `labels`, as in Pelleg & Moore: log-likelihood minus p/2 ln R with
    p = (K - 1) mixing weights + M K centre coordinates + 1 variance.

    The variance is SSE / (M (R - K)), the unbiased per-dimension estimate; the paper prints
    it without the M (the summed variance of the M dimensions), which is not the variance of a
    spherical Gaussian in M dimensions."""
    R, M = X.shape
    K = len(centers)
    if R <= K:
        return -math.inf
    sizes = np.bincount(labels, minlength=K).astype(np.float64)
    sse = float(((X - centers[labels]) ** 2).sum())
    variance = sse / (M * (R - K))
    if variance <= 0.0:
        return math.inf  # the centres explain the data exactly
    occupied = sizes[sizes > 0]
    log_likelihood = (float((occupied * np.log(occupied / R)).sum())
                      - 0.5 * R * M * math.log(2.0 * math.pi * variance) - 0.5 * M * (R - K))
    n_params = (K - 1) + M * K + 1
    return log_likelihood - 0.5 * n_params * math.log(R)


def xmeans(X, seed, kmax=KMAX):
    """X-means from one centre (the mean).

    Improve-structure splits each region's centre into two children displaced in opposite
    directions along a random unit vector (drawn from `seed`), by the region's RMS radius,
    runs 2-means on the region from them, and keeps the children if the region's BIC with two
    centres beats its BIC with one. Returns the labels of the best-BIC model visited."""
    X = np.asarray(X, dtype=np.float64)
    rng = np.random.default_rng(seed)
    centers = X.mean(axis=0, keepdims=True)
    best_bic, best_labels = -math.inf, None
    while True:
        centers, labels = _kmeans(X, centers)  # improve-params
        bic = spherical_bic(X, labels, centers)
        if bic > best_bic:
            best_bic, best_labels = bic, labels
        if len(centers) >= kmax:
            break
        new_centers = _split_regions(X, labels, centers, kmax, lambda region, center: _xmeans_split(region, center, rng))
        if len(new_centers) == len(centers):  # improve-structure split nothing
            break
        centers = new_centers
    return best_labels


def _split_regions(X, labels, centers, kmax, split):
    """Each centre, or the two children split(region, centre) returns for it (None: keep it),
    in centre order, while the count stays within kmax."""
    new_centers = []
    room = kmax - len(centers)  # splits allowed before reaching kmax
    for j, center in enumerate(centers):
        children = split(X[labels == j], center) if room > 0 else None
        if children is None:
            new_centers.append(center)
        else:
            new_centers.extend(children)
            room -= 1
    return np.array(new_centers)


def _xmeans_split(region, center, rng):
    """The two children of `center` if BIC prefers them on `region`, else None."""
    if len(region) < 4:  # two children need more points than centres on each side
        return None
    radius = math.sqrt(float(((region - center) ** 2).sum(axis=1).mean()))
    if radius == 0.0:
        return None
    direction = rng.standard_normal(region.shape[1])
    direction *= radius / np.linalg.norm(direction)
    children, child_labels = _kmeans(region, [center + direction, center - direction])
    if np.bincount(child_labels, minlength=2).min() == 0:
        return None
    parent_bic = spherical_bic(region, np.zeros(len(region), dtype=np.intp), center[None, :])
    return children if spherical_bic(region, child_labels, children) > parent_bic else None


# --------------------------------------------------------------------------------------------
# G-means


def anderson_darling_normal(values):
    """A*^2: the Anderson-Darling statistic of `values` against a normal law with the sample
    mean and standard deviation, with Stephens' small-sample correction (1 + 4/n - 25/n^2)."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = len(x)
    std = x.std(ddof=1)
    if std == 0.0:
        return math.inf  # all equal: certainly not a normal sample
    z = (x - x.mean()) / std
    i = np.arange(1, n + 1)
    # log Phi(z_i) + log(1 - Phi(z_{n+1-i})), with 1 - Phi(z) = Phi(-z), both by log_ndtr
    a2 = -n - float(((2 * i - 1) * (log_ndtr(z) + log_ndtr(-z[::-1]))).sum()) / n
    return a2 * (1.0 + 4.0 / n - 25.0 / n**2)


def gmeans(X, seed=None, critical=GMEANS_CRITICAL_VALUE, kmax=KMAX, min_points=8):
    """G-means from one centre (deterministic: `seed` is accepted for a uniform signature and
    not used; the children start along the principal component). A region with fewer than
    `min_points` points is not tested."""
    X = np.asarray(X, dtype=np.float64)
    centers = X.mean(axis=0, keepdims=True)
    labels = np.zeros(len(X), dtype=np.intp)
    while True:
        centers, labels = _kmeans(X, centers)  # global k-means on all centres
        new_centers = _split_regions(
            X, labels, centers, kmax, lambda region, center: _gmeans_split(region, center, critical, min_points))
        if len(new_centers) == len(centers):
            return labels
        centers = new_centers


def _gmeans_split(region, center, critical, min_points):
    """The two children of `center` if the projection onto c1 - c2 is not normal, else None."""
    if len(region) < max(min_points, 2):
        return None
    centred = region - region.mean(axis=0)
    # first principal component (largest right singular vector) and its variance
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    variance = singular[0] ** 2 / (len(region) - 1)
    if variance == 0.0:
        return None
    offset = vt[0] * math.sqrt(2.0 * variance / math.pi)
    children, child_labels = _kmeans(region, [center + offset, center - offset])
    v = children[0] - children[1]
    if np.bincount(child_labels, minlength=2).min() == 0 or not np.any(v):
        return None
    projection = region @ v / float(v @ v)
    return children if anderson_darling_normal(projection) > critical else None


# --------------------------------------------------------------------------------------------
# scikit-learn based rivals


def gmm_bic_sweep(X, seed, kmax=GMM_KMAX):
    """GaussianMixture(K, covariance_type="full") for K = 1..kmax (at most n - 1); the labels
    of the minimum-BIC model."""
    X = np.asarray(X, dtype=np.float64)
    best_bic, best = math.inf, None
    for k in range(1, min(kmax, len(X) - 1) + 1):
        gmm = GaussianMixture(n_components=k, covariance_type="full", random_state=seed)
        _quiet(lambda: gmm.fit(X))  # noqa: B023 (called at once)
        bic = gmm.bic(X)
        if bic < best_bic:
            best_bic, best = bic, gmm
    return best.predict(X)


def hdbscan(X, seed=None):
    """scikit-learn HDBSCAN, min_cluster_size = max(5, n // 100), one cluster allowed;
    deterministic (`seed` unused). Noise points are labelled -1."""
    model = HDBSCAN(min_cluster_size=max(5, len(X) // 100), allow_single_cluster=True, copy=True)
    return model.fit(np.asarray(X, dtype=np.float64)).labels_


def bisecting_kmeans(X, seed, n_clusters):
    """BisectingKMeans told the true number of clusters (a reference: it does not choose k)."""
    model = BisectingKMeans(n_clusters=n_clusters, random_state=seed)
    return _quiet(lambda: model.fit(np.asarray(X, dtype=np.float64))).labels_


def ppp(X, seed, n_threads=1, **params):
    """vecclust.PPP with its defaults (deterministic; `seed` is passed as random_state)."""
    import vecclust

    model = vecclust.PPP(random_state=seed, n_threads=n_threads, **params)
    return model.fit(X).labels_


def ppp_available():
    try:
        import vecclust
    except ImportError:
        return False
    return hasattr(vecclust, "PPP")


# --------------------------------------------------------------------------------------------
# Registry


@dataclass(frozen=True)
class Method:
    """A clustering method under test. `fit(X, seed, n_clusters, n_threads)` returns labels;
    `n_clusters` (the true k) is only used by reference methods (`uses_true_k`)."""

    name: str
    fit: Callable
    uses_true_k: bool = False
    is_ppp: bool = False

    def available(self):
        return ppp_available() if self.is_ppp else True

    def __call__(self, X, seed, n_clusters=None, n_threads=1):
        return self.fit(X, seed, n_clusters, n_threads)


def _ignore_extras(function):
    """Adapt a (X, seed) rival to the registry's call."""
    return lambda X, seed, n_clusters, n_threads: function(X, seed)


METHODS = (
    Method("PPP", lambda X, seed, n_clusters, n_threads: ppp(X, seed, n_threads=n_threads), is_ppp=True),
    Method("PPP-ICL", lambda X, seed, n_clusters, n_threads: ppp(X, seed, n_threads=n_threads, merge="icl"),
           is_ppp=True),
    Method("PPP-GMM", lambda X, seed, n_clusters, n_threads: ppp(X, seed, n_threads=n_threads, refine="gmm"),
           is_ppp=True),
    Method("PPP-3starts", lambda X, seed, n_clusters, n_threads: ppp(X, seed, n_threads=n_threads, n_extra_starts=3),
           is_ppp=True),
    Method("X-means", _ignore_extras(xmeans)),
    Method("G-means", _ignore_extras(gmeans)),
    Method("GMM-BIC", _ignore_extras(gmm_bic_sweep)),
    Method("HDBSCAN", _ignore_extras(hdbscan)),
    Method("BisectingKMeans(true k)",
           lambda X, seed, n_clusters, n_threads: bisecting_kmeans(X, seed, n_clusters), uses_true_k=True),
)

METHODS_BY_NAME = {method.name: method for method in METHODS}
RIVALS_CHOOSING_K = ("X-means", "G-means", "HDBSCAN")  # PPP's mean blob ARI must be >= the best of these

__all__ = ["METHODS", "METHODS_BY_NAME", "Method", "anderson_darling_normal", "bisecting_kmeans", "gmeans",
           "GMEANS_CRITICAL_VALUE", "gmm_bic_sweep", "hdbscan", "ppp", "ppp_available", "spherical_bic", "xmeans"]
