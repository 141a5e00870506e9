"""The multi-tenant indexes compared by the index benchmark, behind one small interface.

Every method stores raw float32 vectors, answers top-k under squared L2 for one tenant, and is
built the way a user would build it with the library (following the Curator paper's baselines):

* ``shared-ivf-bitmap`` and ``shared-ivf-batch``: one Faiss IndexIVFFlat over all vectors,
  searched with an ID selector passed through SearchParametersIVF, so that the scan of the
  probed lists skips inaccessible vectors. The first keeps a bitmap over the ids per tenant
  and passes an IDSelectorBitmap over it (the fastest filter; its bitmaps cost n/8 bytes per
  tenant); the second keeps each tenant's id list and builds an IDSelectorBatch from it for
  every query (the usual metadata-filter pattern; the selector's construction is part of the
  query). Knob: nprobe.
* ``per-tenant-ivf``: one Faiss index per tenant, trained on that tenant's vectors: an
  IndexIVFFlat with nlist = round(sqrt(size)) for tenants of at least PT_FLAT_BELOW vectors, an
  exact IndexFlatL2 below. A grant copies the vector into the grantee's index. Knob: nprobe
  (capped at each index's nlist).
* ``shared-hnsw``: one hnswlib index over all vectors, searched with a filter callable
  (membership in the tenant's id set), which admits only accessible vectors to the results.
  Knob: ef.
* ``per-tenant-hnsw``: one hnswlib index per tenant; a grant copies the vector. Knob: ef.
* ``vecclust``: vecclust.MultiTenantIndex. Knob: budget (candidate vectors scanned).

Interface of a method: ``train(X, tenant_indptr, tenant_members)`` (build; the per-tenant indexes
need to know their tenants' vectors), ``add(X, ids, owner)``, ``grant(ids, tenant)``,
``remove(ids)`` (a vector disappears for every tenant), ``set_knob(value)``, ``search(q, tenant,
k) -> ids`` for one query of shape (1, dim), and ``memory_bytes() -> dict`` of analytic sizes
with a "total". Queries and builds run on one thread (faiss.omp_set_num_threads(1)).
"""

from __future__ import annotations

import math

import numpy as np

