"""The data sets of the PPP quality benchmark (all generated or bundled with scikit-learn).

Every set has a group:

* "well-separated blobs": make_blobs grid sets whose clusters barely overlap, defined
  objectively: the nearest-true-centre labelling (the Bayes rule for equal spherical
  clusters) reaches ARI >= 0.995. Every set with d >= 10 and cluster_std <= 1 (centres drawn
  uniformly in the box (-10, 10)^d) qualifies, as do most with d >= 10 and cluster_std = 2 and
  a few 2-d ones. That `oracle_ari` is recorded for every blob set.
* "overlapping": the other grid sets (oracle ARI < 0.995; mostly d = 2).
* "anisotropic/varied": scikit-learn's k-means-assumptions example sets (random_state=170):
  anisotropic blobs (X @ [[0.6, -0.6], [-0.4, 0.8]]), varied spreads (cluster_std
  [1.0, 2.5, 0.5]) and unequal sizes ([1000, 200, 50] points).
* "null": one Gaussian (d = 2, 10, 50) and a uniform cube (d = 2, 10), several seeds each;
  the expected number of clusters is 1.
* "real": iris, wine, breast cancer and digits, standardised (StandardScaler). The true k is
  the number of target classes. (Raw digits is available, `real_sets(raw_digits=True)`, but
  not in the default run: the GMM-BIC sweep alone takes ~30 s per fit on it.)

The blob grid: k in {1, 2, 3, 5, 10, 20, 30}, d in {2, 10, 50}, cluster_std in {1.0, 2.0},
n = max(1000, 100 k); data seed 0, and also 1 for d = 2 (how much 2-d blobs overlap depends
on the draw of the centres, while every d >= 10 draw is separated). Null sets: one Gaussian
with seeds 0-3, uniform cube with seeds 0-1, 1000 points each. `datasets(quick=True)` is a
subset for a smoke run (BENCH_QUICK). The sizes keep the full run under 15 minutes on two cores,
most of it the GMM-BIC sweep.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn import datasets as skdatasets
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

WELL_SEPARATED = "well-separated blobs"
OVERLAPPING = "overlapping"
SHAPES = "anisotropic/varied"
NULL = "null"
REAL = "real"
GROUPS = (WELL_SEPARATED, OVERLAPPING, SHAPES, NULL, REAL)
BLOB_GROUPS = (WELL_SEPARATED, OVERLAPPING)  # together: the blob grid

CENTER_BOX = (-10.0, 10.0)
BLOB_KS = (1, 2, 3, 5, 10, 20, 30)
BLOB_DIMS = (2, 10, 50)
BLOB_STDS = (1.0, 2.0)
BLOB_SEEDS = {2: (0, 1), 10: (0,), 50: (0,)}  # data seeds by dimension
GAUSSIAN_SEEDS = (0, 1, 2, 3)
UNIFORM_SEEDS = (0, 1)
NULL_N = 1000
EXAMPLE_SEED = 170  # scikit-learn's k-means assumptions example
ANISOTROPIC_TRANSFORM = ((0.6, -0.6), (-0.4, 0.8))


@dataclass
class Dataset:
    name: str
    group: str
    X: np.ndarray  # float64, C-contiguous
    y: np.ndarray  # the true labels
    params: dict = field(default_factory=dict)
    oracle_ari: float | None = None  # ARI of the nearest-true-centre labelling (blobs only)

    @property
    def n_clusters(self):
        return len(np.unique(self.y))


SEPARATED_ORACLE_ARI = 0.995  # the "well-separated" criterion on the Bayes-rule ARI


def blob_size(k):
    return max(1000, 100 * k)


def make_blob_set(k, n_features, cluster_std, seed):
    n = blob_size(k)
    X, y, centers = skdatasets.make_blobs(n_samples=n, n_features=n_features, centers=k, cluster_std=cluster_std,
                                          center_box=CENTER_BOX, random_state=seed, return_centers=True)
    nearest = ((X[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
    oracle_ari = float(adjusted_rand_score(y, nearest))
    group = WELL_SEPARATED if oracle_ari >= SEPARATED_ORACLE_ARI else OVERLAPPING
    return Dataset(f"blobs k={k} d={n_features} std={cluster_std:g} seed={seed}", group, _c(X), y,
                   dict(kind="blobs", k=k, d=n_features, cluster_std=cluster_std, n=n, seed=seed),
                   oracle_ari=oracle_ari)


def shape_sets():
    """The three sets of scikit-learn's "demonstration of k-means assumptions" example."""
    X, y = skdatasets.make_blobs(n_samples=1500, random_state=EXAMPLE_SEED)
    anisotropic = Dataset("anisotropic", SHAPES, _c(X @ np.array(ANISOTROPIC_TRANSFORM)), y,
                          dict(kind="anisotropic", n=1500, seed=EXAMPLE_SEED))
    X, y = skdatasets.make_blobs(n_samples=1500, cluster_std=[1.0, 2.5, 0.5], random_state=EXAMPLE_SEED)
    varied = Dataset("varied spreads (std 1, 2.5, 0.5)", SHAPES, _c(X), y,
                     dict(kind="varied", n=1500, cluster_std=[1.0, 2.5, 0.5], seed=EXAMPLE_SEED))
    X, y = skdatasets.make_blobs(n_samples=[1000, 200, 50], random_state=EXAMPLE_SEED)
    unequal = Dataset("unequal sizes (1000, 200, 50)", SHAPES, _c(X), y,
                      dict(kind="unequal", n=1250, sizes=[1000, 200, 50], seed=EXAMPLE_SEED))
    return [anisotropic, varied, unequal]


