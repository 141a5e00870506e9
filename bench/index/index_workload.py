"""A multi-tenant vector workload in the style of the YFCC100M tag setting, and its exact answers.

The vectors are float32 points drawn from a few hundred Gaussian clusters of varied spread and
size (themselves grouped into topics) that live in a low-dimensional subspace of the ambient
space, plus isotropic noise, the way image embeddings have a low intrinsic dimension. Tenants
play the role of tags: their sizes are Zipf-like, each tenant draws its vectors mostly from a
few "home" clusters (a tag describes related content), popular tenants are broader, and every
vector carries several tenants (the sharing degree, like tags per image, is overdispersed with
a mean of about 8).

Everything is a deterministic function of the parameters and the seed. The held-out query
vectors come from the same distribution; as in the paper's protocol each query vector gives one
query per tenant in its own access list, and a uniform sample of those (query, tenant) pairs is
kept. The insert protocol is the paper's too: vectors arrive in shuffled order, the owner is a
random member of the vector's access list, the vector is added for its owner and then granted to
the other tenants.

    from index_workload import WorkloadParams, make_workload, filtered_ground_truth
    w = make_workload(WorkloadParams.quick())
    gt_ids, gt_dist = filtered_ground_truth(w, k=10)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

GENERATION_CHUNK = 20_000  # rows generated at a time (bounds the temporary memory)


@dataclass(frozen=True)
class WorkloadParams:
    n_vectors: int = 200_000  # vectors inserted into the index
    dim: int = 192
    n_tenants: int = 1_000
    n_clusters: int = 300
    n_topics: int = 30  # clusters are grouped into topics (a coarser level of similarity)
    latent_dim: int = 32  # intrinsic dimension of the cluster structure
    noise: float = 0.06  # isotropic noise per ambient coordinate
    spread_min: float = 0.5  # per-coordinate spread of a cluster in the latent space,
    spread_max: float = 1.0  # log-uniform between these (topic centres ~ N(0, 1)):
    # neighbouring clusters of a topic overlap
    zipf_exponent: float = 1.0  # tenant popularity ~ 1 / (rank + zipf_offset) ** exponent
    zipf_offset: float = 5.0
    mean_sharing: float = 8.0  # mean number of tenants per vector
    max_sharing: int = 48
    background: float = 0.1  # share of a tenant's affinity spread over all clusters
    n_query_vectors: int = 2_000  # held-out vectors
    n_query_pairs: int = 2_000  # (query vector, tenant) pairs kept
    seed: int = 0

    @classmethod
    def quick(cls, **overrides) -> "WorkloadParams":
        """The small setting for smoke runs: 20,000 vectors, 100 tenants."""
        small = dict(n_vectors=20_000, n_tenants=100, n_clusters=100, n_topics=10,
                     n_query_vectors=500, n_query_pairs=500)
        small.update(overrides)
        return cls(**small)


@dataclass(frozen=True)
class Workload:
    """Vector i of `vectors` has the external id i; its tenants are
    access_tenants[access_indptr[i]:access_indptr[i + 1]] (sorted, distinct)."""

    params: WorkloadParams
    vectors: np.ndarray  # (n, dim) float32
    cluster: np.ndarray  # (n,) generating cluster of each vector (for statistics only)
    access_indptr: np.ndarray  # (n + 1,) int64
    access_tenants: np.ndarray  # (n_pairs,) int64
    queries: np.ndarray  # (n_query_vectors, dim) float32
    query_access_indptr: np.ndarray  # access lists of the query vectors, as CSR
    query_access_tenants: np.ndarray
    query_vector: np.ndarray  # (m,) int64 row of `queries` for each query pair
    query_tenant: np.ndarray  # (m,) int64 tenant of each query pair
    insert_order: np.ndarray  # (n,) int64 permutation of the ids
    owner: np.ndarray  # (n,) int64 owner of each vector, a member of its access list

    @property
    def n_vectors(self) -> int:
        return len(self.vectors)

    @property
    def n_tenants(self) -> int:
        return self.params.n_tenants

    @property
    def n_access_pairs(self) -> int:
        return len(self.access_tenants)

    def tenants_of(self, vector_id: int) -> np.ndarray:
        return self.access_tenants[self.access_indptr[vector_id]:self.access_indptr[vector_id + 1]]

    def tenant_members(self) -> tuple[np.ndarray, np.ndarray]:
        """The inverted access lists as CSR (indptr over tenants, sorted vector ids)."""
        vector_of_pair = np.repeat(np.arange(self.n_vectors, dtype=np.int64), np.diff(self.access_indptr))
        order = np.lexsort((vector_of_pair, self.access_tenants))
        counts = np.bincount(self.access_tenants, minlength=self.n_tenants)
        indptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        return indptr, vector_of_pair[order]

    def tenant_sizes(self) -> np.ndarray:
        return np.bincount(self.access_tenants, minlength=self.n_tenants)

    def arrays(self) -> dict:
        """The arrays, for np.savez (the inverse of `from_arrays`)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "params"}
        out["params"] = np.array(list(dataclasses.astuple(self.params)), dtype=object)
        return out

    @classmethod
    def from_arrays(cls, arrays) -> "Workload":
        params = WorkloadParams(*arrays["params"].tolist())
        fields = {f.name: np.asarray(arrays[f.name]) for f in dataclasses.fields(cls) if f.name != "params"}
        return cls(params=params, **fields)

    def statistics(self) -> dict:
        """Tenant sizes, sharing degrees, and how concentrated tenants are on their clusters."""
        sizes = self.tenant_sizes()
        sharing = np.diff(self.access_indptr)
        n = self.n_vectors
        # Share of each tenant's vectors that come from its three largest clusters.
        pair_cluster = np.repeat(self.cluster, sharing)
        counts = np.zeros((self.n_tenants, self.params.n_clusters), dtype=np.int64)
        np.add.at(counts, (self.access_tenants, pair_cluster), 1)
        top3 = np.sort(counts, axis=1)[:, -3:].sum(axis=1)
        nonempty = sizes > 0
        top3_share = top3[nonempty] / sizes[nonempty]
        quantiles = (0.0, 0.1, 0.5, 0.9, 0.99, 1.0)
        return {
            "n_vectors": n,
            "dim": self.params.dim,
            "n_tenants": self.n_tenants,
            "n_access_pairs": self.n_access_pairs,
            "sharing_degree_mean": float(sharing.mean()),
            "sharing_degree_quantiles": {str(q): float(np.quantile(sharing, q)) for q in quantiles},
            "tenant_size_quantiles": {str(q): float(np.quantile(sizes, q)) for q in quantiles},
            "largest_tenant_share": float(sizes.max() / n),
            "empty_tenants": int((~nonempty).sum()),
            "top3_cluster_share_median": float(np.median(top3_share)),
            "n_query_pairs": len(self.query_tenant),
            "query_tenant_size_median": float(np.median(sizes[self.query_tenant])),
        }


