"""More multi-tenant peers for the index benchmark, with the interface of index_baselines.py.

* ``shared-ivf-rabitq``: one Faiss IndexIVFRaBitQ (4-bit extended RaBitQ codes, 8-bit queries),
  filtered by the same cached per-tenant IDSelectorBitmap as shared-ivf-bitmap; no raw vectors
  are kept, so its distances are estimates. Knob: nprobe.
* ``shared-ivf-rabitq-rerank``: the same with 1-bit codes, 10k candidates re-ranked exactly on
  the raw vectors (kept, and counted). Knob: nprobe.
* ``per-tenant-usearch``: one usearch HNSW index per tenant (connectivity 16, expansion_add 64);
  a grant copies the vector. Knob: expansion_search.
* ``milvus-lite``: Milvus Lite (pymilvus, a local server on a file), one collection with an
  IVF_FLAT index and the tenants of each vector in an ARRAY field, searched with the filter
  expression ``array_contains(tenants, t)`` (Milvus Lite refuses a scalar index on an ARRAY
  field, so the filter reads every row: ~150 ms a query here) at consistency level
  "Eventually". Knob: nprobe.
* ``lancedb``: one LanceDB table (vector, tenants list) with an IVF_FLAT index, searched with
  ``array_has(tenants, t)`` as a pre-filter. Knob: nprobes.
* ``chroma``: one Chroma collection (HNSW, l2) with a boolean metadata key per tenant, searched
  with ``where={"t<id>": True}``. Knob: ef_search.

The databases load in bulk (``bulk_load``: each vector once, with its whole tenant list, as an
application importing its data would) instead of the per-batch add-then-grant protocol, which
would take one call per (batch, tenant); their grant rewrites the row's tenant list. Their
memory is what they keep on disk plus, in the benchmark, the resident-set growth of the process
and its children (Milvus Lite's server).

``make_peer(name, dim, n_ids, n_tenants)`` builds any method of index_baselines.METHODS or of
PEERS; ``vecclust`` rows come from VECCLUST_CONFIGS (constructor keyword arguments and budgets).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from index_baselines import (
    BUDGET_GRID, EF_GRID, HNSW_EF_CONSTRUCTION, HNSW_FIXED_BYTES, HNSW_M, K, METHODS as BASELINES, NPROBE_GRID, SharedIVFBitmap,
    Vecclust, _HolderLists, access_list_bytes, hnsw_bytes, make_method,
)

# vecclust rows: name -> (MultiTenantIndex keyword arguments, budgets swept). A new index option
# is one more line here.
VECCLUST_CONFIGS = {
    "vecclust": ({}, BUDGET_GRID),
    "vecclust-exact": ({"sign_codes": "off"}, BUDGET_GRID),  # the rigorous bounds alone
}
RERANK_FACTOR = 10


def dir_bytes(path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


class SharedIVFRaBitQ(SharedIVFBitmap):
    name = "shared-ivf-rabitq"

    def __init__(self, dim, n_ids, n_tenants, nlist, nb_bits=4, rerank=0):
        super().__init__(dim, n_ids, n_tenants, nlist)
        faiss = self._faiss
        self.index = faiss.IndexIVFRaBitQ(faiss.IndexFlatL2(dim), dim, nlist, faiss.METRIC_L2, True, nb_bits)
        self.rerank = rerank
        self.raw = np.zeros((n_ids, dim), dtype=np.float32) if rerank else None

    def add(self, X, ids, owner):
        super().add(X, ids, owner)
        if self.raw is not None:
            self.raw[np.asarray(ids)] = X

    def search(self, q, tenant, k=K):
        params = self._faiss.IVFRaBitQSearchParameters()
        params.sel, params.nprobe, params.qb = self._selector(tenant), self.nprobe, 8
        if not self.rerank:
            _, ids = self.index.search(q, k, params=params)
            return ids[0]
        _, ids = self.index.search(q, k * self.rerank, params=params)
        cand = ids[0][ids[0] >= 0]
        d = ((self.raw[cand] - q[0]) ** 2).sum(axis=1)
        return cand[np.argsort(d, kind="stable")[:k]]

    def memory_bytes(self):
        n, d = self.index.ntotal, self.index.d
        parts = {"codes": n * self.index.code_size, "ids": n * 8, "centroids": self.nlist * d * 4,
                 **self._access_bytes()}
        if self.raw is not None:
            parts["vectors"] = n * d * 4
        parts["total"] = sum(parts.values())
        return parts


class SharedIVFRaBitQRerank(SharedIVFRaBitQ):
    name = "shared-ivf-rabitq-rerank"

    def __init__(self, dim, n_ids, n_tenants, nlist):
        super().__init__(dim, n_ids, n_tenants, nlist, nb_bits=1, rerank=RERANK_FACTOR)


class PerTenantUsearch:
    name = "per-tenant-usearch"
    knob = "expansion_search"
    settings = EF_GRID

    def __init__(self, dim, n_ids, n_tenants):
        from usearch.index import Index

        self.dim = dim
        self.indexes = [Index(ndim=dim, metric="l2sq", dtype="f32", connectivity=HNSW_M,
                              expansion_add=HNSW_EF_CONSTRUCTION) for _ in range(n_tenants)]
        self.holders = _HolderLists(n_ids, n_tenants)
        self._vectors = None

    def train(self, X, tenant_indptr=None, tenant_members=None):
        self._vectors = X

    def add(self, X, ids, owner):
        self.indexes[owner].add(np.asarray(ids, dtype=np.uint64), X, threads=1)
        self.holders.add(np.asarray(ids).tolist(), owner)

    def grant(self, ids, tenant):
        ids = np.asarray(ids, dtype=np.int64)
        self.indexes[tenant].add(ids.astype(np.uint64), np.ascontiguousarray(self._vectors[ids]), threads=1)
        self.holders.add(ids.tolist(), tenant)

    def remove(self, ids):
        for i in np.asarray(ids, dtype=np.int64).tolist():
            for t in self.holders.pop(i):
                self.indexes[t].remove(i)

    def set_knob(self, value):
        for index in self.indexes:
            index.expansion_search = int(value)

    def search(self, q, tenant, k=K):
        matches = self.indexes[tenant].search(q[0], k, threads=1)
        return np.asarray(matches.keys, dtype=np.int64)

    def memory_bytes(self):
        # usearch's own memory_usage counts the capacity it reserved ahead (megabytes per small
        # index): the analytic size of what is stored is counted, and the reserve shown apart.
        stored = [len(index) for index in self.indexes]
        parts = {"graphs_and_vectors": sum(hnsw_bytes(n, n, self.dim, HNSW_M) - HNSW_FIXED_BYTES for n in stored),
                 "access_lists": access_list_bytes(len(self.holders.lists), self.holders.n_pairs)}
        parts["total"] = sum(parts.values())
        parts["reserved_by_library"] = int(sum(index.memory_usage for index in self.indexes))
        return parts


class _Database:
    """A vector database on a temporary folder; rows carry their tenant list."""

    def __init__(self, dim, n_ids, n_tenants):
        self.dim, self.nlist = dim, max(1, int(round(math.sqrt(n_ids))))
        self.folder = Path(tempfile.mkdtemp(prefix=f"vecclust-{self.name}-"))
        self.tenant_lists = [[] for _ in range(n_ids)]  # the application's copy, to rewrite a row
        self._vectors = None
        self.setting = None

    def train(self, X, tenant_indptr=None, tenant_members=None):
        self._vectors = X

    def bulk_load(self, w):
        order = w.insert_order
        for start in range(0, len(order), 5_000):
            ids = np.sort(order[start:start + 5_000])
            lists = [w.tenants_of(i).tolist() for i in ids.tolist()]
            for i, ts in zip(ids.tolist(), lists):
                self.tenant_lists[i] = ts
            self._insert(ids, w.vectors[ids], lists)
        self._finish_load()

    def add(self, X, ids, owner):
        ids = np.asarray(ids, dtype=np.int64)
        for i in ids.tolist():
            self.tenant_lists[i] = [int(owner)]
        self._insert(ids, X, [[int(owner)] for _ in ids])

    def grant(self, ids, tenant):
        ids = np.asarray(ids, dtype=np.int64)
        for i in ids.tolist():
            self.tenant_lists[i] = sorted(set(self.tenant_lists[i]) | {int(tenant)})
        self._rewrite(ids)

    def set_knob(self, value):
        self.setting = int(value)

    def memory_bytes(self):
        parts = {"on_disk": dir_bytes(self.folder)}
        parts["total"] = sum(parts.values())
        return parts

    def _finish_load(self):
        pass

    def __del__(self):
        shutil.rmtree(getattr(self, "folder", ""), ignore_errors=True)


class MilvusLite(_Database):
    name = "milvus-lite"
    knob = "nprobe"

    def __init__(self, dim, n_ids, n_tenants):
        super().__init__(dim, n_ids, n_tenants)
        from pymilvus import DataType, MilvusClient

        self.client = MilvusClient(str(self.folder / "milvus.db"))
        schema = self.client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("tenants", DataType.ARRAY, element_type=DataType.INT64, max_capacity=4096)
        index = self.client.prepare_index_params()
        index.add_index(field_name="vec", index_type="IVF_FLAT", metric_type="L2", params={"nlist": self.nlist})
        self.client.create_collection("vectors", schema=schema, index_params=index)

    @property
    def settings(self):
        return tuple(p for p in NPROBE_GRID if p <= self.nlist)

    def _insert(self, ids, X, lists):
        self.client.insert("vectors", [{"id": int(i), "vec": x, "tenants": ts}
                                       for i, x, ts in zip(ids.tolist(), np.asarray(X).tolist(), lists)])

    def _finish_load(self):
        self.client.flush("vectors")
        self.client.load_collection("vectors")

    def _rewrite(self, ids):
        self.client.upsert("vectors", [{"id": i, "vec": self._vectors[i].tolist(), "tenants": self.tenant_lists[i]}
                                       for i in ids.tolist()])

    def remove(self, ids):
        self.client.delete("vectors", ids=np.asarray(ids).tolist())

    def search(self, q, tenant, k=K):
        hits = self.client.search("vectors", data=[q[0].tolist()], limit=k, filter=f"array_contains(tenants, {tenant})",
                                  search_params={"params": {"nprobe": self.setting}}, output_fields=[],
                                  consistency_level="Eventually")  # the fastest level: no wait for new writes
        return np.array([h["id"] for h in hits[0]], dtype=np.int64)


class LanceDB(_Database):
    name = "lancedb"
    knob = "nprobes"

    def __init__(self, dim, n_ids, n_tenants):
        super().__init__(dim, n_ids, n_tenants)
        import lancedb

        self.db = lancedb.connect(str(self.folder))
        self.table = None

    @property
    def settings(self):
        return tuple(p for p in NPROBE_GRID if p <= self.nlist)

    def _arrow(self, ids, X, lists):
        import pyarrow as pa

        X = np.ascontiguousarray(X, dtype=np.float32)
        return pa.table({"id": pa.array(np.asarray(ids, dtype=np.int64)),
                         "vector": pa.FixedSizeListArray.from_arrays(pa.array(X.ravel()), self.dim),
                         "tenants": pa.array(lists, type=pa.list_(pa.int64()))})

    def _insert(self, ids, X, lists):
        if self.table is None:
            self.table = self.db.create_table("vectors", data=self._arrow(ids, X, lists))
        else:
            self.table.add(self._arrow(ids, X, lists))

    def _finish_load(self):
        self.table.create_index(metric="l2", index_type="IVF_FLAT", num_partitions=self.nlist,
                                vector_column_name="vector")

    def _rewrite(self, ids):
        for i in ids.tolist():
            self.table.update(where=f"id = {i}", values={"tenants": self.tenant_lists[i]})

    def remove(self, ids):
        self.table.delete(f"id IN ({', '.join(str(i) for i in np.asarray(ids).tolist())})")

    def search(self, q, tenant, k=K):
        found = (self.table.search(q[0]).where(f"array_has(tenants, {tenant})", prefilter=True)
                 .nprobes(self.setting).limit(k).select(["id"]).to_arrow())
        return np.asarray(found["id"].to_numpy(), dtype=np.int64)


class Chroma(_Database):
    name = "chroma"
    knob = "ef_search"
    settings = EF_GRID

    def __init__(self, dim, n_ids, n_tenants):
        super().__init__(dim, n_ids, n_tenants)
        import chromadb
        from chromadb.config import Settings

        self.client = chromadb.PersistentClient(path=str(self.folder), settings=Settings(anonymized_telemetry=False))
        self.collection = self.client.create_collection(
            "vectors", embedding_function=None,
            configuration={"hnsw": {"space": "l2", "max_neighbors": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION}})

    @staticmethod
    def _metadata(tenants):
        return {f"t{t}": True for t in tenants}

    def _insert(self, ids, X, lists):
        for start in range(0, len(ids), 4_000):  # below Chroma's largest batch
            part = slice(start, start + 4_000)
            self.collection.add(ids=[str(i) for i in ids[part].tolist()], embeddings=np.asarray(X[part]),
                                metadatas=[self._metadata(ts) for ts in lists[part]])

    def _rewrite(self, ids):
        self.collection.update(ids=[str(i) for i in ids.tolist()],
                               metadatas=[self._metadata(self.tenant_lists[i]) for i in ids.tolist()])

    def remove(self, ids):
        self.collection.delete(ids=[str(i) for i in np.asarray(ids).tolist()])

    def set_knob(self, value):
        super().set_knob(value)
        self.collection.modify(configuration={"hnsw": {"ef_search": int(value)}})

    def search(self, q, tenant, k=K):
        found = self.collection.query(query_embeddings=q, n_results=k, where={f"t{tenant}": True}, include=[])
        return np.array([int(i) for i in found["ids"][0]], dtype=np.int64)


class VecclustConfigured(Vecclust):
    """vecclust.MultiTenantIndex with one VECCLUST_CONFIGS row's options and budgets; its batch
    search runs on all threads."""

    def __init__(self, dim, n_ids, n_tenants, name="vecclust"):
        options, self.settings = VECCLUST_CONFIGS[name]
        super().__init__(dim, n_ids, n_tenants, **options)
        self.name = name

    def search_batch(self, Q, tenants, k, n_threads):
        self.index._n_threads = n_threads  # the wrapper fixes its thread count at construction
        try:
            _, ids = self.index.search(Q, np.asarray(tenants, dtype=np.int64), k=k, budget=self.budget)
        finally:
            self.index._n_threads = 1
        return ids


PEERS = {cls.name: cls for cls in (SharedIVFRaBitQ, SharedIVFRaBitQRerank, PerTenantUsearch, MilvusLite, LanceDB,
                                   Chroma)}
DATABASES = (MilvusLite.name, LanceDB.name, Chroma.name)
ALL_METHODS = tuple(VECCLUST_CONFIGS) + tuple(m for m in BASELINES if m != "vecclust") + tuple(PEERS)


def make_peer(name: str, dim: int, n_ids: int, n_tenants: int):
    if name in VECCLUST_CONFIGS:
        return VecclustConfigured(dim, n_ids, n_tenants, name)
    if name in PEERS:
        cls = PEERS[name]
        if issubclass(cls, SharedIVFRaBitQ):
            return cls(dim, n_ids, n_tenants, nlist=max(1, int(round(math.sqrt(n_ids)))))
        return cls(dim, n_ids, n_tenants)
    return make_method(name, dim, n_ids, n_tenants)


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
