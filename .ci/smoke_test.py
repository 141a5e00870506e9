"""Smoke test of an installed vecclust: import, one fit of each estimator and function, and an
index train/add/search/save/load, at every instruction-set level; every level must give the
same results, bit for bit. Run it from outside the source tree, so that the installed package
is the one imported. Prints one line per level and exits with status 1 on any difference."""

import hashlib
import os
import pickle
import sys
import tempfile
import time

import numpy as np

import vecclust as vc
from vecclust import _core

LEVELS = ("baseline", "avx2", "avx512")


def outputs():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=6.0, size=(5, 12))
    X = (centres[np.arange(600) % 5] + rng.normal(size=(600, 12))).astype(np.float32)
    out = {}
    m = vc.KMedoids(5, random_state=0).fit(X)
    out["KMedoids"] = (m.medoid_indices_, m.labels_, m.inertia_)
    m = vc.CLARA(5, random_state=0).fit(X)
    out["CLARA"] = (m.medoid_indices_, m.inertia_)
    m = vc.CLARANS(5, random_state=0).fit(X[:300])
    out["CLARANS"] = (m.medoid_indices_, m.inertia_)
    D = np.sqrt(((X[:200, None, :].astype(np.float64) - X[None, :200, :]) ** 2).sum(-1))
    r = vc.fasterpam(D, 5, random_state=0)
    out["fasterpam"] = (r.loss, r.medoids, r.labels)
    m = vc.KMeans(5, random_state=0).fit(X)
    out["KMeans"] = (m.cluster_centers_, m.labels_, m.inertia_, m.n_iter_)
    for covariance_type in ("full", "diag"):
        g = vc.GaussianMixture(5, covariance_type=covariance_type, random_state=0).fit(X)
        out[f"GaussianMixture {covariance_type}"] = (g.means_, g.covariances_, g.weights_, g.lower_bound_)
    p = vc.PPP().fit(X)
    out["PPP"] = (p.n_clusters_, p.labels_)
    index = vc.MultiTenantIndex(12, random_state=0).train(X)
    index.add(X[:400], ids=np.arange(400), tenant=1)
    index.add(X[400:], ids=np.arange(400, 600), tenant=2)
    index.grant(np.arange(0, 600, 7), tenant=3)
    found = index.search(X[:20], tenant=3, k=5)
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "index.vci")
        index.save(path)
        loaded = vc.MultiTenantIndex.load(path)
        with open(path, "rb") as f:
            saved = f.read()
    assert all((a == b).all() for a, b in zip(loaded.search(X[:20], tenant=3, k=5), found)), "a loaded index searches differently"
    out["MultiTenantIndex"] = (found, saved)
    return {key: hashlib.sha256(pickle.dumps(value)).hexdigest() for key, value in out.items()}


def main():
    print(f"smoke: vecclust {_core.__version__} from {os.path.dirname(vc.__file__)}")
    results = {}
    for level in LEVELS:
        _core.set_isa_limit(level)
        start = time.perf_counter()
        results[level] = outputs()
        digest = hashlib.sha256(repr(sorted(results[level].items())).encode()).hexdigest()[:16]
        print(f"smoke: limit {level:8s} runs {_core.isa_level():8s} {len(results[level])} results, digest {digest}, "
              f"{time.perf_counter() - start:.1f} s")
    _core.set_isa_limit("avx512")
    failed = False
    for level in LEVELS[1:]:
        differ = [key for key in results[level] if results[level][key] != results["baseline"][key]]
        if differ:
            failed = True
            print(f"smoke: FAILED: {level} differs from baseline in {differ}")
    print("smoke: FAILED" if failed else "smoke: passed, every level gives the same results")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
