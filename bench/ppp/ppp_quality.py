"""PPP quality benchmark: every method on every data set, then PPP's acceptance bars.

    python bench/ppp/ppp_quality.py                      # full run, about 9 minutes on 2 cores
    BENCH_QUICK=1 python bench/ppp/ppp_quality.py        # a subset, about 1 minute
    python bench/ppp/ppp_quality.py --runs 5 --threads 1 --json FILE  # default: bench/results/ppp_quality.json

Methods: bench/ppp/ppp_rivals.py (PPP and PPP-ICL only when vecclust has PPP). Data sets:
bench/ppp/ppp_datasets.py. Every method runs R times on every set; run r uses random_state=r and
the rows permuted by a fixed permutation (the identity for r = 0), and its labels are mapped
back to the original row order. R = 5 (quick: 3), except for the GMM-BIC sweep, which takes
1-30 s per fit and runs twice (--gmm-runs): its stability is the ARI of that one pair. Reported per method and set: ARI and NMI against the true
labels (means over the runs; HDBSCAN's noise label -1 counts as a label), k_hat (distinct
labels other than -1) and |k_hat - k|, stability (the mean ARI over all pairs of runs) and the
median fit time. PPP also runs twice on identical input, and the labels must be equal.

BLAS and OpenMP are pinned to the same number of threads for every method with threadpoolctl
(--threads, default 1); PPP gets n_threads equal to it. Times are wall-clock on a shared
machine: compare methods within one run, not across runs. The mean ARI per group and method is
also drawn (--plot, default bench/results/ppp_ari.png; --no-plot for none).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ppp_datasets  # noqa: E402
from ppp_datasets import BLOB_GROUPS, GROUPS, NULL, SHAPES, WELL_SEPARATED  # noqa: E402
from ppp_rivals import METHODS, METHODS_BY_NAME, RIVALS_CHOOSING_K  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from plots import grouped_bars  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
RESULTS_DIR = Path(__file__).resolve().parents[1] / "results"  # ignored by git

# PPP's acceptance bars
BAR_NULL_ONE_CLUSTER = 0.95  # share of null sets with k_hat = 1
BAR_SEPARATED_ARI = 0.99
BAR_SHAPES_ARI = 0.95  # on the anisotropic and the varied-spreads sets
SHAPES_WITH_BAR = ("anisotropic", "varied")
BAR_GMM_ARI_GAP = 0.02  # mean blob-grid ARI within 0.02 of the GMM-BIC sweep
BAR_SPEEDUP_VS_GMM = 5.0  # total of the median fit times


def permutation(n, run):
    """The row order of run `run`: the identity for run 0, else a fixed random permutation."""
    if run == 0:
        return np.arange(n)
    return np.random.default_rng(10_000 + run).permutation(n)


def n_found(labels):
    """The number of clusters, HDBSCAN's noise label -1 excluded."""
    return len(np.setdiff1d(np.unique(labels), [-1]))


def runs_of(method, runs, gmm_runs):
    return min(runs, gmm_runs) if method.name == "GMM-BIC" else runs


def evaluate(method, dataset, runs, threads):
    """R runs of `method` on `dataset`: metrics, stability and times."""
    X, y, k = dataset.X, dataset.y, dataset.n_clusters
    labelings, times = [], []
    for run in range(runs):
        order = permutation(len(X), run)
        X_run = np.ascontiguousarray(X[order])
        with threadpool_limits(limits=threads):
            start = time.perf_counter()
            labels_run = np.asarray(method(X_run, run, n_clusters=k, n_threads=threads))
            times.append(time.perf_counter() - start)
        labels = np.empty_like(labels_run)
        labels[order] = labels_run  # back to the original row order
        labelings.append(labels)
    k_hats = [n_found(labels) for labels in labelings]
    aris = [adjusted_rand_score(y, labels) for labels in labelings]
    nmis = [normalized_mutual_info_score(y, labels) for labels in labelings]
    pairs = list(itertools.combinations(range(runs), 2))
    stability = (float(np.mean([adjusted_rand_score(labelings[a], labelings[b]) for a, b in pairs]))
                 if pairs else None)
    result = dict(
        ari=float(np.mean(aris)), nmi=float(np.mean(nmis)), k_true=int(k), k_hats=k_hats,
        abs_k_error=float(np.mean([abs(kh - k) for kh in k_hats])),
        exact_k_rate=float(np.mean([kh == k for kh in k_hats])),
        noise_fraction=float(np.mean([np.mean(labels == -1) for labels in labelings])),
        stability=stability, median_time=float(statistics.median(times)), times=times,
    )
    if method.is_ppp:  # the same input twice must give the same labels
        with threadpool_limits(limits=threads):
            again = np.asarray(method(X, 0, n_clusters=k, n_threads=threads))
        result["repeat_identical"] = bool(np.array_equal(again, labelings[0]))
    return result


