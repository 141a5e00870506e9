"""PPP's refinement: every point moves to the cluster whose Gaussian explains it best
(classification EM, or one global EM)."""

from __future__ import annotations

import numpy as np
from scipy import linalg

from .._mixture.gmm import EMResult, fit_em, log_responsibilities
from .._utils.numerics import precision_cholesky


def most_likely(X, mixture, n_threads, block=65536):
    """MAP component of each row, in blocks to bound the memory of the responsibilities."""
    out = np.empty(X.shape[0], dtype=np.int64)
    for start in range(0, X.shape[0], block):
        rows = X[start:start + block]
        out[start:start + block] = np.argmax(log_responsibilities(rows, mixture, n_threads)[1], axis=1)
    return out


def refine(ppp, source, samples):
    """Moves every point to the cluster whose Gaussian gives it the highest weighted
    likelihood, which returns points that an early cut separated from their cluster.
    "cem": hard classification-EM passes, each Gaussian fitted on its cluster's own fit
    sample and shrunk towards the pooled covariance so small groups stay well posed.
    "gmm": one soft EM started from those Gaussians. Clusters left empty disappear.
    samples: each cluster's HashSample; the source holds the current labels and assigns the
    rows. Sets ppp._mixture (the present components) and returns the samples of the final
    clusters (0..K'-1), which are the mixture's MAP components."""
    n_iter = ppp.refine_iter if ppp.refine == "cem" else 1
    for _ in range(n_iter):
        groups = [source.points(s.rows).astype(np.float64) for s in samples]
        mixture = _shrunk_mixture(groups, [s.count for s in samples], ppp.reg_covar_rel)
        if ppp.refine == "gmm":
            mixture = _global_em(ppp, source, groups, mixture)
        samples, changed, present = source.assign(mixture, most_likely)
        ppp._mixture = EMResult(mixture.weights[present] / mixture.weights[present].sum(), mixture.means[present],
                                 None, mixture.precisions_cholesky[present])
        if not changed:
            break
    return samples

def _global_em(ppp, source, groups, start):
    """Full-covariance EM from the given mixture on the clusters' fit samples together (all
    points when n <= max_fit_samples; otherwise every cluster keeps its say, however small,
    and the weights are then re-estimated from all points). The start is kept if EM meets
    a singular covariance."""
    sample = np.concatenate(groups)
    reg = _relative_reg(sample, ppp.reg_covar_rel)
    try:
        mixture = fit_em(sample, start.weights, start.means, start.precisions_cholesky, covariance_type="full",
                         reg_covar=reg, tol=ppp.gmm_tol, max_iter=ppp.gmm_max_iter, n_threads=ppp._n_threads_used)
    except (linalg.LinAlgError, ValueError):
        return start
    if len(sample) < source.n:
        totals = source.responsibility_totals(mixture, log_responsibilities)
        mixture = EMResult(totals / source.n, mixture.means, mixture.covariances, mixture.precisions_cholesky)
    return mixture


def _shrunk_mixture(groups, counts, reg_covar_rel):
    """One Gaussian per group of points (a cluster's fit sample; counts: the clusters' sizes):
    weight, mean and covariance shrunk towards the pooled within-group covariance by d + 2
    pseudo-points (a conjugate prior's MAP estimate)."""
    points = np.concatenate(groups)
    d = points.shape[1]
    means = np.array([g.mean(axis=0) for g in groups])
    scatters = [(g - mean).T @ (g - mean) for g, mean in zip(groups, means)]
    pooled = sum(scatters) / len(points)
    # Regularise relative to the total variance: the pooled one is 0 when every group is one point.
    pooled.flat[:: d + 1] += _relative_reg(points, reg_covar_rel)
    prior = d + 2.0
    chol = np.array([precision_cholesky((s + prior * pooled) / (len(g) + prior)) for s, g in zip(scatters, groups)])
    counts = np.asarray(counts, dtype=np.float64)
    return EMResult(counts / counts.sum(), means, None, chol)


def _relative_reg(points, reg_covar_rel):
    """Covariance regularisation relative to the mean variance of the points (never 0, so a
    group of identical points stays well posed)."""
    return max(reg_covar_rel * float(np.var(points, axis=0).mean()), np.finfo(np.float64).tiny)
