"""Clustered float32 data written once as .npy blocks in a cache directory outside the
repository, and read back from disk as a dask array (one task per block, loaded each pass).

The data are Gaussian blobs with unequal sizes (Zipf-like weights) and unequal spreads
(log-normal standard deviations), means uniform in (-10, 10)^d. Each block is generated from
its own seed, one at a time, so writing n rows never holds more than one block; a manifest
written last marks a complete cache, and a later run with the same parameters reuses it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

CACHE_ENV = "VECCLUST_BENCH_CACHE"


def cache_root():
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "vecclust-bench")) / "dask"


@dataclass(frozen=True)
class Blobs:
    n: int
    d: int
    centers: int
    rows_per_block: int
    seed: int = 0

    @property
    def name(self):
        return f"blobs-n{self.n}-d{self.d}-c{self.centers}-b{self.rows_per_block}-s{self.seed}"

    def model(self):
        """Means, standard deviations and weights of the blobs."""
        rng = np.random.default_rng([self.seed, 0])
        means = rng.uniform(-10, 10, size=(self.centers, self.d))
        stds = np.exp(rng.normal(np.log(1.0), 0.4, size=self.centers)).clip(0.3, 2.5)
        weights = 1.0 / np.arange(1, self.centers + 1) ** 0.8
        return means, stds, weights[rng.permutation(self.centers)] / weights.sum()

    def block_sizes(self):
        return [min(self.rows_per_block, self.n - s) for s in range(0, self.n, self.rows_per_block)]

    def block(self, index, size):
        means, stds, weights = self.model()
        rng = np.random.default_rng([self.seed, 1, index])
        labels = rng.choice(self.centers, size=size, p=weights)
        rows = rng.standard_normal((size, self.d), dtype=np.float32)
        rows *= stds[labels, None].astype(np.float32)
        rows += means[labels].astype(np.float32)
        return rows


def ensure(spec, log=print):
    """The directory of spec's blocks, written first if no complete cache exists."""
    path = cache_root() / spec.name
    manifest = path / "manifest.json"
    if manifest.exists() and json.loads(manifest.read_text()) == asdict(spec):
        return path
    path.mkdir(parents=True, exist_ok=True)
    sizes = spec.block_sizes()
    for index, size in enumerate(sizes):
        np.save(path / f"{index:05d}.npy", spec.block(index, size))
        if log and (index + 1) % max(1, len(sizes) // 10) == 0:
            log(f"written {index + 1}/{len(sizes)} blocks of {spec.name}")
    manifest.write_text(json.dumps(asdict(spec)))
    return path


def block_paths(path):
    spec = Blobs(**json.loads((Path(path) / "manifest.json").read_text()))
    return spec, [Path(path) / f"{i:05d}.npy" for i in range(len(spec.block_sizes()))]


def open_dask(path):
    """The blocks as a dask array read from disk by the task that needs them (nothing persisted)."""
    import dask
    import dask.array as da

    spec, paths = block_paths(path)
    load = dask.delayed(np.load, pure=True)
    parts = [da.from_delayed(load(str(p)), (size, spec.d), np.float32)
             for p, size in zip(paths, spec.block_sizes())]
    return da.concatenate(parts)


def load_numpy(path):
    """All the rows in one numpy array (for the in-memory references)."""
    spec, paths = block_paths(path)
    out = np.empty((spec.n, spec.d), dtype=np.float32)
    start = 0
    for p in paths:
        block = np.load(p, mmap_mode="r")
        out[start:start + len(block)] = block
        start += len(block)
    return out
