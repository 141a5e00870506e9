"""A synthetic multi-tenant workload calibrated to real sentence embeddings.

The workload of index_workload.py has a 32-d latent structure: its top 32 principal directions
hold nearly all the variance. Real sentence embeddings spread it over hundreds of directions
(all-MiniLM-L6-v2 on Debian package descriptions: 47% in the top 32 of 384). This generator
matches that spectrum and the real tenants' shape:

* Spectrum: eigenvalues decay as (i + 1) ** -alpha; alpha is solved so that the top
  `n_top` directions hold `top_share` of the variance of the generating model, computed with
  the cluster centres actually drawn, so the data's measured share is the one asked for.
* Clusters: the variance splits into between-cluster (`cluster_share`, centres drawn with the
  spectrum) and within-cluster (each cluster's spread scaled by a log-normal factor), both with
  the same principal directions, rotated by a random orthogonal matrix.
* Tenants: sizes follow a power law in rank (`size_exponent`), scaled so that a vector is in
  `mean_sharing` tenants on average and capped at `max_tenant_share` of the vectors; each
  tenant takes most of its vectors from a few home clusters (content labels), the rest from
  anywhere. Every vector is in at least one tenant.

Vectors are generated in chunks (float32): the paper's scale (1,000,000 x 192, 1,000 tenants,
10 million access pairs) took 81 s and a 2.0 GB peak resident set (the vectors: 0.77 GB) on a
busy 2-core machine. The result is an index_workload.Workload, with held-out
query vectors from the same model and the same query and insert protocol.

    from calibrated_workload import CalibratedParams, make_calibrated
    w = make_calibrated(CalibratedParams(n_vectors=50_000, dim=384, n_tenants=700))
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from index_workload import Workload, WorkloadParams  # noqa: E402

CHUNK = 20_000


@dataclass(frozen=True)
class CalibratedParams:
    # Defaults: the real Debian collection's measured shape (real_embeddings.py stats).
    n_vectors: int = 50_000
    dim: int = 384
    n_tenants: int = 700
    top_share: float = 0.47  # variance share of the top n_top principal directions
    n_top: int = 32
    n_clusters: int = 300
    cluster_share: float = 0.35  # between-cluster share of the variance
    spread_sigma: float = 0.3  # log-normal spread of the clusters' within-cluster scale
    mean_sharing: float = 10.0  # mean tenants per vector
    size_exponent: float = 1.1  # tenant size ~ (rank + size_offset) ** -size_exponent
    size_offset: float = 3.0
    max_tenant_share: float = 0.5
    home_clusters: float = 4.0  # mean number of home clusters of a tenant (plus more for big ones)
    home_share: float = 0.7  # share of a tenant's vectors drawn from its home clusters
    n_query_vectors: int = 2_000
    n_query_pairs: int = 2_000
    seed: int = 0

    @classmethod
    def paper_scale(cls, **overrides) -> "CalibratedParams":
        """The Curator paper's scale: 1,000,000 x 192, 1,000 tenants."""
        return cls(**{**dict(n_vectors=1_000_000, dim=192, n_tenants=1_000), **overrides})

    @classmethod
    def quick(cls, **overrides) -> "CalibratedParams":
        return cls(**{**dict(n_vectors=10_000, n_tenants=100, n_clusters=60, n_query_vectors=400,
                             n_query_pairs=400), **overrides})


def spectrum(dim: int, alpha: float) -> np.ndarray:
    lam = (np.arange(dim) + 1.0) ** -alpha
    return lam / lam.sum()


def _top_share(eigenvalues: np.ndarray, n_top: int) -> float:
    eig = np.sort(eigenvalues)[::-1]
    return float(eig[:n_top].sum() / eig.sum())


def _model_covariance(alpha, p, z_centres, weights, scales):
    """The covariance of the generating model (in the unrotated basis) for decay alpha."""
    lam = spectrum(p.dim, alpha)
    centres = z_centres * np.sqrt(p.cluster_share * lam)
    mean = weights @ centres
    between = (centres - mean).T @ ((centres - mean) * weights[:, None])
    within = (1.0 - p.cluster_share) * lam * float(weights @ scales**2)
    return between + np.diag(within), centres


