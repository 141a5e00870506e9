"""Gaussian mixture models fitted by EM in the C++ core: the GaussianMixture estimator and the
EM helpers it is built on (fit_em, log_responsibilities, n_parameters)."""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field
from typing import Literal, Self

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import _core
from .._utils.scaling import check_squared_range
from .._utils.hints import ArrayLike, FloatArray, IntArray, NThreads, Seed
from .._utils.validation import (INT64_MAX, Boolean, Integer, Options, Real, check_choice, effective_n_threads,
                                 native_byte_order, seed_from, validate_params)
from .._utils.lazy import lazy_on_dask

COVARIANCE_TYPES = ("full", "diag")
INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")
# scikit-learn adds this to every component's responsibility sum (so an empty component divides
# by a tiny number, not zero); the core does the same in float64.
COUNT_EPSILON = 10 * np.finfo(np.float64).eps


@dataclass
class EMResult:
    """Mixture parameters in scikit-learn's layout and how EM got there.

    precisions_cholesky holds, per component, the upper-triangular U with U @ U.T = precision
    ("full", shape (k, d, d)) or 1 / sqrt(variance) ("diag", shape (k, d)).
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray
    lower_bound: float = -np.inf
    lower_bounds: list = field(default_factory=list)
    n_iter: int = 0
    converged: bool = False

    @property
    def covariance_type(self) -> str:
        return "full" if self.precisions_cholesky.ndim == 3 else "diag"


def _float64(a):
    return np.ascontiguousarray(a, dtype=np.float64)


def covariances_from_precisions_cholesky(precisions_cholesky):
    """The covariances that precisions_cholesky factor (full: inv(U @ U.T); diag: 1 / U**2)."""
    if precisions_cholesky.ndim == 2:
        return 1.0 / precisions_cholesky**2
    return np.linalg.inv(precisions_cholesky @ np.swapaxes(precisions_cholesky, 1, 2))


def fit_em(X, weights, means, precisions_cholesky, *, covariance_type, reg_covar, tol, max_iter, n_threads,
           previous_lower_bound=-np.inf, verbose=False) -> EMResult:
    """EM from the given parameters (precisions_cholesky as scikit-learn stores them).

    X must be a validated float32 or float64 array (made C-contiguous if it is not); float32 is
    read as is and accumulated in float64. Each iteration is an E-step followed by an M-step;
    lower_bounds[i] is the mean log-likelihood of iteration i's E-step, so the returned
    parameters are one M-step newer than lower_bound. EM stops once |lower_bound - previous| < tol, where the first
    iteration compares against previous_lower_bound (-inf unless warm-starting).
    """
    out = _core.gmm_em(np.ascontiguousarray(X), _float64(weights), _float64(means), _float64(precisions_cholesky),
                       covariance_type=covariance_type, reg_covar=float(reg_covar), tol=float(tol),
                       max_iter=int(max_iter), previous_lower_bound=float(previous_lower_bound),
                       n_threads=effective_n_threads(n_threads), verbose=bool(verbose))
    covariances = out["covariances"]
    if out["n_iter"] == 0:  # no M-step ran: derive them from the given precisions
        covariances = covariances_from_precisions_cholesky(out["precisions_cholesky"])
    return EMResult(weights=out["weights"], means=out["means"], covariances=covariances,
                    precisions_cholesky=out["precisions_cholesky"], lower_bound=float(out["lower_bound"]),
                    lower_bounds=out["lower_bounds"].tolist(), n_iter=int(out["n_iter"]),
                    converged=bool(out["converged"]))


def weighted_log_probabilities(X, params: EMResult, n_threads=None):
    """(log(weight_k) + log N(x | k) of shape (n, k), its log-sum-exp over k of shape (n,))."""
    out = _core.gmm_log_prob(np.ascontiguousarray(X), _float64(params.weights), _float64(params.means),
                             _float64(params.precisions_cholesky), covariance_type=params.covariance_type,
                             n_threads=effective_n_threads(n_threads))
    return out["weighted_log_prob"], out["log_prob_norm"]


def log_responsibilities(X, params: EMResult, n_threads=None):
    """(log p(x) per sample of shape (n,), log responsibilities of shape (n, k))."""
    weighted, log_prob_norm = weighted_log_probabilities(X, params, n_threads)
    return log_prob_norm, _log_resp(weighted, log_prob_norm)


def _log_resp(weighted, log_prob_norm):
    """Log responsibilities: the weighted log probabilities minus their log-sum-exp."""
    with np.errstate(under="ignore"):
        return weighted - log_prob_norm[:, np.newaxis]


def n_parameters(n_components, n_features, covariance_type) -> int:
    """Free parameters of the mixture: covariances, means and n_components - 1 weights."""
    if covariance_type == "full":
        covariance = n_components * n_features * (n_features + 1) // 2
    elif covariance_type == "diag":
        covariance = n_components * n_features
    else:
        check_choice(covariance_type, "covariance_type", COVARIANCE_TYPES)
    return int(covariance + n_components * n_features + n_components - 1)


def precisions_cholesky_from_precisions(precisions, covariance_type):
    """scikit-learn's precisions_cholesky_ for given precisions: the upper-triangular U with
    U @ U.T = P, the lower Cholesky factor of P with rows and columns reversed, reversed back."""
    if covariance_type == "diag":
        return np.sqrt(precisions)
    flipped = np.linalg.cholesky(precisions[:, ::-1, ::-1])
    return np.ascontiguousarray(flipped[:, ::-1, ::-1])


class GaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture model fitted by expectation-maximisation.

    The semantics are scikit-learn's GaussianMixture (same parameters, attributes, EM loop,
    convergence test and initialisations) for ``covariance_type`` "full" and "diag"; the E- and
    M-steps run in C++ in one fused pass over the data per iteration, on all threads. float32
    data is read as float32 (never copied to float64) and accumulated in float64; the fitted
    parameters are float64.

    Parameters
    ----------
    n_components : int, default=1
    covariance_type : {"full", "diag"}, default="full"
        One general covariance matrix per component, or one diagonal (a variance per feature).
    tol : float, default=1e-3
        EM stops once the mean log-likelihood changes by less than tol between iterations.
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance, keeping them positive definite.
    max_iter : int, default=100
        EM iterations per initialisation (0: keep the initial parameters).
    n_init : int, default=1
        Initialisations; the fit with the highest final lower bound is kept.
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}, default="kmeans"
        How initial responsibilities are made: k-means labels (vecclust's k-means with
        k-means++ seeding), k-means++ seed points, random responsibilities, or random data points.
    weights_init, means_init, precisions_init : array-like, optional
        Initial weights (n_components,), means (n_components, n_features) and precisions
        (inverse covariances: (n_components, n_features, n_features) for "full",
        (n_components, n_features) for "diag"); each replaces what init_params would give.
    random_state : int, RandomState or None
        Seeds the initialisation and ``sample``.
    warm_start : bool, default=False
        If True, a new fit starts from the previous fit's parameters (one initialisation).
    verbose : int, default=0
        If > 0, print each initialisation and each EM iteration's lower bound and change.
    n_threads : int or None
        Threads to use at most (None: all CPUs); small data uses fewer (one per 4096 samples),
        as waking threads would cost more than they save. Results do not depend on it.

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_ : ndarray
        The fitted parameters, shaped as in scikit-learn.
    converged_ : bool
    n_iter_ : int
        EM iterations of the best initialisation.
    lower_bound_ : float
        Mean log-likelihood of the training data at the last E-step of the best initialisation.
    lower_bounds_ : list of float
        The lower bound of every iteration of the best initialisation.
    n_features_in_ : int
    feature_names_in_ : ndarray
        Only when X has string feature names.
    """

    lower_bound_: float  # set by fit; declared for type checkers, which meet it in a warm start first

    _parameter_constraints = {
        "n_components": Integer(1, INT64_MAX),
        "covariance_type": Options(COVARIANCE_TYPES),
        "tol": Real(0),
        "reg_covar": Real(0),
        "max_iter": Integer(0, INT64_MAX),
        "n_init": Integer(1),
        "init_params": Options(INIT_PARAMS),
        "weights_init": None,
        "means_init": None,
        "precisions_init": None,
        "random_state": None,
        "warm_start": Boolean(),
        "verbose": Boolean(int_ok=True),
        "n_threads": None,
    }

    def __init__(self, n_components: int = 1, *, covariance_type: Literal["full", "diag"] = "full", tol: float = 1e-3,
                 reg_covar: float = 1e-6, max_iter: int = 100, n_init: int = 1,
                 init_params: Literal["kmeans", "k-means++", "random", "random_from_data"] = "kmeans",
                 weights_init: ArrayLike | None = None, means_init: ArrayLike | None = None,
                 precisions_init: ArrayLike | None = None, random_state: Seed = None, warm_start: bool = False,
                 verbose: int = 0, n_threads: NThreads = None) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.n_threads = n_threads

    # ------------------------------------------------------------------ fitting

    def fit(self, X: ArrayLike, y: object = None) -> Self:
        """Estimate the parameters with EM (``n_init`` times, keeping the best).

        Returns
        -------
        self
        """
        self.fit_predict(X, y)
        return self

    def fit_predict(self, X: ArrayLike, y: object = None) -> IntArray:
        """Fit, then return the most probable component of each training sample."""
        validate_params(self)
        X = validate_data(self, native_byte_order(X), dtype=[np.float64, np.float32], order="C", ensure_min_samples=2)
        check_squared_range(X, "GaussianMixture")
        n_samples, n_features = X.shape
        k = self.n_components
        if n_samples < k:
            raise ValueError(f"Expected n_samples >= n_components but got n_components = {k}, "
                             f"n_samples = {n_samples}")
        given = self._checked_initial_values(n_features)
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        if not do_init:
            self._check_warm_start(n_features)
        n_threads = effective_n_threads(self.n_threads)
        random_state = check_random_state(self.random_state)

        best: EMResult | None = None
        converged = False
        for init in range(self.n_init if do_init else 1):
            if self.verbose:
                print(f"Initialization {init}", flush=True)
            if do_init:
                start = self._initial_parameters(X, random_state, given, n_threads)
                previous_lower_bound = -np.inf
            else:
                start = EMResult(self.weights_, self.means_, self.covariances_, self.precisions_cholesky_)
                previous_lower_bound = self.lower_bound_
            if self.max_iter == 0:
                best = start
                continue
            result = fit_em(X, start.weights, start.means, start.precisions_cholesky,
                            covariance_type=self.covariance_type, reg_covar=self.reg_covar, tol=self.tol,
                            max_iter=self.max_iter, n_threads=n_threads, previous_lower_bound=previous_lower_bound,
                            verbose=bool(self.verbose))
            if self.verbose:
                print(f"Initialization {'converged' if result.converged else 'did not converge'}.", flush=True)
            if best is None or result.lower_bound > best.lower_bound:
                best, converged = result, result.converged

        if not converged and self.max_iter > 0:
            warnings.warn("Best performing initialization did not converge. Try different init parameters, "
                          "or increase max_iter, tol, or check for degenerate data.", ConvergenceWarning,
                          stacklevel=2)
        assert best is not None  # n_init >= 1, so the loop ran
        self._set_parameters(best)
        self.converged_ = converged
        self.n_iter_ = best.n_iter
        self.lower_bound_ = best.lower_bound
        self.lower_bounds_ = list(best.lower_bounds)
        _, log_resp = log_responsibilities(X, self._params(), n_threads)
        return np.argmax(log_resp, axis=1)

    def _checked_initial_values(self, n_features):
        """Validated float64 copies of weights_init, means_init and precisions_init (or None)."""
        k, covariance_type = self.n_components, self.covariance_type
        weights = means = precisions = None
        if self.weights_init is not None:
            weights = check_array(self.weights_init, dtype=[np.float64, np.float32], ensure_2d=False)
            _check_shape(weights, (k,), "weights")
            if np.any(weights < 0) or np.any(weights > 1):
                raise ValueError(f"The parameter 'weights' should be in the range [0, 1], but got max value "
                                 f"{weights.max():.5f}, min value {weights.min():.5f}")
            atol = 1e-6 if weights.dtype == np.float32 else 1e-8
            if abs(1.0 - float(np.sum(weights))) > atol:
                raise ValueError(f"The parameter 'weights' should be normalized, but got sum(weights) = "
                                 f"{np.sum(weights):.5f}")
            weights = _float64(weights)
        if self.means_init is not None:
            means = check_array(self.means_init, dtype=[np.float64, np.float32], ensure_2d=False)
            _check_shape(means, (k, n_features), "means")
            means = _float64(means)
        if self.precisions_init is not None:
            precisions = check_array(self.precisions_init, dtype=[np.float64, np.float32], ensure_2d=False,
                                     allow_nd=covariance_type == "full")
            shape = (k, n_features, n_features) if covariance_type == "full" else (k, n_features)
            _check_shape(precisions, shape, f"{covariance_type} precision")
            precisions = _float64(precisions)
            if covariance_type == "diag":
                if np.any(precisions <= 0):
                    raise ValueError("'diag precision' should be positive")
            elif not all(np.allclose(p, p.T) and np.all(np.linalg.eigvalsh(p) > 0) for p in precisions):
                raise ValueError("'full precision' should be symmetric, positive-definite")
        return weights, means, precisions

    def _check_warm_start(self, n_features):
        expected = (self.n_components, n_features)
        if self.means_.shape != expected or self.precisions_cholesky_.ndim != (3 if self.covariance_type == "full" else 2):
            raise ValueError(f"warm_start continues the previous fit, which had n_components="
                             f"{self.means_.shape[0]}, {self.means_.shape[1]} features and covariance_type="
                             f"{'full' if self.precisions_cholesky_.ndim == 3 else 'diag'}; these must not change "
                             "(set warm_start=False to start over)")

    def _initial_parameters(self, X, random_state, given, n_threads) -> EMResult:
        """scikit-learn's initialisation: parameters from init_params' responsibilities, each
        replaced by weights_init / means_init / precisions_init when given."""
        weights_init, means_init, precisions_init = given
        if precisions_init is not None:
            precisions_cholesky = precisions_cholesky_from_precisions(precisions_init, self.covariance_type)
            covariances = covariances_from_precisions_cholesky(precisions_cholesky)
        if weights_init is None or means_init is None or precisions_init is None:
            start = self._parameters_from_init_params(X, random_state, n_threads)
            weights_init = start.weights if weights_init is None else weights_init
            means_init = start.means if means_init is None else means_init
            if precisions_init is None:
                precisions_cholesky, covariances = start.precisions_cholesky, start.covariances
        return EMResult(weights=weights_init, means=means_init, covariances=covariances,
                        precisions_cholesky=precisions_cholesky)

    def _parameters_from_init_params(self, X, random_state, n_threads) -> EMResult:
        n_samples = X.shape[0]
        k, covariance_type, reg_covar = self.n_components, self.covariance_type, self.reg_covar

        def from_responsibilities(data, resp=None, labels=None):
            out = _core.gmm_parameters_from_responsibilities(data, resp=resp, labels=labels, n_components=k,
                                                             covariance_type=covariance_type, reg_covar=reg_covar,
                                                             n_threads=n_threads)
            return EMResult(out["weights"], out["means"], out["covariances"], out["precisions_cholesky"])

        if self.init_params == "kmeans":
            return from_responsibilities(X, labels=_kmeans_labels(X, k, random_state, n_threads))
        if self.init_params == "random":
            resp = random_state.uniform(size=(n_samples, k))
            resp /= resp.sum(axis=1)[:, np.newaxis]
            return from_responsibilities(X, resp=resp)
        # One seed point per component, responsibility 1: mean = the point, covariance = reg_covar
        # (computed exactly as for the full responsibility matrix, which is zero elsewhere).
        if self.init_params == "random_from_data":
            seeds = X[random_state.choice(n_samples, size=k, replace=False)]
        else:
            seeds = _core.kmeans_plusplus(X, n_clusters=k, seed=seed_from(random_state), sample_weight=None,
                                          n_threads=n_threads)
        params = from_responsibilities(np.ascontiguousarray(seeds), resp=np.eye(k))
        params.weights = np.full(k, (1.0 + COUNT_EPSILON) / n_samples)  # nk / n_samples, as scikit-learn
        return params

    def _set_parameters(self, params: EMResult):
        self.weights_ = params.weights
        self.means_ = params.means
        self.covariances_ = params.covariances
        self.precisions_cholesky_ = params.precisions_cholesky
        if params.precisions_cholesky.ndim == 3:
            self.precisions_ = params.precisions_cholesky @ np.swapaxes(params.precisions_cholesky, 1, 2)
        else:
            self.precisions_ = params.precisions_cholesky**2

    def _params(self) -> EMResult:
        return EMResult(self.weights_, self.means_, self.covariances_, self.precisions_cholesky_)

    # ------------------------------------------------------------------ inference

    def _validated(self, X):
        check_is_fitted(self)
        X = validate_data(self, native_byte_order(X), dtype=[np.float64, np.float32], order="C", reset=False)
        check_squared_range(X, "GaussianMixture")
        return X

    def _log_probabilities(self, X):
        return weighted_log_probabilities(self._validated(X), self._params(), self.n_threads)

    @lazy_on_dask(np.int64)
    def predict(self, X: ArrayLike) -> IntArray:
        """The most probable component of each sample."""
        weighted, _ = self._log_probabilities(X)
        return np.argmax(weighted, axis=1)

    @lazy_on_dask(np.float64, columns=lambda self: len(self.weights_))
    def predict_proba(self, X: ArrayLike) -> FloatArray:
        """Posterior probability of each component for each sample, shape (n_samples, n_components)."""
        weighted, log_prob_norm = self._log_probabilities(X)
        with np.errstate(under="ignore"):
            return np.exp(_log_resp(weighted, log_prob_norm))

    @lazy_on_dask(np.float64)
    def score_samples(self, X: ArrayLike) -> FloatArray:
        """Log-likelihood of each sample under the model, shape (n_samples,)."""
        return self._log_probabilities(X)[1]

    def score(self, X: ArrayLike, y: object = None) -> float:
        """Mean log-likelihood of the samples."""
        return float(np.mean(self.score_samples(X)))

    def _n_parameters(self):
        return n_parameters(self.n_components, self.means_.shape[1], self.covariance_type)

    def bic(self, X: ArrayLike) -> float:
        """Bayesian information criterion, -2 log L + n_parameters log n: lower is better."""
        score = self.score(X)  # validates X
        n = np.shape(X)[0]
        return -2 * score * n + self._n_parameters() * math.log(n)

    def aic(self, X: ArrayLike) -> float:
        """Akaike information criterion, -2 log L + 2 n_parameters: lower is better."""
        score = self.score(X)
        return -2 * score * np.shape(X)[0] + 2 * self._n_parameters()

    def icl(self, X: ArrayLike) -> float:
        """Integrated completed likelihood criterion, as a penalty like ``bic``: lower is better.

        ICL = BIC + 2 * E, with E = -sum_i sum_k r_ik log r_ik the entropy of the posterior
        responsibilities r (the classification entropy), so overlapping components that BIC
        accepts are penalised (Biernacki, Celeux and Govaert, 2000; their -2 log ICL).
        """
        weighted, log_prob_norm = self._log_probabilities(X)
        n = len(log_prob_norm)
        log_resp = _log_resp(weighted, log_prob_norm)
        with np.errstate(under="ignore"):
            resp = np.exp(log_resp)
        entropy = -float(np.sum(np.where(resp > 0, resp * log_resp, 0.0)))
        bic = -2 * float(np.mean(log_prob_norm)) * n + self._n_parameters() * math.log(n)
        return bic + 2 * entropy

    def sample(self, n_samples: int = 1) -> tuple[FloatArray, IntArray]:
        """Draw samples from the fitted mixture (seeded by random_state).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
            The component each sample was drawn from (samples are grouped by component).
        """
        check_is_fitted(self)
        if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < 1:
            raise ValueError(f"Invalid value for 'n_samples': {n_samples!r}. The sampling requires at least one "
                             "sample.")
        n_features = self.means_.shape[1]
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_)
        if self.covariance_type == "full":
            parts = [rng.multivariate_normal(mean, covariance, int(count))
                     for mean, covariance, count in zip(self.means_, self.covariances_, counts)]
        else:
            parts = [mean + rng.standard_normal(size=(count, n_features)) * np.sqrt(variance)
                     for mean, variance, count in zip(self.means_, self.covariances_, counts)]
        labels = np.concatenate([np.full(count, i, dtype=np.int64) for i, count in enumerate(counts)])
        return np.vstack(parts), labels


def _check_shape(array, shape, name):
    if array.shape != shape:
        raise ValueError(f"The parameter '{name}' should have the shape of {shape}, but got {array.shape}")


def _kmeans_labels(X, k, random_state, n_threads):
    """Labels of vecclust's k-means (k-means++ seeding, scikit-learn's default tolerance: 1e-4
    times the mean feature variance)."""
    centers = _core.kmeans_plusplus(X, n_clusters=k, seed=seed_from(random_state), sample_weight=None,
                                     n_threads=n_threads)
    tol = 1e-4 * float(np.mean(np.var(X, axis=0, dtype=np.float64)))
    return _core.kmeans(X, centers, sample_weight=None, max_iter=300, tol=tol, algorithm="hamerly",
                        n_threads=n_threads)["labels"]