# --------------------------------------------------------------------------------------------
# Reporting


def fmt(value, digits=3):
    return "—" if value is None else f"{value:.{digits}f}"


def group_summary(results, sets, method):
    rows = [results[s.name][method] for s in sets if method in results[s.name]]
    if not rows:
        return None
    stabilities = [r["stability"] for r in rows if r["stability"] is not None]
    return dict(
        n_sets=len(rows), ari=float(np.mean([r["ari"] for r in rows])), nmi=float(np.mean([r["nmi"] for r in rows])),
        abs_k_error=float(np.mean([r["abs_k_error"] for r in rows])),
        exact_k_rate=float(np.mean([r["exact_k_rate"] for r in rows])),
        one_cluster_rate=float(np.mean([kh == 1 for r in rows for kh in r["k_hats"]])),
        stability_mean=float(np.mean(stabilities)) if stabilities else None,
        stability_min=float(np.min(stabilities)) if stabilities else None,
        total_time=float(sum(r["median_time"] for r in rows)),
    )


def group_table(title, results, sets, methods):
    lines = [f"### {title} ({len(sets)} sets)", "",
             "| method | mean ARI | mean NMI | mean abs(k_hat - k) | exact k | k_hat = 1 | stability mean (min) "
             "| total of median fit times s |",
             "|:---|---:|---:|---:|---:|---:|---:|---:|"]
    for method in methods:
        s = group_summary(results, sets, method)
        if s is None:
            continue
        lines.append(f"| {method} | {fmt(s['ari'])} | {fmt(s['nmi'])} | {fmt(s['abs_k_error'], 2)} "
                     f"| {s['exact_k_rate']:.0%} | {s['one_cluster_rate']:.0%} "
                     f"| {fmt(s['stability_mean'])} ({fmt(s['stability_min'])}) | {s['total_time']:.2f} |")
    return lines + [""]


def detail_table(results, sets, methods):
    """One row per set; cells: k_hat (of run 0) / ARI / stability / median s."""
    header = "| set | k | " + " | ".join(methods) + " |"
    lines = ["Cells: k_hat (run 0) / mean ARI / stability / median fit s.", "", header,
             "|:---|---:|" + "---:|" * len(methods)]
    for s in sets:
        cells = []
        for method in methods:
            r = results[s.name].get(method)
            cells.append("—" if r is None else
                         f"{r['k_hats'][0]} / {r['ari']:.3f} / {fmt(r['stability'], 2)} / {r['median_time']:.2f}")
        lines.append(f"| {s.name} | {s.n_clusters} | " + " | ".join(cells) + " |")
    return lines + [""]


def summary_table(results, sets, methods):
    blobs = [s for s in sets if s.group in BLOB_GROUPS]
    nulls = [s for s in sets if s.group == NULL]
    gmm_total = group_summary(results, sets, "GMM-BIC")
    lines = ["### Summary", "",
             "| method | mean ARI, blob grid | mean ARI, all sets | k_hat = 1 on null sets | mean stability "
             "| total of median fit times s | GMM-BIC time / method time |",
             "|:---|---:|---:|---:|---:|---:|---:|"]
    for method in methods:
        all_sets = group_summary(results, sets, method)
        if all_sets is None:
            continue
        blob = group_summary(results, blobs, method)
        null = group_summary(results, nulls, method)
        ratio = (gmm_total["total_time"] / all_sets["total_time"]
                 if gmm_total and all_sets["total_time"] > 0 else None)
        lines.append(f"| {method} | {fmt(blob and blob['ari'])} | {fmt(all_sets['ari'])} "
                     f"| {'—' if null is None else format(null['one_cluster_rate'], '.0%')} "
                     f"| {fmt(all_sets['stability_mean'])} | {all_sets['total_time']:.2f} "
                     f"| {'—' if ratio is None else f'{ratio:.1f}x'} |")
    return lines + [""]


