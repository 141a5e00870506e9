"""Argument checks and conversions shared by the public functions and estimators.

Every parameter is checked once, here in Python: each estimator declares a constraint per
parameter in `_parameter_constraints` (as scikit-learn does) and calls `validate_params` in
`fit`; public functions check theirs with the same constraint objects. The bindings check only
what memory safety needs (dtype, contiguity, shape). Upper limits default to what the C++ type
receiving the value can hold, so an out-of-range integer gets a message naming the limit
instead of pybind11's "incompatible function arguments".
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, overload

import numpy as np
from numpy.typing import ArrayLike, DTypeLike
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from .hints import Seed


_T = TypeVar("_T")

INT32_MAX = 2**31 - 1  # a C++ int
INT64_MAX = 2**63 - 1  # index_t and the other 64-bit counts


@dataclass(frozen=True)
class Integer:
    """An int (not a bool) in [low, high]; None too when none_ok."""

    low: int | None = None
    high: int | None = INT64_MAX
    none_ok: bool = False

    def __call__(self, value: object, name: str) -> int | None:
        if value is None and self.none_ok:
            return None
        return self.check(value, name)

    def check(self, value: object, name: str) -> int:
        """`value` as an int in range; None is refused here whatever none_ok says."""
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an int{' or None' if self.none_ok else ''}, got {value!r}")
        number = int(value)
        if self.low is not None and number < self.low:
            raise ValueError(f"{name}={value} must be >= {self.low}")
        if self.high is not None and number > self.high:
            raise ValueError(f"{name}={value} must be <= {self.high}")
        return number


@dataclass(frozen=True)
class Real:
    """A finite real number (not a bool) in [low, high] (open at low when low_open, at high when high_open)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    none_ok: bool = False
    high_open: bool = False

    def __call__(self, value: object, name: str) -> float | None:
        if value is None and self.none_ok:
            return None
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a finite number, got {value!r}")
        if not math.isfinite(value):  # the right type, a wrong value (as scikit-learn has it)
            raise ValueError(f"{name}={value} must be a finite number")
        number = float(value)
        if self.low is not None and (number <= self.low if self.low_open else number < self.low):
            raise ValueError(f"{name}={value} must be {'>' if self.low_open else '>='} {self.low}")
        if self.high is not None and (number >= self.high if self.high_open else number > self.high):
            raise ValueError(f"{name}={value} must be {'<' if self.high_open else '<='} {self.high}")
        return number


@dataclass(frozen=True)
class Options:
    """One of a fixed tuple of strings (the one source of that choice list)."""

    values: tuple[str, ...]
    none_ok: bool = False

    def __call__(self, value: object, name: str) -> str | None:
        if value is None and self.none_ok:
            return None
        return check_choice(value, name, self.values)


@dataclass(frozen=True)
class Boolean:
    """True or False; any int too when int_ok (a verbosity level, used as a flag)."""

    int_ok: bool = False

    def __call__(self, value: object, name: str) -> bool:
        if not isinstance(value, (bool, np.bool_, numbers.Integral) if self.int_ok else (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False{' or an int' if self.int_ok else ''}, got {value!r}")
        return bool(value)


def validate_params(estimator: BaseEstimator) -> dict[str, Any]:
    """Checks every parameter of `estimator` against its class's `_parameter_constraints` and
    returns the checked values by name. A parameter whose constraint is None is passed as is
    (a random_state, an init array: checked where they are used)."""
    params = estimator.get_params(deep=False)
    checked = {}
    for name, constraint in type(estimator)._parameter_constraints.items():
        value = params[name]
        checked[name] = value if constraint is None else constraint(value, name)
    return checked


MAX_THREADS_PER_CPU = 4  # more only costs thread start-up time (results never depend on the count)


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def effective_n_threads(n_threads: object) -> int:
    """None means every CPU this process may use; -1 the same, -2 all but one, and so on. A
    count above MAX_THREADS_PER_CPU threads per CPU is lowered to that."""
    available = available_cpus()
    if n_threads is None:
        return available
    if isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral):
        raise TypeError(f"n_threads must be None or an int, got {n_threads!r}")
    if n_threads == 0:
        raise ValueError("n_threads=0 is not allowed; use None for all CPUs or a positive count")
    count = int(n_threads)
    if count < 0:
        return max(1, available + 1 + count)
    if count > INT32_MAX:
        raise ValueError(f"n_threads={n_threads} must be <= {INT32_MAX}")
    return min(count, MAX_THREADS_PER_CPU * available)


def seed_from(random_state: Seed) -> int:
    """A 64-bit seed for the C++ generator, drawn from anything check_random_state accepts."""
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def check_int(value: object, name: str, minimum: int, maximum: int = INT64_MAX) -> int:
    return Integer(minimum, maximum).check(value, name)


def check_choice(value: object, name: str, options: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(map(repr, options))}")
    return value


@overload
def native_byte_order(X: np.ndarray) -> np.ndarray: ...
@overload
def native_byte_order(X: _T) -> _T: ...
def native_byte_order(X: object) -> object:
    """Float arrays in non-native byte order, converted without changing precision (scikit-learn
    would otherwise turn big-endian float32 into float64)."""
    if isinstance(X, np.ndarray) and X.dtype.kind == "f" and not X.dtype.isnative:
        return X.astype(X.dtype.newbyteorder("="))
    return X


def check_weights(sample_weight: ArrayLike | None, n_samples: int, dtype: DTypeLike) -> np.ndarray | None:
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight, dtype=dtype)
    if weights.ndim == 0:
        weights = np.full(n_samples, weights, dtype=dtype)
    if weights.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},), got {weights.shape}")
    if not np.all(np.isfinite(weights)):
        raise ValueError("sample_weight contains NaN or infinity")
    if np.any(weights < 0):
        raise ValueError("sample_weight must be non-negative")
    if not np.any(weights > 0):
        raise ValueError("sample_weight must not be all zero: every clustering would have loss 0")
    return np.ascontiguousarray(weights)


def physical_memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 << 30
