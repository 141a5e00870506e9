"""What the distributed estimators share: the checks of a dask array, one pass over its blocks
(results returned in block order, whichever worker ran which block), the data statistics
pass, per-block seeds and the lazy per-block predictions."""

from __future__ import annotations

import math
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

DEFAULT_ROWS_PER_BLOCK = 1 << 17  # for numpy input, converted to a dask array


def check_data(X, n_features=None, name="X"):
    """X as a float32 or float64 dask array chunked by rows only, with known chunk sizes
    (integers and booleans become float64; numpy input is cut into blocks of rows)."""
    if not isinstance(X, da.Array):
        X = np.asarray(X)
        if X.ndim == 2:
            X = da.from_array(X, chunks=(DEFAULT_ROWS_PER_BLOCK, -1))
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-dimensional (n_samples, n_features), got {X.ndim} dimensions")
    if X.dtype.kind not in "fiub" or X.dtype.itemsize > 8:
        raise TypeError(f"{name} must be numeric (float32 or float64 are used as they are), got dtype {X.dtype}")
    if X.dtype not in (np.float32, np.float64) or not X.dtype.isnative:
        X = X.astype(np.float32 if X.dtype == np.float32 else np.float64)
    if any(math.isnan(c) for c in X.chunks[0]):
        raise ValueError(f"{name} has unknown chunk sizes (rows per block); call {name}.compute_chunk_sizes() first")
    if X.numblocks[1] != 1:
        raise ValueError(f"{name} is split across its columns into {X.numblocks[1]} blocks; chunk it by rows only, "
                         f"e.g. {name}.rechunk({{1: -1}})")
    if X.shape[1] == 0:
        raise ValueError(f"{name} has no features")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{name} has {X.shape[1]} features, but the estimator was fitted with {n_features}")
    return X


def block_offsets(X):
    """The global index of each block's first row."""
    return np.concatenate(([0], np.cumsum(X.chunks[0])[:-1])).astype(np.int64)


def compute(tasks):
    """The results of the delayed tasks, in order: on the active distributed client if there is
    one (Ctrl-C cancels the running futures), otherwise on Dask's default scheduler."""
    try:
        from distributed import default_client
        client = default_client()
    except (ImportError, ValueError):
        return list(dask.compute(*tasks))
    futures = client.compute(list(tasks))
    try:
        return client.gather(futures)
    except KeyboardInterrupt:
        client.cancel(futures)
        raise


def over_blocks(X, func, *shared, per_block=None, **options):
    """func(block, index, offset, *shared, [per_block[index],] **options) for every block, one
    pass; the results in block order. Shared arrays enter the graph once."""
    blocks = X.to_delayed().ravel()
    offsets = block_offsets(X)
    shared = [dask.delayed(a) if isinstance(a, np.ndarray) else a for a in shared]
    tasks = []
    for i, block in enumerate(blocks):
        extra = () if per_block is None else (per_block[i],)
        tasks.append(dask.delayed(func)(block, i, int(offsets[i]), *shared, *extra, **options))
    return compute(tasks)


def block_rng(seed, *stream):
    """The generator of one block (or sample, or round): seeded by the estimator's seed and the
    indices given, so draws do not depend on which worker runs them."""
    return np.random.default_rng([seed, *stream])


def finite_block(block, index, offset):
    """The block as a C-ordered array; a ValueError naming it if it holds NaN or infinity."""
    block = np.ascontiguousarray(block)
    if not np.isfinite(block).all():
        bad = int(np.flatnonzero(~np.isfinite(block).all(axis=1))[0])
        raise ValueError(f"X contains NaN or infinity in block {index} (rows {offset} to {offset + len(block) - 1}), "
                         f"first at row {offset + bad}")
    return block