def solve_alpha(p: CalibratedParams, z_centres, weights, scales) -> float:
    """The decay whose model covariance puts top_share of the variance in the top n_top."""
    if not 0.0 < p.top_share < 1.0 or p.n_top >= p.dim:
        raise ValueError("top_share must be in (0, 1) and n_top below dim")
    low, high = 0.0, 8.0  # the share grows with alpha
    flat, _ = _model_covariance(0.0, p, z_centres, weights, scales)
    if _top_share(np.linalg.eigvalsh(flat), p.n_top) > p.top_share:
        raise ValueError(f"top_share {p.top_share} is below what {p.n_clusters} cluster centres give with a flat "
                         "spectrum; lower cluster_share or raise n_clusters")
    for _ in range(24):  # alpha to within 8 / 2**24
        mid = 0.5 * (low + high)
        cov, _ = _model_covariance(mid, p, z_centres, weights, scales)
        if _top_share(np.linalg.eigvalsh(cov), p.n_top) < p.top_share:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def tenant_sizes(p: CalibratedParams, n_total: int) -> np.ndarray:
    """Power-law sizes in rank, summing to about mean_sharing * n_total, each in [1, cap]."""
    cap = max(1, int(p.max_tenant_share * n_total))
    raw = (np.arange(p.n_tenants) + p.size_offset) ** -p.size_exponent
    target = p.mean_sharing * n_total
    scale = target / raw.sum()
    for _ in range(50):  # clipping at the cap removes mass: rescale the rest
        sizes = np.clip(raw * scale, 1, cap)
        if abs(sizes.sum() - target) < 1e-3 * target:
            break
        scale *= target / sizes.sum()
    return np.round(sizes).astype(np.int64)


def _assign_tenants(p, cluster, n_total, rng):
    """(tenant, vector) pairs as CSR over vectors: a tenant takes home_share of its members
    from its home clusters (uniformly among their vectors), the rest uniformly from all."""
    by_cluster = np.argsort(cluster, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(cluster, minlength=p.n_clusters))))
    sizes = rng.permutation(tenant_sizes(p, n_total))
    big = sizes / sizes.max()
    tenant_parts, id_parts = [], []
    for t, size in enumerate(sizes.tolist()):
        n_home = min(p.n_clusters, 1 + rng.poisson(p.home_clusters - 1 + 20.0 * big[t]))
        home = rng.choice(p.n_clusters, n_home, replace=False)
        pool = np.concatenate([by_cluster[bounds[c]:bounds[c + 1]] for c in home])
        from_home = pool[rng.choice(len(pool), min(len(pool), int(round(p.home_share * size))), replace=False)]
        rest = size - len(from_home)
        spare = rng.choice(n_total, min(n_total, rest + len(from_home)), replace=False)
        chosen = np.concatenate((from_home, spare[~np.isin(spare, from_home)][:rest]))
        id_parts.append(chosen)
        tenant_parts.append(np.full(len(chosen), t, dtype=np.int64))
    tenant = np.concatenate(tenant_parts)
    ids = np.concatenate(id_parts)
    # A vector no tenant took goes to one random tenant, so that every vector has an owner.
    orphans = np.setdiff1d(np.arange(n_total), ids)
    tenant = np.concatenate((tenant, rng.choice(p.n_tenants, len(orphans), p=sizes / sizes.sum())))
    ids = np.concatenate((ids, orphans))
    order = np.lexsort((tenant, ids))
    ids, tenant = ids[order], tenant[order]
    indptr = np.concatenate(([0], np.cumsum(np.bincount(ids, minlength=n_total)))).astype(np.int64)
    return indptr, tenant


def _vectors(p, cluster, centres, scales, lam, rotation, rng) -> np.ndarray:
    X = np.empty((len(cluster), p.dim), dtype=np.float32)
    within = np.sqrt((1.0 - p.cluster_share) * lam)
    for start in range(0, len(cluster), CHUNK):
        c = cluster[start:start + CHUNK]
        z = rng.standard_normal((len(c), p.dim)) * within * scales[c, None] + centres[c]
        X[start:start + len(c)] = z @ rotation
    return X


