"""The multi-tenant index against the peers users pick, on real and calibrated workloads.

    python bench/index/peer_bench.py --workload debian            # real embeddings (cached)
    python bench/index/peer_bench.py --workload calibrated --n-vectors 50000
    python bench/index/peer_bench.py --workload present           # index_workload.py's data
    python bench/index/peer_bench.py --quick                      # under a minute, a smoke run

Workloads: ``debian`` and ``pydoc`` are real sentence embeddings (real_embeddings.py: build the
cache once; the run says how when it is missing); ``calibrated`` is calibrated_workload.py's
generator (its defaults follow the Debian collection; ``--paper-scale`` gives 1,000,000 x 192
with 1,000 tenants); ``present`` is index_workload.py's workload (latent dimension 32).

Every method (index_peers.ALL_METHODS: vecclust rows from VECCLUST_CONFIGS, the Faiss, hnswlib
and usearch peers, the embedded databases) runs in a fresh worker process on the same saved
workload: build, load (the insert protocol of index_report.py; the databases load in bulk),
memory (analytic bytes, and the resident-set growth of the worker and its children), the
knob sweep of single-query calls on one thread (each query's fastest of `--rounds` passes),
the QPS of the whole query batch on all threads at the cheapest settings reaching recall@10
0.9 and 0.95, and the per-operation insert, grant and remove cost. It writes a markdown
table, the curves as a PNG and the JSON to bench/results/ (ignored by git).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR.parent / "results"
sys.path.insert(0, str(BENCH_DIR))

from calibrated_workload import CalibratedParams, make_calibrated  # noqa: E402
from index_peers import ALL_METHODS, K, cpu_count, make_peer  # noqa: E402
from index_report import load_in_insert_order, rss_bytes, run_queries, time_updates  # noqa: E402
from index_workload import Workload, WorkloadParams, filtered_ground_truth, make_workload, recall_at_k  # noqa: E402

TARGETS = (0.9, 0.95)
STOP_RECALL = 0.995
WORKLOADS = ("debian", "pydoc", "calibrated", "present")
# Methods whose searches call Python per visited node or go through a server: fewer queries.
MAX_QUERIES = {"shared-hnsw": 300, "milvus-lite": 100, "lancedb": 300, "chroma": 300}
QUICK_METHODS = ("vecclust", "shared-ivf-bitmap", "shared-ivf-batch", "shared-ivf-rabitq", "per-tenant-hnsw")
# --quick: a small calibrated workload (the test of the harness runs it).
QUICK_WORKLOAD = dict(n_vectors=4_000, dim=128, n_tenants=40, n_clusters=40, n_query_vectors=200, n_query_pairs=200,
                      top_share=0.6)
QUICK_SETTINGS = 6  # knob settings per method in --quick
MAX_UPDATES = 300
WORKER_TIMEOUT_S = 1_200
# The bars of the issue, at recall@10 >= 0.95 on one thread (reported, never asserted):
# (other method, measure, bar): latency ratio other / vecclust >= bar, or memory vecclust / other <= bar.
BARS = (("shared-ivf-batch", "latency", 10.0), ("shared-ivf-bitmap", "latency", 3.0),
        ("per-tenant-hnsw", "latency", 1.0), ("shared-ivf-bitmap", "memory", 1.3))


def tree_rss_bytes() -> int:
    """Resident set of this process and its children (Milvus Lite runs a server)."""
    try:
        import psutil
    except ImportError:
        return rss_bytes()
    me = psutil.Process()
    total = me.memory_info().rss
    for child in me.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            pass
    return total


# ----------------------------------------------------------------------------------------------
# Workloads


def build_workload(name: str, n_vectors=None, quick=False, paper_scale=False):
    """(workload, exact filtered top-K ids of its query pairs)."""
    if name in ("debian", "pydoc"):
        from real_embeddings import load, to_workload

        data = load(name)
        w = to_workload(data)
        return w, data["gt_ids"]
    if name == "calibrated":
        p = CalibratedParams.paper_scale() if paper_scale else CalibratedParams(**QUICK_WORKLOAD) if quick \
            else CalibratedParams()
        if n_vectors:
            p = dataclasses.replace(p, n_vectors=n_vectors)
        w = make_calibrated(p)
    else:
        p = WorkloadParams.quick() if quick else WorkloadParams()
        if n_vectors:
            p = dataclasses.replace(p, n_vectors=n_vectors)
        w = make_workload(p)
    return w, filtered_ground_truth(w, k=K)[0]


# ----------------------------------------------------------------------------------------------
# One method (the worker)


def batch_qps(method, queries, tenants, n_threads: int) -> float:
    """Queries per second over the whole batch: the method's own batch search where it has one,
    else the single-query calls spread over n_threads Python threads (the libraries release
    the GIL)."""
    start = time.perf_counter()
    if hasattr(method, "search_batch"):
        method.search_batch(queries, tenants, K, n_threads)
    else:
        chunks = np.array_split(np.arange(len(queries)), n_threads)

        def run(rows):
            for i in rows.tolist():
                method.search(queries[i:i + 1], int(tenants[i]), K)

        with ThreadPoolExecutor(n_threads) as pool:
            list(pool.map(run, chunks))
    return len(queries) / (time.perf_counter() - start)


def sweep(method, queries, tenants, gt_ids, rounds, settings):
    curve = []
    for value in settings:
        method.set_knob(value)
        results, latencies, _ = run_queries(method, queries, tenants, len(queries), rounds)
        curve.append({"knob": method.knob, "value": value, "recall": float(recall_at_k(results, gt_ids).mean()),
                      "mean_ms": float(latencies.mean() * 1e3), "p99_ms": float(np.quantile(latencies, 0.99) * 1e3),
                      "n_queries": len(queries)})
        if curve[-1]["recall"] >= STOP_RECALL:
            break
    return curve


def first_reaching(curve, target):
    """The smallest swept setting whose recall@10 reaches target (None if none does)."""
    return next((p for p in curve if p["recall"] >= target), None)


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def run_method(name, w: Workload, gt_ids, max_queries, rounds, quick):
    tenant_indptr, tenant_members = w.tenant_members()
    method = make_peer(name, w.params.dim, w.n_vectors, w.n_tenants)
    rss_before = tree_rss_bytes()
    build_s = timed(method.train, w.vectors, tenant_indptr, tenant_members)
    load_s = timed(method.bulk_load, w) if hasattr(method, "bulk_load") else timed(load_in_insert_order, method, w)
    memory = method.memory_bytes()
    rss_delta = tree_rss_bytes() - rss_before
    m = min(len(w.query_tenant), max_queries or len(w.query_tenant))
    queries = np.ascontiguousarray(w.queries[w.query_vector[:m]])
    tenants = w.query_tenant[:m]
    settings = tuple(method.settings)
    if quick:
        settings = settings[::max(1, len(settings) // QUICK_SETTINGS)]
    curve = sweep(method, queries, tenants, gt_ids[:m], rounds, settings)
    qps = {}
    for target in TARGETS:
        point = first_reaching(curve, target)
        if point is not None:
            method.set_knob(point["value"])
            qps[str(target)] = {"value": point["value"], "threads": cpu_count(),
                                "qps": max(batch_qps(method, queries, tenants, cpu_count()) for _ in range(2))}
    n_updates = max(1, min(30 if quick else MAX_UPDATES, w.n_vectors // 100))
    updates = time_updates(method, w, n_updates, seed=w.params.seed + 1)
    return {"build_s": build_s, "load_s": load_s, "memory": memory, "rss_delta_bytes": rss_delta, "curve": curve,
            "qps": qps, "updates": updates}


def worker_main(args) -> int:
    with np.load(args.data, allow_pickle=True) as arrays:
        w = Workload.from_arrays(arrays)
        gt_ids = np.asarray(arrays["gt_ids"])
    result = run_method(args.worker, w, gt_ids, args.max_queries, args.rounds, args.quick)
    Path(args.out).write_text(json.dumps(result))
    return 0


# ----------------------------------------------------------------------------------------------
# The comparison (the parent)


def run_worker(name, data: Path, out: Path, rounds, quick) -> dict:
    """One method in a fresh process (its resident-set growth is its own): its result, or why it failed."""
    single = name in MAX_QUERIES  # slow per query: one pass over fewer queries
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--data", str(data), "--out", str(out),
           "--rounds", str(1 if single else rounds)] + (["--quick"] if quick else [])
    if single:
        cmd += ["--max-queries", str(MAX_QUERIES[name] // (3 if quick else 1))]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S)
        error = proc.stderr.strip().splitlines()[-4:] if proc.returncode else None
    except subprocess.TimeoutExpired:
        error = [f"timed out after {WORKER_TIMEOUT_S} s"]
    result = {"failed": error} if error else json.loads(out.read_text())
    result["worker_wall_s"] = time.perf_counter() - start
    return result


def run_all(workload: str, methods, n_vectors=None, quick=False, rounds=3, paper_scale=False, log=print):
    start = time.perf_counter()
    w, gt_ids = build_workload(workload, n_vectors, quick, paper_scale)
    log(f"workload {workload}: {w.n_vectors} x {w.params.dim}, {w.n_tenants} tenants, {len(w.query_tenant)} query "
        f"pairs ({time.perf_counter() - start:.0f} s)")
    report = new_report(workload, w, quick)
    with tempfile.TemporaryDirectory(prefix="vecclust-peers-") as tmp:
        data = Path(tmp) / "workload.npz"
        np.savez(data, gt_ids=gt_ids, **w.arrays())
        for name in methods:
            report["methods"][name] = result = run_worker(name, data, Path(tmp) / f"{name}.json", rounds, quick)
            failed = result.get("failed")
            log(f"  {name}: {'FAILED ' + ' | '.join(failed) if failed else 'done'} ({result['worker_wall_s']:.0f} s)")
    report["bars"] = bar_ratios(report)
    return report


def new_report(workload, w, quick):
    from real_embeddings import top_variance_share

    stats = w.statistics()
    stats["top32_variance_share"] = top_variance_share(w.vectors[:50_000], 32)
    return {"workload": workload, "quick": quick, "statistics": stats, "k": K, "methods": {}}


def assemble(workload, folder: Path, n_vectors=None, quick=False):
    """A report from the workers' result files in `folder` (an interrupted run's, or rows run
    separately with --worker on the same saved workload)."""
    w, _ = build_workload(workload, n_vectors, quick)
    report = new_report(workload, w, quick)
    for name in ALL_METHODS:
        path = folder / f"{name}.json"
        if path.exists():
            report["methods"][name] = json.loads(path.read_text())
    report["bars"] = bar_ratios(report)
    return report


def bar_ratios(report):
    """The issue's ratios at recall@10 >= 0.95 (and the same at 0.9), vecclust rows against peers."""
    out = {}
    methods = report["methods"]
    for ours in (n for n in methods if n.startswith("vecclust") and "curve" in methods[n]):
        for target in TARGETS:
            vc = first_reaching(methods[ours]["curve"], target)
            for other, measure, bar in BARS:
                theirs = methods.get(other, {})
                point = first_reaching(theirs.get("curve", []), target)
                if vc is None or point is None:
                    ratio = None
                elif measure == "latency":
                    ratio = point["mean_ms"] / vc["mean_ms"]
                else:
                    ratio = methods[ours]["memory"]["total"] / theirs["memory"]["total"]
                passed = None if ratio is None else (ratio >= bar if measure == "latency" else ratio <= bar)
                out[f"{ours} vs {other} {measure} @{target}"] = {"ratio": ratio, "bar": bar, "pass": passed}
    return out


