"""PPP's 1- versus 2-component test: a node's fit sample in principal coordinates, and the
BIC (or ICL) difference between one Gaussian and a 2-component mixture started at a cut."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import linalg

from .._mixture.gmm import EMResult, fit_em, log_responsibilities, n_parameters
from .._utils.numerics import precision_cholesky


@dataclass
class PcaSample:
    """A fit sample in float64 with its principal axes (descending variance)."""

    points: np.ndarray
    mean: np.ndarray
    variances: np.ndarray
    axes: np.ndarray

    @classmethod
    def of(cls, points):
        mean = points.mean(axis=0)
        centred = points - mean
        cov = centred.T @ centred / max(len(points) - 1, 1)
        variances, vectors = np.linalg.eigh(cov)
        order = np.argsort(-variances, kind="stable")
        variances = np.clip(variances[order], 0.0, None)
        axes = vectors[:, order].T
        # An eigenvector's sign is arbitrary: make its largest entry positive.
        axes *= np.where(axes[np.arange(len(axes)), np.argmax(np.abs(axes), axis=1)] < 0, -1.0, 1.0)[:, None]
        return cls(points, mean, variances, axes)

    def n_components(self, q_max):
        """min(q_max, d, floor(sqrt(m/5)), rank), at least 1: keeps a full covariance's
        parameter count well below the sample size."""
        top = self.variances[0]
        rank = int(np.count_nonzero(self.variances > top * 1e-10)) if top > 0 else 0
        return max(1, min(q_max, len(self.variances), int(math.sqrt(len(self.points) / 5)), rank))

    def project(self, q):
        return (self.points - self.mean) @ self.axes[:q].T


def _gaussian_of(Z, reg):
    """Maximum-likelihood Gaussian (biased covariance + reg on the diagonal)."""
    mean = Z.mean(axis=0)
    centred = Z - mean
    cov = centred.T @ centred / len(Z) + reg * np.eye(Z.shape[1])
    return mean, cov


def one_vs_two(ppp, sample, q, side, criterion, box_null=False):
    """BIC(1 component) - BIC(2 components) on the sample's first q principal coordinates
    (minus twice the posterior entropy for ICL), with EM started at the given 2-partition.
    Returns (delta, mixture, MAP side), or None if a covariance is singular."""
    # A component needs well more points than coordinates, or its near-singular covariance
    # makes any small group look like a cluster of its own.
    q = max(1, min(q, int(np.bincount(side, minlength=2).min()) // 2))
    Z = sample.project(q)
    m = len(Z)
    reg = ppp.reg_covar_rel * float(sample.variances[:q].sum()) / q
    try:
        mean, cov = _gaussian_of(Z, reg)
        one = EMResult(np.ones(1), mean[None], cov[None], precision_cholesky(cov)[None])
        halves = [_gaussian_of(Z[side == s], reg) for s in (0, 1)]
        weights = np.bincount(side, minlength=2) / m
        two = fit_em(Z, weights, np.array([h[0] for h in halves]),
                     np.array([precision_cholesky(h[1]) for h in halves]), covariance_type="full",
                     reg_covar=reg, tol=ppp.gmm_tol, max_iter=ppp.gmm_max_iter, n_threads=ppp._n_threads_used)
    except (linalg.LinAlgError, ValueError):
        return None
    log_like_one = log_responsibilities(Z, one, ppp._n_threads_used)[0].sum()
    log_prob, log_resp = log_responsibilities(Z, two, ppp._n_threads_used)
    log_m = math.log(m)
    bic_one = -2 * log_like_one + n_parameters(1, q, "full") * log_m
    if box_null:
        log_volume = float(np.log(np.ptp(Z, axis=0)).sum())
        if q == Z.shape[1] == sample.points.shape[1]:  # the feature axes span the same space
            log_volume = min(log_volume, float(np.log(np.ptp(sample.points, axis=0)).sum()))
        log_volume += q * math.log((m + 1) / (m - 1))
        bic_box = 2 * m * log_volume + 2 * q * log_m
        bic_one = min(bic_one, bic_box)
    delta = bic_one - (-2 * log_prob.sum() + n_parameters(2, q, "full") * log_m)
    if criterion == "icl":
        resp = np.exp(log_resp)
        delta -= 2 * float(-(resp * log_resp).sum())
    return float(delta), two, np.argmax(log_resp, axis=1)


def cut_agreement(km_side, mixture_side):
    """Smallest per-child fraction of the k-means cut that the mixture reproduces, with the
    mixture's two labels matched to the children by the larger diagonal."""
    table = np.zeros((2, 2))
    np.add.at(table, (km_side, mixture_side), 1)
    if table[0, 0] + table[1, 1] < table[0, 1] + table[1, 0]:
        table = table[:, ::-1]
    return float(min(table[0, 0] / table[0].sum(), table[1, 1] / table[1].sum()))