def make_calibrated(p: CalibratedParams | None = None) -> Workload:
    """The workload for `p`, deterministic in p.seed."""
    from threadpoolctl import threadpool_limits

    # One BLAS thread: the products are small, and spinning BLAS threads stall on a busy machine.
    with threadpool_limits(1):
        return _make(p or CalibratedParams())


def _make(p: CalibratedParams) -> Workload:
    if min(p.n_vectors, p.n_tenants, p.n_query_vectors, p.n_clusters) < 1:
        raise ValueError("n_vectors, n_tenants, n_clusters and n_query_vectors must be positive")
    rng = np.random.default_rng(p.seed)
    weights = rng.lognormal(0.0, 0.7, p.n_clusters)
    weights /= weights.sum()
    scales = np.exp(rng.normal(0.0, p.spread_sigma, p.n_clusters))
    z_centres = rng.standard_normal((p.n_clusters, p.dim))
    alpha = solve_alpha(p, z_centres, weights, scales)
    _, centres = _model_covariance(alpha, p, z_centres, weights, scales)
    rotation, _ = np.linalg.qr(rng.standard_normal((p.dim, p.dim)))

    total = p.n_vectors + p.n_query_vectors
    cluster = rng.choice(p.n_clusters, total, p=weights)
    X = _vectors(p, cluster, centres, scales, spectrum(p.dim, alpha), rotation, rng)
    indptr, tenants = _assign_tenants(p, cluster, total, rng)
    split = rng.permutation(total)
    base, held = np.sort(split[:p.n_vectors]), np.sort(split[p.n_vectors:])

    def take(rows):
        lengths = np.diff(indptr)[rows]
        starts = indptr[rows]
        flat = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths) + np.arange(lengths.sum())
        return np.concatenate(([0], np.cumsum(lengths))).astype(np.int64), tenants[flat]

    access_indptr, access_tenants = take(base)
    query_indptr, query_lists = take(held)
    sizes = np.bincount(access_tenants, minlength=p.n_tenants)
    pair_vector = np.repeat(np.arange(len(held), dtype=np.int64), np.diff(query_indptr))
    usable = np.flatnonzero(sizes[query_lists] > 0)
    keep = np.sort(rng.choice(usable, min(p.n_query_pairs, len(usable)), replace=False))
    lengths = np.diff(access_indptr)
    owner = access_tenants[access_indptr[:-1] + rng.integers(0, lengths)]
    params = WorkloadParams(n_vectors=p.n_vectors, dim=p.dim, n_tenants=p.n_tenants, n_clusters=p.n_clusters,
                            n_topics=1, latent_dim=p.dim, mean_sharing=p.mean_sharing,
                            n_query_vectors=p.n_query_vectors, n_query_pairs=len(keep), seed=p.seed)
    return Workload(
        params=params, vectors=X[base], cluster=cluster[base].astype(np.int64),
        access_indptr=access_indptr, access_tenants=access_tenants.astype(np.int64),
        queries=X[held], query_access_indptr=query_indptr, query_access_tenants=query_lists.astype(np.int64),
        query_vector=pair_vector[keep], query_tenant=query_lists[keep].astype(np.int64),
        insert_order=rng.permutation(p.n_vectors).astype(np.int64), owner=owner.astype(np.int64),
    )


def calibrate_from(data: dict, **overrides) -> CalibratedParams:
    """Parameters matching a real collection (real_embeddings.load()): its size, dimension,
    tenant count, top-32 share, sharing degree and tenant-size power law."""
    from real_embeddings import statistics

    s = statistics(data)
    sizes = np.sort(np.diff(data["tenant_ptr"]))[::-1].astype(np.float64)
    ranks = np.arange(len(sizes)) + CalibratedParams.size_offset
    exponent = -np.polyfit(np.log(ranks), np.log(sizes), 1)[0]
    fitted = dict(n_vectors=s["n_vectors"], dim=s["dim"], n_tenants=s["n_tenants"],
                  top_share=round(s["top32_variance_share"], 3), mean_sharing=round(s["sharing_degree_mean"], 2),
                  size_exponent=round(float(exponent), 3))
    return dataclasses.replace(CalibratedParams(), **{**fitted, **overrides})