def bar_checks(results, sets, ppp="PPP"):
    """PPP's acceptance bars as (description, measured, passed) rows."""
    ran = [s for s in sets if ppp in results[s.name]]
    if not ran:
        return []
    rows = []

    def row(text, measured, ok):
        rows.append((text, measured, bool(ok)))

    unstable = [s.name for s in ran if results[s.name][ppp]["stability"] not in (None, 1.0)]
    changed = [s.name for s in ran if not results[s.name][ppp].get("repeat_identical", True)]
    row("stability exactly 1.0 on every set (seeds and row permutations)",
        f"{len(ran) - len(unstable)}/{len(ran)} sets" + (f"; not: {', '.join(unstable[:5])}" if unstable else ""),
        not unstable)
    row("identical labels on repeated identical input", f"{len(ran) - len(changed)}/{len(ran)} sets", not changed)

    nulls = [s for s in ran if s.group == NULL]
    if nulls:
        def one_cluster_rate(kinds):
            hits = [kh == 1 for s in nulls if s.params["kind"] in kinds for kh in results[s.name][ppp]["k_hats"]]
            return f"{np.mean(hits):.1%}" if hits else "—"

        one = [kh == 1 for s in nulls for kh in results[s.name][ppp]["k_hats"]]
        row(f"one cluster on >= {BAR_NULL_ONE_CLUSTER:.0%} of the null sets (all runs)",
            f"{np.mean(one):.1%} (one Gaussian: {one_cluster_rate(('gaussian',))}, "
            f"uniform cube: {one_cluster_rate(('uniform',))})", np.mean(one) >= BAR_NULL_ONE_CLUSTER)

    separated = [s for s in ran if s.group == WELL_SEPARATED]
    if separated:
        aris = {s.name: results[s.name][ppp]["ari"] for s in separated}
        low = [name for name, a in aris.items() if a < BAR_SEPARATED_ARI]
        row(f"ARI >= {BAR_SEPARATED_ARI} on every well-separated blob set",
            f"min {min(aris.values()):.4f}, {len(separated) - len(low)}/{len(separated)} sets"
            + (f"; below: {', '.join(low[:5])}" if low else ""), not low)

    shapes = [s for s in ran if s.group == SHAPES and s.params["kind"] in SHAPES_WITH_BAR]
    if shapes:
        aris = {s.name: results[s.name][ppp]["ari"] for s in shapes}
        row(f"ARI >= {BAR_SHAPES_ARI} on the anisotropic and varied-spreads sets",
            ", ".join(f"{name} {a:.4f}" for name, a in aris.items()), min(aris.values()) >= BAR_SHAPES_ARI)

    blobs = [s for s in ran if s.group in BLOB_GROUPS]
    if blobs:
        own = group_summary(results, blobs, ppp)["ari"]
        rivals = {m: group_summary(results, blobs, m) for m in RIVALS_CHOOSING_K}
        rivals = {m: s["ari"] for m, s in rivals.items() if s is not None}
        if rivals:
            best = max(rivals, key=rivals.get)
            row("mean blob-grid ARI >= the best of X-means, G-means, HDBSCAN",
                f"PPP {own:.4f} vs {best} {rivals[best]:.4f}", own >= rivals[best])
        gmm = group_summary(results, blobs, "GMM-BIC")
        if gmm is not None:
            row(f"mean blob-grid ARI within {BAR_GMM_ARI_GAP} of the GMM-BIC sweep",
                f"PPP {own:.4f} vs GMM-BIC {gmm['ari']:.4f}", own >= gmm["ari"] - BAR_GMM_ARI_GAP)

    gmm_all = group_summary(results, ran, "GMM-BIC")
    if gmm_all is not None:
        own_time = group_summary(results, ran, ppp)["total_time"]
        speedup = gmm_all["total_time"] / own_time if own_time > 0 else float("inf")
        row(f">= {BAR_SPEEDUP_VS_GMM:g}x faster than the GMM-BIC sweep (total of median fit times)",
            f"{speedup:.1f}x ({own_time:.2f} s vs {gmm_all['total_time']:.2f} s)", speedup >= BAR_SPEEDUP_VS_GMM)
    return rows


