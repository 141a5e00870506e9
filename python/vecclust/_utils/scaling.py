"""Power-of-two rescaling, so that distances and losses computed in the data's dtype neither
overflow nor underflow anywhere in its finite range.

Data whose distances, weighted and summed over all points, fit the dtype comfortably (all
ordinary data) is passed on unchanged, so its results are what they always were. Otherwise the
core gets X * 2**-e_x, with the largest |value| in [0.5, 1), and weights * 2**-e_w, the largest in
[0.5, 1). Multiplying by a power of two is exact (barring subnormals), and a sum of scaled terms
is the scaled sum, so every comparison, and with it every label and medoid, is what exact-range
arithmetic would give; losses and distances are scaled back in float64, and a value the dtype
cannot hold is a ValueError, never an inf.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# How a distance scales with the data: d(c X) = c**power d(X).
DISTANCE_POWER = {"euclidean": 1, "manhattan": 1, "sqeuclidean": 2, "cosine": 0, "precomputed": 1}


@dataclass(frozen=True)
class Scale:
    """The core saw X * 2**-x_exponent and weights * 2**-weight_exponent."""

    x_exponent: int = 0
    weight_exponent: int = 0
    power: int = 1  # DISTANCE_POWER of the metric

    def data(self, X):
        return X if self.x_exponent == 0 else np.ldexp(X, -self.x_exponent).astype(X.dtype, copy=False)

    def unscale_data(self, X):
        """Data-space values (centres) computed on scaled data, back in the data's units."""
        return X if self.x_exponent == 0 else np.ldexp(X, self.x_exponent).astype(X.dtype, copy=False)

    def weights(self, weights):
        if weights is None or self.weight_exponent == 0:
            return weights
        return np.ldexp(weights, -self.weight_exponent).astype(weights.dtype, copy=False)

    def distances(self, values):
        """Distances computed on scaled data, in the data's units (the same dtype)."""
        return self._restore(values, self.power * self.x_exponent, "the distances", "X")

    def loss(self, values):
        """A (weighted) sum of distances, in the data's units."""
        return self._restore(values, self.power * self.x_exponent + self.weight_exponent, "the loss",
                             "X or sample_weight")

    @staticmethod
    def _restore(values, exponent, what, inputs):
        if exponent == 0:
            return values
        with np.errstate(over="ignore"):
            out = np.ldexp(values, exponent)
        if not np.all(np.isfinite(out)):
            dtype = np.asarray(values).dtype
            raise ValueError(f"{what} would exceed the range of {dtype} (at most {np.finfo(dtype).max:.3g}); "
                             f"rescale {inputs}{' or pass float64 data' if dtype == np.float32 else ''}")
        return out.astype(np.asarray(values).dtype, copy=False) if isinstance(values, np.ndarray) else float(out)


def _largest(*arrays) -> float:
    """The largest |value| (max and min: no temporary the size of the data)."""
    return max((max(float(a.max()), -float(a.min())) for a in arrays if a.size), default=0.0)


def scale_for(X, metric: str, weights=None, others=()) -> Scale:
    """The Scale for features X (n, d) under `metric`, or, with metric="precomputed", for the
    dissimilarity matrix X; weights: the sample weights or None; others: more arrays the same
    distances will involve (the centres a transform measures against)."""
    return scale_from_largest(_largest(X, *others), X.dtype, metric, X.shape, weights)


def scale_from_largest(largest_x: float, dtype, metric: str, shape, weights=None) -> Scale:
    """scale_for, given the largest |value| of the data (of shape `shape`)."""
    info = np.finfo(dtype)
    power = DISTANCE_POWER[metric]
    n, d = shape
    log_x = math.log2(largest_x) if largest_x > 0 else -math.inf
    log_w = math.log2(_largest(weights)) if weights is not None else 0.0
    if log_x == -math.inf:  # all zero: nothing to scale
        return Scale(power=power)
    # The largest intermediate the kernels form: a distance matrix entry; from features, a sum
    # of d squared differences (or of d absolute ones), each up to 2 max|x|.
    if metric == "precomputed":
        log_term = log_x
    elif metric == "manhattan":
        log_term = log_x + 1 + math.log2(d)
    else:
        log_term = 2 * (log_x + 1) + math.log2(d)
    # Each term (weighted) must fit the dtype, and their sum over n points the float64 loss.
    fits = log_term + log_w < math.log2(info.max) - 4 and log_term + log_w + math.log2(n) < 1020
    # The smallest meaningful differences (relative eps) must stay normal numbers when squared.
    smallest = log_x + math.log2(info.eps) if metric == "precomputed" else 2 * (log_x + math.log2(info.eps))
    resolved = smallest > math.log2(info.tiny) and log_x + log_w + math.log2(info.eps) > math.log2(info.tiny)
    if fits and resolved:
        return Scale(power=power)
    x_exponent = math.frexp(largest_x)[1]
    weight_exponent = math.frexp(_largest(weights))[1] if weights is not None else 0
    return Scale(x_exponent, weight_exponent, power)


def unscaled_range(dtype, n: int, weights=None) -> tuple:
    """The open interval of largest entries for which an n x n dissimilarity matrix needs no
    scaling (scale_from_largest's conditions for metric="precomputed", solved for the largest
    entry), so that the core can check it in the pass that validates the matrix."""
    info = np.finfo(dtype)
    log_w = math.log2(_largest(weights)) if weights is not None else 0.0
    high = min(math.log2(info.max) - 4, 1020 - math.log2(n)) - log_w
    low = math.log2(info.tiny) - math.log2(info.eps) - min(log_w, 0.0)
    return _power_of_two(low), _power_of_two(high)


def _power_of_two(exponent: float) -> float:
    if exponent >= 1024:
        return math.inf
    return 0.0 if exponent < -1074 else 2.0**exponent


def check_squared_range(X, estimator: str) -> None:
    """For models with absolute, data-unit parameters (GaussianMixture's reg_covar), which cannot
    be rescaled away: refuse data whose squared distances over its features would overflow X's
    dtype, rather than fail later for a reason that is not the real one."""
    if X.size == 0:
        return
    limit = math.sqrt(float(np.finfo(X.dtype).max) / (8 * X.shape[1]))
    largest = _largest(X)
    if largest > limit:
        hint = " or pass float64 data" if X.dtype == np.float32 else ""
        raise ValueError(f"{estimator}: X has a value of magnitude {largest:.3g}, above {limit:.3g}, the largest "
                         f"whose squared distances {X.dtype} holds over {X.shape[1]} features; rescale X{hint}")