def _cluster_model(p: WorkloadParams, rng: np.random.Generator):
    """Cluster centres and spreads in the latent space, cluster weights, and the projection."""
    topic_centers = rng.normal(0.0, 1.0, size=(p.n_topics, p.latent_dim))
    topic_of_cluster = rng.integers(0, p.n_topics, size=p.n_clusters)
    centers = topic_centers[topic_of_cluster] + rng.normal(0.0, 0.45, size=(p.n_clusters, p.latent_dim))
    spreads = np.exp(rng.uniform(np.log(p.spread_min), np.log(p.spread_max), size=p.n_clusters))
    weights = rng.lognormal(0.0, 0.7, size=p.n_clusters)
    weights /= weights.sum()
    projection = rng.normal(0.0, 1.0 / np.sqrt(p.latent_dim), size=(p.latent_dim, p.dim))
    return topic_of_cluster, centers, spreads, weights, projection


def _tenant_model(p: WorkloadParams, topic_of_cluster: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """log of the (unnormalised) weight of tenant t for a vector of cluster c, shape (C, T).

    Weight = popularity(t) * affinity(t, c): the popularity is Zipf-like in a random rank; the
    affinity puts (1 - background) on a few home clusters, mostly from one topic, more of them
    for popular tenants, and the background uniformly on all clusters."""
    ranks = rng.permutation(p.n_tenants)
    popularity = 1.0 / (ranks + p.zipf_offset) ** p.zipf_exponent
    broadness = popularity / popularity.max()
    affinity = np.full((p.n_tenants, p.n_clusters), p.background / p.n_clusters)
    for t in range(p.n_tenants):
        n_home = min(p.n_clusters, 1 + rng.poisson(1.5 + 20.0 * broadness[t]))
        topic = rng.integers(0, p.n_topics)
        same_topic = np.flatnonzero(topic_of_cluster == topic)
        # Home clusters: from the tenant's topic while it has clusters left, the rest anywhere.
        from_topic = rng.permutation(same_topic)[: max(1, n_home // 2 + 1)]
        others = np.setdiff1d(np.arange(p.n_clusters), from_topic)
        home = np.concatenate((from_topic, rng.choice(others, size=max(0, n_home - len(from_topic)), replace=False)))
        affinity[t, home] += (1.0 - p.background) * rng.dirichlet(np.ones(len(home)))
    return np.log(popularity[None, :] * affinity.T)


def _sharing_degrees(p: WorkloadParams, n: int, rng: np.random.Generator) -> np.ndarray:
    """1 + Poisson(lambda) with a Gamma-distributed lambda: overdispersed, mean `mean_sharing`."""
    shape = 2.0
    lam = rng.gamma(shape, (p.mean_sharing - 1.0) / shape, size=n)
    return np.clip(1 + rng.poisson(lam), 1, min(p.max_sharing, p.n_tenants))


def _access_lists(p, cluster, degrees, log_weight, rng):
    """Each vector draws `degree` distinct tenants with probability proportional to the weights
    of its cluster (Gumbel top-k sampling without replacement). Returns CSR (indptr, tenants)."""
    n = len(cluster)
    indptr = np.concatenate(([0], np.cumsum(degrees))).astype(np.int64)
    tenants = np.empty(indptr[-1], dtype=np.int64)
    max_degree = int(degrees.max())
    for c in range(p.n_clusters):
        members = np.flatnonzero(cluster == c)
        for start in range(0, len(members), 4096):
            rows = members[start:start + 4096]
            keys = log_weight[c][None, :] + rng.gumbel(size=(len(rows), p.n_tenants))
            top = np.argpartition(-keys, max_degree - 1, axis=1)[:, :max_degree]
            top_keys = np.take_along_axis(keys, top, axis=1)
            ranked = np.take_along_axis(top, np.argsort(-top_keys, axis=1), axis=1)
            for row, chosen in zip(rows, ranked):
                tenants[indptr[row]:indptr[row + 1]] = np.sort(chosen[: degrees[row]])
    assert n == len(indptr) - 1
    return indptr, tenants


def _points(p, cluster, centers, spreads, projection, rng) -> np.ndarray:
    X = np.empty((len(cluster), p.dim), dtype=np.float32)
    for start in range(0, len(cluster), GENERATION_CHUNK):
        c = cluster[start:start + GENERATION_CHUNK]
        latent = centers[c] + spreads[c, None] * rng.standard_normal((len(c), p.latent_dim))
        block = latent @ projection + p.noise * rng.standard_normal((len(c), p.dim))
        X[start:start + len(c)] = block
    return X


def make_workload(params: WorkloadParams | None = None) -> Workload:
    """The workload for `params` (default: the full-size setting), deterministic in params.seed."""
    p = params or WorkloadParams()
    if p.n_vectors < 1 or p.n_tenants < 1 or p.n_query_vectors < 1:
        raise ValueError("n_vectors, n_tenants and n_query_vectors must be positive")
    rng = np.random.default_rng(p.seed)
    topic_of_cluster, centers, spreads, weights, projection = _cluster_model(p, rng)
    log_weight = _tenant_model(p, topic_of_cluster, rng)

    # Generate the inserted and held-out vectors together, then split them by a random permutation.
    total = p.n_vectors + p.n_query_vectors
    cluster = rng.choice(p.n_clusters, size=total, p=weights)
    degrees = _sharing_degrees(p, total, rng)
    X = _points(p, cluster, centers, spreads, projection, rng)
    indptr, tenants = _access_lists(p, cluster, degrees, log_weight, rng)
    split = rng.permutation(total)
    base, held_out = np.sort(split[: p.n_vectors]), np.sort(split[p.n_vectors:])

    def take_lists(rows):
        lengths = np.diff(indptr)[rows]
        sub_indptr = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
        sub = np.concatenate([tenants[indptr[r]:indptr[r + 1]] for r in rows]) if len(rows) else tenants[:0]
        return sub_indptr, sub

    access_indptr, access_tenants = take_lists(base)
    query_indptr, query_lists = take_lists(held_out)

    # One query per tenant in the query vector's own list; keep a uniform sample of the pairs
    # whose tenant has at least one inserted vector (otherwise there is nothing to find).
    sizes = np.bincount(access_tenants, minlength=p.n_tenants)
    pair_vector = np.repeat(np.arange(len(held_out), dtype=np.int64), np.diff(query_indptr))
    usable = np.flatnonzero(sizes[query_lists] > 0)
    keep = rng.choice(usable, size=min(p.n_query_pairs, len(usable)), replace=False)

    insert_order = rng.permutation(p.n_vectors).astype(np.int64)
    lengths = np.diff(access_indptr)
    owner = access_tenants[access_indptr[:-1] + rng.integers(0, lengths)]
    return Workload(
        params=p, vectors=X[base], cluster=cluster[base].astype(np.int64),
        access_indptr=access_indptr, access_tenants=access_tenants,
        queries=X[held_out], query_access_indptr=query_indptr, query_access_tenants=query_lists,
        query_vector=pair_vector[keep], query_tenant=query_lists[keep],
        insert_order=insert_order, owner=owner.astype(np.int64),
    )


def filtered_ground_truth(w: Workload, k: int = 10, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Exact filtered top-k of every query pair: the k accessible vectors nearest (squared L2,
    float64) to the query, ties by smaller id; padded with id -1 and distance inf.

    Queries are grouped by tenant so that each tenant's vectors are gathered once and compared
    with all its queries by a matrix product, `chunk` queries at a time."""
    indptr, members = w.tenant_members()
    m = len(w.query_tenant)
    gt_ids = np.full((m, k), -1, dtype=np.int64)
    gt_dist = np.full((m, k), np.inf, dtype=np.float64)
    queries = w.queries.astype(np.float64)
    for t in np.unique(w.query_tenant):
        ids = members[indptr[t]:indptr[t + 1]]
        Xt = w.vectors[ids].astype(np.float64)
        norms = np.einsum("ij,ij->i", Xt, Xt)
        pairs = np.flatnonzero(w.query_tenant == t)
        kk = min(k, len(ids))
        for start in range(0, len(pairs), chunk):
            rows = pairs[start:start + chunk]
            Q = queries[w.query_vector[rows]]
            d = norms[None, :] - 2.0 * (Q @ Xt.T) + np.einsum("ij,ij->i", Q, Q)[:, None]
            np.maximum(d, 0.0, out=d)
            for row, dist in zip(rows, d):
                cand = np.argpartition(dist, kk - 1)[:kk] if kk < len(ids) else np.arange(len(ids))
                # Among equal distances at the boundary, prefer the smaller id.
                bound = dist[cand].max()
                tied = np.flatnonzero(dist <= bound)
                order = np.lexsort((ids[tied], dist[tied]))[:kk]
                gt_ids[row, :kk] = ids[tied[order]]
                gt_dist[row, :kk] = dist[tied[order]]
    return gt_ids, gt_dist


def recall_at_k(result_ids: np.ndarray, gt_ids: np.ndarray) -> np.ndarray:
    """Per-query recall@k = |result ∩ truth| / min(k, |truth|); -1 entries are padding."""
    result_ids = np.atleast_2d(result_ids)
    gt_ids = np.atleast_2d(gt_ids)
    out = np.empty(len(gt_ids))
    for i, (res, gt) in enumerate(zip(result_ids, gt_ids)):
        truth = set(gt[gt >= 0].tolist())
        found = set(res[res >= 0].tolist())
        out[i] = len(found & truth) / len(truth) if truth else 1.0
    return out
