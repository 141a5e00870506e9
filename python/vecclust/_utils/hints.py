"""Type aliases of the public signatures."""

from __future__ import annotations

from typing import Literal, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["ArrayLike", "FloatArray", "IntArray", "Medoids", "NThreads", "Seed", "KMedoidsInit"]

Seed = Union[int, np.random.RandomState, np.random.Generator, None]
NThreads = Union[int, None]  # None: all CPUs
FloatArray = NDArray[np.floating]
IntArray = NDArray[np.int64]
Medoids = Union[int, ArrayLike]  # k, or the initial medoid indices
KMedoidsInit = Literal["random", "first", "build", "lab", "k-medoids++"]