@dataclass
class DataStats:
    n: int
    mean: np.ndarray
    m2: np.ndarray  # per feature: the sum of squared deviations from the mean
    largest: float  # the largest |value|

    @property
    def mean_variance(self):
        """scikit-learn's scale of a relative k-means tol: the mean per-feature variance."""
        return float(self.m2.mean() / self.n) if self.n else 0.0

    def merged(self, other):
        """Chan et al.'s pairwise combination of two blocks' statistics."""
        n = self.n + other.n
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.n / n)
        m2 = self.m2 + other.m2 + delta * delta * (self.n * other.n / n)
        return DataStats(n, mean, m2, max(self.largest, other.largest))


def _block_stats(block, index, offset):
    block = finite_block(block, index, offset)
    d = block.shape[1]
    if len(block) == 0:
        return DataStats(0, np.zeros(d), np.zeros(d), 0.0)
    x = block.astype(np.float64)
    mean = x.mean(axis=0)
    x -= mean
    return DataStats(len(block), mean, np.einsum("ij,ij->j", x, x), float(np.abs(block).max()))


def data_stats(X):
    """One pass: every block checked to be finite (the error names the first bad block), and
    the mean, variance and largest magnitude of the data, combined in block order."""
    stats = over_blocks(X, _block_stats)
    total = stats[0]
    for s in stats[1:]:
        total = total.merged(s)
    return total


def check_range(largest, n, d, dtype):
    """Refuses data whose squared distances, summed over all points, could overflow (the in-memory
    estimators rescale such data by a power of two; the distributed ones ask for it)."""
    info = np.finfo(dtype)
    if largest == 0:
        return
    log_term = 2 * (math.log2(largest) + 1) + math.log2(d)
    if log_term >= math.log2(info.max) - 4 or log_term + math.log2(n) >= 1020:
        raise ValueError(f"X has a value of magnitude {largest:.3g}, whose squared distances over {d} features could "
                         f"exceed the range of {np.dtype(dtype)}; rescale X")


def take_rows(X, indices):
    """The rows at the given global indices (in the order given) as a numpy array."""
    indices = np.asarray(indices, dtype=np.int64)
    order = np.argsort(indices, kind="stable")
    rows = np.asarray(compute([X[indices[order]]])[0])
    out = np.empty_like(rows)
    out[order] = rows
    return np.ascontiguousarray(out)


def lazy_rows(X, func, dtype, n_columns=None, **options):
    """func(block, index, offset, **options) per block, lazily (one map_blocks): a 1-d result per
    row, or n_columns values per row. The options enter the graph once (not once per task), so a
    worker receives them once."""

    def apply(block, shared, block_info=None):
        location = block_info[0]["chunk-location"][0]
        offset = block_info[0]["array-location"][0][0]
        return func(block, location, offset, **shared)

    shared = dask.delayed(options, traverse=False)
    if n_columns is None:
        return X.map_blocks(apply, shared, dtype=dtype, drop_axis=1, meta=np.empty((0,), dtype))
    return X.map_blocks(apply, shared, dtype=dtype, chunks=(X.chunks[0], (n_columns,)),
                        meta=np.empty((0, n_columns), dtype))


def apply_fitted(estimator, X, func, dtype=None, n_columns=None, **options):
    """func(block, index, offset, centers=..., n_threads=..., **options) with the estimator's
    centres: lazily per block for a dask array, at once for anything else."""
    check_is_fitted(estimator)
    n_threads = n_threads_per_task(estimator.n_threads)
    lazy = hasattr(X, "dask")
    if lazy:
        X = check_data(X, estimator.n_features_in_)
    else:
        X = check_array(X, dtype=[np.float64, np.float32], order="C")
        if X.shape[1] != estimator.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(estimator).__name__} was fitted with "
                             f"{estimator.n_features_in_}")
    centers = np.ascontiguousarray(estimator.cluster_centers_, dtype=X.dtype)
    if lazy:
        return lazy_rows(X, func, dtype or X.dtype, n_columns, centers=centers, n_threads=n_threads, **options)
    return func(X, 0, 0, centers=centers, n_threads=n_threads, **options)


def n_threads_per_task(n_threads):
    """C++ threads per block task: 1 by default, Dask's worker threads giving the parallelism."""
    return 1 if n_threads is None else int(n_threads)