K = 10
# The knob settings swept (a sweep stops early once recall is near 1): steps of about sqrt(2).
NPROBE_GRID = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
EF_GRID = (10, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
BUDGET_GRID = (64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192)
PT_FLAT_BELOW = 2_000  # per-tenant IVF: tenants smaller than this get an exact flat index
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
# hnswlib allocates per index a fixed table of label-operation mutexes (65536 std::mutex of 40
# bytes on Linux x86-64), whatever the number of elements.
HNSW_FIXED_BYTES = 65536 * 40
MUTEX_BYTES = 40
HASH_ENTRY_BYTES = 40  # std::unordered_map<label, id> node plus bucket, approximately


def hnsw_bytes(capacity: int, count: int, dim: int, M: int) -> int:
    """Analytic size of a hnswlib HierarchicalNSW<float> index with `capacity` slots and `count`
    elements: the level-0 block (links, vector, label per slot), the upper-level links (a point
    reaches level >= l with probability M^-l, so on average 1/(M-1) upper levels), per-slot
    level, link-list pointer and mutex, the label map and one visited list."""
    level0 = capacity * ((2 * M) * 4 + 4 + dim * 4 + 8)
    upper = count / (M - 1) * (M * 4 + 4) + capacity * 8
    per_slot = capacity * (4 + MUTEX_BYTES + 2)
    return int(level0 + upper + per_slot + count * HASH_ENTRY_BYTES + HNSW_FIXED_BYTES)


def access_list_bytes(n_vectors: int, n_pairs: int) -> int:
    """A compact per-vector list of tenants (CSR: 8-byte offsets, 4-byte tenant ids), what the
    per-tenant indexes need to find every copy of a vector when it is removed."""
    return 8 * (n_vectors + 1) + 4 * n_pairs


def _faiss():
    import faiss

    faiss.omp_set_num_threads(1)
    return faiss


class _HolderLists:
    """Which tenants hold each vector (to revoke or remove every copy when a vector goes)."""

    def __init__(self, n_ids, n_tenants):
        self._tenant_objects = list(range(n_tenants))  # share the int objects between lists
        self.lists = [[] for _ in range(n_ids)]
        self.n_pairs = 0

    def add(self, ids, tenant):
        t = self._tenant_objects[tenant]
        for i in ids:
            self.lists[i].append(t)
        self.n_pairs += len(ids)

    def pop(self, i):
        holders, self.lists[i] = self.lists[i], []
        self.n_pairs -= len(holders)
        return holders


class SharedIVF:
    """One IVF-Flat over all vectors; subclasses keep the access rights and build the filter."""

    knob = "nprobe"

    def __init__(self, dim: int, n_ids: int, n_tenants: int, nlist: int):
        self._faiss = faiss = _faiss()
        self.nlist = nlist
        self.index = faiss.IndexIVFFlat(faiss.IndexFlatL2(dim), dim, nlist)
        self.nprobe = 1

    @property
    def settings(self):
        return tuple(p for p in NPROBE_GRID if p <= self.nlist)

    def train(self, X, tenant_indptr=None, tenant_members=None):
        self.index.train(X)

    def add(self, X, ids, owner):
        ids = np.asarray(ids, dtype=np.int64)
        self.index.add_with_ids(X, ids)
        self.grant(ids, owner)

    def remove(self, ids):
        ids = np.asarray(ids, dtype=np.int64)
        self.index.remove_ids(ids)
        self._revoke_everywhere(ids)

    def set_knob(self, value):
        self.nprobe = int(value)

    def search(self, q, tenant, k=K):
        params = self._faiss.SearchParametersIVF(sel=self._selector(tenant), nprobe=self.nprobe)
        _, ids = self.index.search(q, k, params=params)
        return ids[0]

    def memory_bytes(self):
        n, d = self.index.ntotal, self.index.d
        parts = {"vectors": n * d * 4, "ids": n * 8, "centroids": self.nlist * d * 4, **self._access_bytes()}
        parts["total"] = sum(parts.values())
        return parts


class SharedIVFBitmap(SharedIVF):
    """Access rights as one bitmap over the ids per tenant, kept for the index's lifetime; the
    query passes an IDSelectorBitmap reading the tenant's row in place."""

    name = "shared-ivf-bitmap"

    def __init__(self, dim: int, n_ids: int, n_tenants: int, nlist: int):
        super().__init__(dim, n_ids, n_tenants, nlist)
        # Bit i of row t is set when tenant t may read vector i (IDSelectorBitmap's layout).
        self.bits = np.zeros((n_tenants, (n_ids + 7) // 8), dtype=np.uint8)
        self._selectors = {}

    def grant(self, ids, tenant):
        ids = np.asarray(ids, dtype=np.int64)
        np.bitwise_or.at(self.bits[tenant], ids >> 3, (1 << (ids & 7)).astype(np.uint8))

    def _revoke_everywhere(self, ids):
        for i in ids.tolist():
            self.bits[:, i >> 3] &= np.uint8(~(1 << (i & 7)) & 0xFF)

    def _selector(self, tenant):
        sel = self._selectors.get(tenant)
        if sel is None:  # reads the bitmap row in place, so later grants are seen
            row = self.bits[tenant]
            sel = self._selectors[tenant] = self._faiss.IDSelectorBitmap(len(row), self._faiss.swig_ptr(row))
        return sel

    def _access_bytes(self):
        return {"access_bitmaps": int(self.bits.nbytes)}


class SharedIVFBatch(SharedIVF):
    """Access rights as each tenant's list of ids (as a metadata store keeps them); every query
    builds an IDSelectorBatch (a hash set) from the tenant's list."""

    name = "shared-ivf-batch"

    def __init__(self, dim: int, n_ids: int, n_tenants: int, nlist: int):
        super().__init__(dim, n_ids, n_tenants, nlist)
        self.id_lists = [np.empty(16, dtype=np.int64) for _ in range(n_tenants)]  # growable buffers
        self.sizes = [0] * n_tenants
        self.holders = _HolderLists(n_ids, n_tenants)

    def grant(self, ids, tenant):
        ids = np.asarray(ids, dtype=np.int64)
        size, buffer = self.sizes[tenant], self.id_lists[tenant]
        if size + len(ids) > len(buffer):
            buffer = self.id_lists[tenant] = np.resize(buffer, max(2 * len(buffer), size + len(ids)))
        buffer[size:size + len(ids)] = ids
        self.sizes[tenant] = size + len(ids)
        self.holders.add(ids.tolist(), tenant)

    def _revoke_everywhere(self, ids):
        for i in ids.tolist():
            for t in self.holders.pop(i):
                size, buffer = self.sizes[t], self.id_lists[t]
                at = int(np.flatnonzero(buffer[:size] == i)[0])
                buffer[at] = buffer[size - 1]  # order does not matter to the selector
                self.sizes[t] = size - 1

    def _selector(self, tenant):
        return self._faiss.IDSelectorBatch(self.id_lists[tenant][:self.sizes[tenant]])

    def _access_bytes(self):
        return {"access_id_lists": 8 * sum(self.sizes),
                "access_lists": access_list_bytes(len(self.holders.lists), self.holders.n_pairs)}


class PerTenantIVF:
    name = "per-tenant-ivf"
    knob = "nprobe"

    def __init__(self, dim: int, n_ids: int, n_tenants: int, flat_below: int = PT_FLAT_BELOW):
        self._faiss = _faiss()
        self.dim, self.flat_below = dim, flat_below
        self.indexes = [None] * n_tenants
        self.nlists = [0] * n_tenants  # 0: exact flat index
        self.holders = _HolderLists(n_ids, n_tenants)
        self._vectors = None

    @property
    def settings(self):
        largest = max(self.nlists)
        return tuple(p for p in NPROBE_GRID if p <= max(largest, 1))

    def train(self, X, tenant_indptr, tenant_members):
        faiss = self._faiss
        self._vectors = X  # the application's copy, read when a grant copies a vector
        for t in range(len(self.indexes)):
            members = tenant_members[tenant_indptr[t]:tenant_indptr[t + 1]]
            if len(members) < self.flat_below:
                self.indexes[t] = faiss.IndexIDMap(faiss.IndexFlatL2(self.dim))
                continue
            nlist = int(round(math.sqrt(len(members))))
            index = faiss.IndexIVFFlat(faiss.IndexFlatL2(self.dim), self.dim, nlist)
            index.train(np.ascontiguousarray(X[members]))
            self.indexes[t], self.nlists[t] = index, nlist

    def add(self, X, ids, owner):
        ids = np.asarray(ids, dtype=np.int64)
        self.indexes[owner].add_with_ids(X, ids)
        self.holders.add(ids.tolist(), owner)

    def grant(self, ids, tenant):
        ids = np.asarray(ids, dtype=np.int64)
        self.indexes[tenant].add_with_ids(np.ascontiguousarray(self._vectors[ids]), ids)
        self.holders.add(ids.tolist(), tenant)

    def remove(self, ids):
        for i in np.asarray(ids, dtype=np.int64).tolist():
            for t in self.holders.pop(i):
                self.indexes[t].remove_ids(np.array([i], dtype=np.int64))

    def set_knob(self, value):
        for index, nlist in zip(self.indexes, self.nlists):
            if nlist:
                index.nprobe = min(int(value), nlist)

    def search(self, q, tenant, k=K):
        _, ids = self.indexes[tenant].search(q, k)
        return ids[0]

    def memory_bytes(self):
        stored = sum(index.ntotal for index in self.indexes)
        parts = {
            "vectors": stored * self.dim * 4,
            "ids": stored * 8,
            "centroids": sum(self.nlists) * self.dim * 4,
            "access_lists": access_list_bytes(len(self.holders.lists), self.holders.n_pairs),
        }
        parts["total"] = sum(parts.values())
        return parts


class SharedHNSW:
    name = "shared-hnsw"
    knob = "ef"
    settings = EF_GRID

    def __init__(self, dim: int, n_ids: int, n_tenants: int, M=HNSW_M, ef_construction=HNSW_EF_CONSTRUCTION):
        import hnswlib

        self.dim, self.M, self.capacity = dim, M, n_ids
        self.index = hnswlib.Index(space="l2", dim=dim)
        self.index.init_index(max_elements=n_ids, M=M, ef_construction=ef_construction, random_seed=0)
        self.index.set_num_threads(1)
        self.members = [set() for _ in range(n_tenants)]  # the filter's data: ids per tenant
        self.n_bitmap_bytes = n_tenants * ((n_ids + 7) // 8)

    def train(self, X, tenant_indptr=None, tenant_members=None):
        pass  # a graph index has no training step

    def add(self, X, ids, owner):
        self.index.add_items(X, np.asarray(ids, dtype=np.int64), num_threads=1)
        self.members[owner].update(np.asarray(ids).tolist())

    def grant(self, ids, tenant):
        self.members[tenant].update(np.asarray(ids).tolist())

    def remove(self, ids):
        for i in np.asarray(ids, dtype=np.int64).tolist():
            self.index.mark_deleted(i)
            for member_set in self.members:
                member_set.discard(i)

    def set_knob(self, value):
        self.index.set_ef(int(value))

    def search(self, q, tenant, k=K):
        members = self.members[tenant]
        k = min(k, len(members))
        if k == 0:
            return np.full(0, -1, dtype=np.int64)
        try:
            ids, _ = self.index.knn_query(q, k=k, num_threads=1, filter=members.__contains__)
        except RuntimeError:  # hnswlib found fewer than k accessible vectors
            return np.full(0, -1, dtype=np.int64)
        return ids[0].astype(np.int64)

    def memory_bytes(self):
        count = self.index.get_current_count()
        parts = {
            "graph_and_vectors": hnsw_bytes(self.capacity, count, self.dim, self.M),
            # The harness filters with Python sets (the fastest callable); a compact
            # implementation needs one bit per (tenant, id): that is what is counted.
            "access_bitmaps": self.n_bitmap_bytes,
        }
        parts["total"] = sum(parts.values())
        return parts


class PerTenantHNSW:
    name = "per-tenant-hnsw"
    knob = "ef"
    settings = EF_GRID

    def __init__(self, dim: int, n_ids: int, n_tenants: int, M=HNSW_M, ef_construction=HNSW_EF_CONSTRUCTION):
        self.dim, self.M, self.ef_construction = dim, M, ef_construction
        self.indexes = [None] * n_tenants
        self.counts = [0] * n_tenants  # live elements per tenant
        self.capacities = [0] * n_tenants
        self.holders = _HolderLists(n_ids, n_tenants)
        self._vectors = None

    def train(self, X, tenant_indptr, tenant_members):
        import hnswlib

        self._vectors = X
        for t in range(len(self.indexes)):
            index = hnswlib.Index(space="l2", dim=self.dim)
            # Sized to the tenant's final count, as after the paper's resize_index(count).
            capacity = max(1, int(tenant_indptr[t + 1] - tenant_indptr[t]))
            index.init_index(max_elements=capacity, M=self.M, ef_construction=self.ef_construction, random_seed=0)
            index.set_num_threads(1)
            self.indexes[t], self.capacities[t] = index, capacity

    def _insert(self, X, ids, tenant):
        index = self.indexes[tenant]
        needed = index.get_current_count() + len(ids)
        if needed > self.capacities[tenant]:
            self.capacities[tenant] = max(needed, 2 * self.capacities[tenant])
            index.resize_index(self.capacities[tenant])
        index.add_items(X, ids, num_threads=1)
        self.counts[tenant] += len(ids)
        self.holders.add(ids.tolist(), tenant)

    def add(self, X, ids, owner):
        self._insert(X, np.asarray(ids, dtype=np.int64), owner)

    def grant(self, ids, tenant):
        ids = np.asarray(ids, dtype=np.int64)
        self._insert(np.ascontiguousarray(self._vectors[ids]), ids, tenant)

    def remove(self, ids):
        for i in np.asarray(ids, dtype=np.int64).tolist():
            for t in self.holders.pop(i):
                self.indexes[t].mark_deleted(i)
                self.counts[t] -= 1

    def set_knob(self, value):
        for index in self.indexes:
            index.set_ef(int(value))

    def search(self, q, tenant, k=K):
        k = min(k, self.counts[tenant])  # as in the paper: fewer than k vectors, smaller k
        if k == 0:
            return np.full(0, -1, dtype=np.int64)
        try:
            ids, _ = self.indexes[tenant].knn_query(q, k=k, num_threads=1)
        except RuntimeError:
            return np.full(0, -1, dtype=np.int64)
        return ids[0].astype(np.int64)

    def memory_bytes(self):
        graphs = sum(hnsw_bytes(cap, index.get_current_count(), self.dim, self.M) - HNSW_FIXED_BYTES
                     for cap, index in zip(self.capacities, self.indexes))
        parts = {
            "graphs_and_vectors": graphs,
            "fixed_per_index": HNSW_FIXED_BYTES * len(self.indexes),
            "access_lists": access_list_bytes(len(self.holders.lists), self.holders.n_pairs),
        }
        parts["total"] = sum(parts.values())
        return parts


class Vecclust:
    name = "vecclust"
    knob = "budget"
    settings = BUDGET_GRID

    def __init__(self, dim: int, n_ids: int, n_tenants: int, **options):
        from vecclust import MultiTenantIndex

        self.index = MultiTenantIndex(dim, random_state=0, n_threads=1, **options)
        self.budget = None

    @staticmethod
    def available() -> bool:
        try:
            import vecclust
        except ImportError:
            return False
        return hasattr(vecclust, "MultiTenantIndex")

    def train(self, X, tenant_indptr=None, tenant_members=None):
        self.index.train(X)

    def add(self, X, ids, owner):
        self.index.add(X, np.asarray(ids, dtype=np.int64), int(owner))

    def grant(self, ids, tenant):
        self.index.grant(np.asarray(ids, dtype=np.int64), int(tenant))

    def remove(self, ids):
        self.index.remove(np.asarray(ids, dtype=np.int64))

    def set_knob(self, value):
        self.budget = int(value)

    def search(self, q, tenant, k=K):
        _, ids = self.index.search(q, int(tenant), k=k, budget=self.budget)
        return np.asarray(ids[0], dtype=np.int64)

    def memory_bytes(self):
        return {key: int(value) for key, value in self.index.memory_usage().items()}


def make_method(name: str, dim: int, n_ids: int, n_tenants: int):
    """The method `name` sized for ids 0..n_ids-1 and tenants 0..n_tenants-1."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; expected one of {METHODS}")
    cls = next(c for c in (SharedIVFBitmap, SharedIVFBatch, PerTenantIVF, SharedHNSW, PerTenantHNSW, Vecclust)
               if c.name == name)
    if issubclass(cls, SharedIVF):
        # About sqrt(n) lists (the paper: 800 lists for 990K vectors, i.e. ~0.8 sqrt(n)).
        return cls(dim, n_ids, n_tenants, nlist=max(1, int(round(math.sqrt(n_ids)))))
    return cls(dim, n_ids, n_tenants)


METHODS = ("vecclust", "shared-ivf-bitmap", "shared-ivf-batch", "per-tenant-ivf", "shared-hnsw", "per-tenant-hnsw")
