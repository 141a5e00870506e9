"""predict/transform on dask arrays for the in-memory estimators: the method applied to each
block lazily (one map_blocks). A dask array is recognised without importing dask: only if
dask.array is already imported can X be one."""

from __future__ import annotations

import copy
import functools
import sys

import numpy as np
from sklearn.utils.validation import check_is_fitted


def is_dask_array(X) -> bool:
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(X, module.Array)


def lazy_on_dask(dtype=None, columns=None):
    """Decorates a method of one array X: for a dask array (chunked by rows only), the method
    runs per block when the result is computed. dtype: the result's (None: X's); columns: a
    function of the estimator giving the number of columns of a 2-d result (None: one value
    per row). NaN or infinity in a block is an error naming the block."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, X, *args, **kwargs):
            if not is_dask_array(X):
                return method(self, X, *args, **kwargs)
            from .._dask.blocks import check_data, lazy_rows

            check_is_fitted(self)
            X = check_data(X, getattr(self, "n_features_in_", None))
            out = np.dtype(X.dtype if dtype is None else dtype)
            n_columns = None if columns is None else int(columns(self))
            # The workers get the estimator without its training labels (n values, unused here).
            fitted = copy.copy(self)
            vars(fitted).pop("labels_", None)
            return lazy_rows(X, _apply, out, n_columns, method=method, estimator=fitted, args=args, kwargs=kwargs)

        return wrapper

    return decorate


def _apply(block, index, offset, method, estimator, args, kwargs):
    from .._dask.blocks import finite_block

    return method(estimator, finite_block(block, index, offset), *args, **kwargs)