def null_sets(dims_gaussian=(2, 10, 50), dims_uniform=(2, 10), gaussian_seeds=GAUSSIAN_SEEDS,
              uniform_seeds=UNIFORM_SEEDS):
    out = []
    for d in dims_gaussian:
        for seed in gaussian_seeds:
            X = np.random.default_rng(seed).standard_normal((NULL_N, d))
            out.append(Dataset(f"one Gaussian d={d} seed={seed}", NULL, _c(X), np.zeros(NULL_N, dtype=np.intp),
                               dict(kind="gaussian", d=d, n=NULL_N, seed=seed)))
    for d in dims_uniform:
        for seed in uniform_seeds:
            X = np.random.default_rng(seed).uniform(-1.0, 1.0, (NULL_N, d))
            out.append(Dataset(f"uniform cube d={d} seed={seed}", NULL, _c(X), np.zeros(NULL_N, dtype=np.intp),
                               dict(kind="uniform", d=d, n=NULL_N, seed=seed)))
    return out


REAL_LOADERS = {"iris": skdatasets.load_iris, "wine": skdatasets.load_wine,
                "breast cancer": skdatasets.load_breast_cancer, "digits": skdatasets.load_digits}


def real_sets(names=tuple(REAL_LOADERS), raw_digits=False):
    out = []
    for name in names:
        bunch = REAL_LOADERS[name]()
        X = StandardScaler().fit_transform(bunch.data.astype(np.float64))
        out.append(Dataset(f"{name} (standardised)", REAL, _c(X), bunch.target,
                           dict(kind="real", source=name, scaling="standard", n=len(X), d=X.shape[1])))
    if raw_digits:
        bunch = skdatasets.load_digits()
        out.append(Dataset("digits (raw)", REAL, _c(bunch.data.astype(np.float64)), bunch.target,
                           dict(kind="real", source="digits", scaling="none", n=len(bunch.data), d=64)))
    return out


def datasets(quick=False):
    """Every set of the benchmark, or the BENCH_QUICK subset."""
    if quick:
        blobs = [make_blob_set(k, d, 1.0, 0) for k in (1, 3, 10) for d in (2, 10)]
        blobs.append(make_blob_set(5, 10, 2.0, 0))
        return (blobs + shape_sets() + null_sets((2, 10), (2,), gaussian_seeds=(0, 1), uniform_seeds=(0,))
                + real_sets(("iris", "wine")))
    blobs = [make_blob_set(k, d, std, seed)
             for k in BLOB_KS for d in BLOB_DIMS for std in BLOB_STDS for seed in BLOB_SEEDS[d]]
    return blobs + shape_sets() + null_sets() + real_sets()


def _c(X):
    return np.ascontiguousarray(X, dtype=np.float64)
