"""Every public entry point gives identical bits at every instruction-set level.

Every vectorised kernel goes through isa::dispatch, which `set_isa_limit` caps, so lowering
the limit runs the whole surface on the narrower code paths. Each level must reproduce the
widest level's outputs byte for byte (same labels, centres, losses, distances, index files).
"""

import pickle

import numpy as np
import pytest
from sklearn.datasets import make_blobs

import vecclust as vc
from vecclust import _core


def surface(dtype):
    """The outputs of every estimator, function and index operation on one small data set (13
    features: every kernel has a vector part and a tail)."""
    X, _ = make_blobs(400, 13, centers=5, cluster_std=1.5, random_state=3)
    X = X.astype(dtype)
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(X)).astype(dtype)
    out = {}
    for metric in ("euclidean", "sqeuclidean", "manhattan", "cosine"):
        out["pairwise", metric] = _core.pairwise_distances(X[:40], X, metric=metric, n_threads=2)
        for precompute in (True, False):
            m = vc.KMedoids(5, metric=metric, precompute=precompute, random_state=0, n_threads=2).fit(X, sample_weight=w)
            out["kmedoids", metric, precompute] = (m.medoid_indices_, m.labels_, m.inertia_, m.transform(X[:30]))
        m = vc.CLARA(5, metric=metric, random_state=0, n_threads=2).fit(X)
        out["clara", metric] = (m.medoid_indices_, m.inertia_, m.sample_losses_)
        m = vc.CLARANS(5, metric=metric, random_state=0, n_threads=2).fit(X)
        out["clarans", metric] = (m.medoid_indices_, m.inertia_, m.swap_losses_)
    D = _core.pairwise_distances(X, X, metric="euclidean", n_threads=2)
    D = (D + D.T) / 2
    np.fill_diagonal(D, 0)
    for name in ("fasterpam", "fastpam1", "pam", "alternating"):
        r = getattr(vc, name)(D[:150, :150], 4, random_state=0, n_threads=2)
        out[name] = (r.loss, r.medoids, r.labels)
    for algorithm in ("lloyd", "hamerly", "elkan"):
        m = vc.KMeans(6, algorithm=algorithm, random_state=0, n_threads=2).fit(X, sample_weight=w)
        out["kmeans", algorithm] = (m.cluster_centers_, m.labels_, m.inertia_, m.n_iter_, m.transform(X[:30]))
    for covariance_type in ("full", "diag"):
        g = vc.GaussianMixture(4, covariance_type=covariance_type, random_state=0, n_threads=2).fit(X)
        out["gmm", covariance_type] = (g.means_, g.covariances_, g.weights_, g.lower_bound_, g.score_samples(X[:30]))
    p = vc.PPP(random_state=0, n_threads=2).fit(X)
    out["ppp"] = (p.labels_, p.cluster_centers_)
    if dtype == np.float32:
        for metric in ("l2", "ip", "cosine"):
            index = vc.MultiTenantIndex(X.shape[1], metric=metric, split_threshold=16, random_state=0, n_threads=2)
            index.train(X)
            for tenant in range(6):
                index.add(X[tenant::6], np.arange(tenant, len(X), 6), tenant)
            index.grant(np.arange(0, len(X), 5), 2)
            out["index", metric] = (pickle.dumps(index), index.search(X[:40], 2, k=5), index.search(X[0], 3, k=5))
    return {key: pickle.dumps(value) for key, value in out.items()}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_level_gives_the_same_bits(instruction_sets, dtype):
    if len(instruction_sets) < 2:
        pytest.skip("this CPU has only the baseline instruction set")
    results = {}
    for level in instruction_sets:
        _core.set_isa_limit(level)
        assert _core.isa_level() == level
        results[level] = surface(dtype)
    widest = instruction_sets[-1]
    for level in instruction_sets[:-1]:
        differ = [key for key in results[widest] if results[level][key] != results[widest][key]]
        assert not differ, f"{level} differs from {widest} in {differ}"