def markdown(report) -> str:
    s = report["statistics"]
    sizes = s["tenant_size_quantiles"]
    lines = [f"## Multi-tenant index peers: workload `{report['workload']}`{' (quick)' if report['quick'] else ''}", "",
             f"{s['n_vectors']} vectors x {s['dim']}, {s['n_tenants']} tenants (sizes {sizes['0.0']:.0f} / "
             f"{sizes['0.5']:.0f} / {sizes['1.0']:.0f} min / median / max), mean sharing degree "
             f"{s['sharing_degree_mean']:.2f}, top-32 variance share {s['top32_variance_share']:.3f}, "
             f"{s['n_query_pairs']} query pairs, k = {report['k']}.", "",
             "Latency: single-query calls on one thread (each query's fastest pass). QPS: the whole batch on all "
             "threads. Memory: analytic bytes (databases: on disk) and the RSS growth of the worker and its "
             "children. Updates: mean µs per call.", "",
             "| method | recall target | setting | recall@10 | mean ms | p99 ms | QPS (threads) | memory MiB "
             "| RSS delta MiB | build s | load s | insert µs | grant µs | remove µs |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in report["methods"].items():
        if "curve" not in r:
            lines.append(f"| {name} | failed: {' '.join(r.get('failed') or [])[:300]} |" + " |" * 12)
            continue
        u = r["updates"]
        cost = [f"{u[op]['mean_us']:.0f}" if u.get(op) else "—" for op in ("insert", "grant", "remove")]
        for target in TARGETS:
            p = first_reaching(r["curve"], target)
            mark = ""
            if p is None:
                p, mark = max(r["curve"], key=lambda c: c["recall"]), " (best)"
            q = r["qps"].get(str(target))
            qps = f"{q['qps']:.0f} ({q['threads']})" if q else "—"
            lines.append(f"| {name} | {target} | {p['knob']}={p['value']}{mark} | {p['recall']:.3f} | {p['mean_ms']:.3f} "
                         f"| {p['p99_ms']:.3f} | {qps} | {r['memory']['total'] / 2**20:.1f} "
                         f"| {r['rss_delta_bytes'] / 2**20:.1f} | {r['build_s']:.1f} | {r['load_s']:.1f} | "
                         + " | ".join(cost) + " |")
    lines += ["", "Ratios (latency: peer / vecclust, need >= bar; memory: vecclust / peer, need <= bar):", ""]
    for key, c in report["bars"].items():
        ratio = "n/a" if c["ratio"] is None else f"{c['ratio']:.2f}x"
        verdict = "" if c["pass"] is None else (" ok" if c["pass"] else " not met")
        lines.append(f"- {key}: {ratio} (bar {c['bar']:g}){verdict}")
    lines += ["", "### Curves", "", "| method | setting | recall@10 | mean ms | p99 ms |", "|---|---|---:|---:|---:|"]
    for name, r in report["methods"].items():
        lines += [f"| {name} | {p['knob']}={p['value']} | {p['recall']:.3f} | {p['mean_ms']:.3f} | {p['p99_ms']:.3f} |"
                  for p in r.get("curve", [])]
    return "\n".join(lines) + "\n"


def plot(report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    for name, r in report["methods"].items():
        curve = r.get("curve")
        if curve:
            ax.plot([p["recall"] for p in curve], [p["mean_ms"] for p in curve], marker="o", ms=3, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("recall@10")
    ax.set_ylabel("mean latency per query, ms (one thread)")
    ax.axvline(0.95, color="grey", lw=0.6, ls="--")
    ax.set_title(f"{report['workload']}: {report['statistics']['n_vectors']} x {report['statistics']['dim']}, "
                 f"{report['statistics']['n_tenants']} tenants")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=WORKLOADS, default="calibrated")
    parser.add_argument("--quick", action="store_true", help="small calibrated workload, fewer peers and settings")
    parser.add_argument("--methods", nargs="+", choices=ALL_METHODS, default=None)
    parser.add_argument("--skip", nargs="+", choices=ALL_METHODS, default=(), help="methods left out")
    parser.add_argument("--n-vectors", type=int, default=None)
    parser.add_argument("--paper-scale", action="store_true", help="calibrated: 1,000,000 x 192, 1,000 tenants")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--assemble", type=Path, default=None, metavar="DIR",
                        help="only write the report from the METHOD.json files of the workers in DIR")
    # What the parent passes its workers.
    parser.add_argument("--worker", choices=ALL_METHODS, help=argparse.SUPPRESS)
    for hidden in ("--data", "--out"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    parser.add_argument("--max-queries", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args)
    methods = args.methods or (QUICK_METHODS if args.quick else ALL_METHODS)
    methods = [m for m in methods if m not in args.skip]
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    try:
        if args.assemble:
            report = assemble(args.workload, args.assemble, args.n_vectors, args.quick)
        else:
            report = run_all(args.workload, methods, args.n_vectors, args.quick, args.rounds, args.paper_scale, log)
    except FileNotFoundError as exc:  # the real-embedding cache is missing: say how to build it
        print(exc, file=sys.stderr)
        return 2
    stem = f"index_peers_{args.workload}{'_quick' if args.quick else ''}"
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"{stem}.json").write_text(json.dumps(report, indent=1))
    text = markdown(report)
    (args.results / f"{stem}.md").write_text(text)
    plot(report, args.results / f"{stem}.png")
    print(text)
    log(f"results in {args.results}/{stem}.{{json,md,png}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