def report(results, sets, methods, meta, details_for_blobs):
    lines = [f"PPP quality benchmark: {len(sets)} sets, {meta['runs']} runs each ({meta['gmm_runs']} for GMM-BIC), "
             f"BLAS/OpenMP threads pinned to "
             f"{meta['threads']} for every method{' (BENCH_QUICK subset)' if meta['quick'] else ''}.", ""]
    if not any(m.startswith("PPP") for m in methods):
        lines += ["vecclust.PPP is not available: only the rivals ran, PPP's bars are not checked.", ""]
    for group in GROUPS:
        members = [s for s in sets if s.group == group]
        if not members:
            continue
        lines += group_table(group, results, members, methods)
        if group not in BLOB_GROUPS or details_for_blobs:
            lines += detail_table(results, members, methods)
    lines += summary_table(results, sets, methods)
    checks = bar_checks(results, sets)
    if checks:
        lines += ["### PPP bars", "", "| bar | measured | met |", "|:---|:---|:---:|"]
        lines += [f"| {text} | {measured} | {'yes' if ok else '**no**'} |" for text, measured, ok in checks]
        lines += ["", f"PPP bars met: {sum(ok for *_, ok in checks)}/{len(checks)}."]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=RESULTS_DIR / "ppp_quality.json",
                        help="where to write the results (default: bench/results/ppp_quality.json, ignored by git)")
    parser.add_argument("--runs", type=int, default=None, help="runs per method and set (default: 5, quick: 3)")
    parser.add_argument("--gmm-runs", type=int, default=2, help="runs of the slow GMM-BIC sweep (default: 2)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads and PPP n_threads (default: 1)")
    parser.add_argument("--quick", action="store_true", default=QUICK, help="the small subset (also BENCH_QUICK=1)")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS_BY_NAME), help="only these methods")
    parser.add_argument("--groups", nargs="+", choices=list(GROUPS), help="only these groups of sets")
    parser.add_argument("--details", action="store_true", help="also print one row per blob-grid set")
    parser.add_argument("--plot", type=Path, default=RESULTS_DIR / "ppp_ari.png",
                        help="the figure of mean ARI per group and method (default: bench/results/ppp_ari.png)")
    parser.add_argument("--no-plot", action="store_true", help="print the tables only")
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.quick else 5)
    if runs < 2 or args.gmm_runs < 2:
        parser.error("--runs and --gmm-runs must be at least 2 (stability compares pairs of runs)")

    methods = [m for m in METHODS if (not args.methods or m.name in args.methods)]
    skipped = [m.name for m in methods if not m.available()]
    methods = [m for m in methods if m.available()]
    if skipped:
        print(f"skipped (vecclust.PPP not available): {', '.join(skipped)}", file=sys.stderr)
    sets = [s for s in ppp_datasets.datasets(quick=args.quick) if not args.groups or s.group in args.groups]

    meta = dict(runs=runs, gmm_runs=min(runs, args.gmm_runs), threads=args.threads, quick=args.quick,
                methods=[m.name for m in methods], skipped=skipped, python=platform.python_version(),
                machine=platform.machine(), cpu_count=os.cpu_count(),
                versions=_versions(), threadpools=[{k: p.get(k) for k in ("user_api", "internal_api", "version")}
                                                   for p in threadpool_info()])
    results, started = {}, time.perf_counter()
    for i, dataset in enumerate(sets, 1):
        results[dataset.name] = {}
        for method in methods:
            results[dataset.name][method.name] = evaluate(method, dataset, runs_of(method, runs, args.gmm_runs),
                                                          args.threads)
        cells = ", ".join(f"{m}: k={r['k_hats'][0]} ARI={r['ari']:.3f}" for m, r in results[dataset.name].items())
        print(f"[{i}/{len(sets)} {time.perf_counter() - started:.0f}s] {dataset.name}: {cells}", file=sys.stderr,
              flush=True)
    meta["elapsed_s"] = time.perf_counter() - started

    method_names = [m.name for m in methods]
    text = report(results, sets, method_names, meta, args.details)
    print(text)
    payload = dict(meta=meta, bars=[dict(bar=t, measured=m, met=ok) for t, m, ok in bar_checks(results, sets)],
                   sets=[dict(name=s.name, group=s.group, k=s.n_clusters, n=len(s.X), d=s.X.shape[1], params=s.params,
                              oracle_ari=s.oracle_ari, results=results[s.name]) for s in sets])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(payload, indent=1))
    print(f"\nresults written to {args.json}", file=sys.stderr)
    if not args.no_plot:
        plot_ari(results, sets, method_names, meta, args.plot)
    return 0


def plot_ari(results, sets, methods, meta, path):
    """Mean ARI per group of sets (one block per group, one bar per method)."""
    values = {}
    for group in GROUPS:
        members = [s for s in sets if s.group == group]
        summaries = {m: group_summary(results, members, m) for m in methods} if members else {}
        if any(summaries.values()):
            values[f"{group} ({len(members)})"] = {m: s["ari"] for m, s in summaries.items() if s is not None}
    grouped_bars(values, path, f"PPP and its rivals: mean ARI per group of data sets ({meta['runs']} runs each"
                 f"{', BENCH_QUICK subset' if meta['quick'] else ''})", "mean adjusted Rand index (1: the true "
                 "partition; null sets: one cluster)")


def _versions():
    import scipy
    import sklearn

    out = dict(numpy=np.__version__, scipy=scipy.__version__, sklearn=sklearn.__version__)
    try:
        import vecclust

        out["vecclust"] = getattr(vecclust, "__version__", "?")
    except ImportError:
        pass
    return out


if __name__ == "__main__":
    sys.exit(main())
