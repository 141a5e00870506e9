"""Summarise a pytest-benchmark JSON file of the vecclust benchmarks as markdown tables.

    python bench/report.py bench.json

For every (n, k, threads) the ratio median time of kmedoids / median time of vecclust (> 1 means
vecclust is faster), the medians themselves and both losses; then the same for the end-to-end
pipeline (sklearn pairwise_distances + kmedoids.fasterpam vs vecclust.KMedoids.fit). The ratios
are what to quote: the absolute times depend on the (shared, noisy) machine.

Then, from test_bench_clara.py: CLARA / CLARANS against full FasterPAM (median-time ratio
FasterPAM / method at the same thread setting, loss gap in %, and whether the target bars are
met), the CLARA scale run (time and peak extra memory / data size) and vecclust.CLARANS vs
pyclustering's CLARANS (time ratio pyclustering / vecclust and both losses).

Then, from test_bench_kmeans.py: vecclust.KMeans vs scikit-learn's KMeans from the same initial
centres (median-time ratio sklearn / vecclust, inertia and iterations of both).

From test_bench_ppp.py: PPP against the GMM-BIC sweep (median-time ratio GMM-BIC / PPP, k_hat,
ARI) and PPP on a million points (time against the 60 s bar).

From test_bench_gmm.py: Gaussian mixture EM, the median-time ratio scikit-learn / vecclust from
the same initial parameters, both final lower bounds (mean log-likelihoods) and iteration counts.

Then draws every ratio against a peer as one bar chart (--plot, default
bench/results/speed_ratios.png; --no-plot for none).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plots import RESULTS_DIR, ratio_bars  # noqa: E402

LIBRARIES = ("vecclust", "kmedoids")
THREAD_ORDER = {"1": 0, "all": 1}


def load(path):
    with open(path) as f:
        data = json.load(f)
    return data, load_data(data)


def load_data(data):
    rows = {}  # (bench, n, k, threads) -> {library: (median, rounds, extra_info)}
    for b in data.get("benchmarks", []):
        info = b.get("extra_info", {})
        if info.get("bench") not in ("fasterpam", "end_to_end") or info.get("library") not in LIBRARIES:
            continue
        key = (info["bench"], int(info["n"]), int(info["k"]), str(info["threads"]))
        rows.setdefault(key, {})[info["library"]] = (b["stats"]["median"], b["stats"]["rounds"], info)
    return rows


def fmt_time(entry):
    return "—" if entry is None else f"{entry[0]:.4f} ({entry[1]})"


def fmt_loss(entry):
    return "—" if entry is None else f"{entry[2]['loss']:.10g}"


def ratio_and_diff(libs):
    vc, km = libs.get("vecclust"), libs.get("kmedoids")
    ratio = f"**{km[0] / vc[0]:.2f}**" if vc and km and vc[0] > 0 else "—"
    if vc and km:
        diff = (km[2]["loss"] - vc[2]["loss"]) / vc[2]["loss"]
    else:  # one side missing: fall back to the loss the benchmark recorded for the other library
        info = (vc or km)[2]
        diff = info.get("rel_loss_diff")
    return ratio, "—" if diff is None else f"{diff:.2e}"


def table(rows, bench, title, km_label):
    keys = sorted((key for key in rows if key[0] == bench), key=lambda t: (t[1], t[2], THREAD_ORDER.get(t[3], 9)))
    if not keys:
        return []
    out = [
        f"### {title}",
        "",
        f"| n | k | threads | {km_label} median s (rounds) | vecclust median s (rounds) "
        f"| ratio {km_label} / vecclust | loss {km_label} | loss vecclust | rel. loss diff |",
        "|---:|---:|:---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key in keys:
        libs = rows[key]
        ratio, diff = ratio_and_diff(libs)
        km, vc = libs.get("kmedoids"), libs.get("vecclust")
        out.append(f"| {key[1]} | {key[2]} | {key[3]} | {fmt_time(km)} | {fmt_time(vc)} | {ratio} "
                   f"| {fmt_loss(km)} | {fmt_loss(vc)} | {diff} |")
    return out + [""]


CLARA_METHOD_ORDER = {"fasterpam": 0, "clara": 1, "clara_large": 2, "clarans": 3}


def clara_entries(data, bench):
    """(median, rounds, extra_info) of every benchmark of test_bench_clara.py of kind `bench`."""
    return [(b["stats"]["median"], b["stats"]["rounds"], b.get("extra_info", {}))
            for b in data.get("benchmarks", []) if b.get("extra_info", {}).get("bench") == bench]


def yes_no(ok):
    return "—" if ok is None else ("yes" if ok else "**no**")


def clara_quality_table(data):
    entries = clara_entries(data, "clara_quality")
    if not entries:
        return []
    reference = {}  # (n, k, threads) -> the full FasterPAM row
    for entry in entries:
        info = entry[2]
        if info["method"] == "fasterpam":
            reference[(info.get("dataset"), info["n"], info["k"], str(info["threads"]))] = entry
    entries.sort(key=lambda e: (e[2].get("dataset", ""), e[2]["n"], e[2]["k"],
                                THREAD_ORDER.get(str(e[2]["threads"]), 9), CLARA_METHOD_ORDER.get(e[2]["method"], 9)))
    first = entries[0][2]
    out = [
        f"### CLARA / CLARANS vs full FasterPAM (vecclust.KMedoids, distance matrix included), "
        f"{first['n_features']}-d float32 (blobs: make_blobs; random_cov: clusters with random covariances)",
        "",
        "Ratio > 1: the method is faster than full FasterPAM at the same thread setting. Loss gap: "
        "(inertia - FasterPAM's) / FasterPAM's. Bars (reported, not enforced): loss within "
        "3% (CLARA) or 2% (CLARANS) and >= 10x faster.",
        "",
        "| data | n | k | threads | method | median s (rounds) | ratio FasterPAM / method | inertia | loss gap "
        "| loss bar met | speed bar met |",
        "|:---|---:|---:|:---:|:---|---:|---:|---:|---:|:---:|:---:|",
    ]
    for median, rounds, info in entries:
        ref = reference.get((info.get("dataset"), info["n"], info["k"], str(info["threads"])))
        ratio = ref[0] / median if ref and median > 0 else None
        ref_loss = ref[2]["loss"] if ref else info.get("loss_fasterpam")
        gap = (info["loss"] - ref_loss) / ref_loss if ref_loss else info.get("loss_gap")
        loss_bar, speed_bar = info.get("loss_gap_bar"), info.get("speedup_bar")
        loss_ok = None if loss_bar is None or gap is None else gap <= loss_bar
        speed_ok = None if speed_bar is None or ratio is None else ratio >= speed_bar
        bar_text = "" if loss_bar is None else f" (≤ {loss_bar:.0%})"
        speed_text = "" if speed_bar is None else f" (≥ {speed_bar:g}x)"
        out.append(
            f"| {info.get('dataset', 'blobs')} | {info['n']} | {info['k']} | {info['threads']} "
            f"| {info.get('label', info['method'])} "
            f"| {median:.4f} ({rounds}) | {'—' if ratio is None else f'**{ratio:.2f}**'} | {info['loss']:.10g} "
            f"| {'—' if gap is None else f'{gap:+.2%}'} | {yes_no(loss_ok)}{bar_text} | {yes_no(speed_ok)}{speed_text} |")
    return out + [""]


def clara_scale_table(data):
    entries = clara_entries(data, "clara_scale")
    if not entries:
        return []
    out = [
        "### CLARA at scale (defaults, all threads; memory measured in a fresh subprocess)",
        "",
        "Peak extra memory: the fit's resident-set high-water mark minus the resident set before it "
        "(imports and data in place). Bars: under 30 s, peak extra under 1x the data (total under 2x).",
        "",
        "| n | d | k | fit s (rounds) | < 30 s | subprocess fit s | data MB | peak extra MB | extra / data "
        "| < 1x | inertia |",
        "|---:|---:|---:|---:|:---:|---:|---:|---:|---:|:---:|---:|",
    ]
    for median, rounds, info in sorted(entries, key=lambda e: (e[2]["n"], e[2]["k"])):
        time_ok = median < info.get("time_bar_s", float("inf"))
        ratio = info.get("peak_extra_over_data")
        mem_ok = None if ratio is None else ratio < info.get("memory_bar_over_data", float("inf"))
        out.append(
            f"| {info['n']} | {info['n_features']} | {info['k']} | {median:.3f} ({rounds}) | {yes_no(time_ok)} "
            f"| {info.get('subprocess_fit_seconds', float('nan')):.3f} | {info['data_bytes'] / 1e6:.1f} "
            f"| {info.get('peak_extra_bytes', float('nan')) / 1e6:.1f} "
            f"| {'—' if ratio is None else f'{ratio:.3f}'} | {yes_no(mem_ok)} | {info['loss']:.10g} |")
    sources = {info.get("peak_extra_source") for _, _, info in entries} - {None}
    return out + [""] + [f"Memory source: {source}." for source in sorted(sources)] + [""]


def clarans_pyclustering_table(data):
    entries = clara_entries(data, "clarans_pyclustering")
    if not entries:
        return []
    groups = {}
    for entry in entries:
        info = entry[2]
        key = (info["n"], info["k"], info["numlocal"], info["maxneighbor"])
        groups.setdefault(key, {})[info["library"]] = entry
    out = [
        "### vecclust.CLARANS vs pyclustering's CLARANS (one thread)",
        "",
        "Both losses recomputed the same way: the sum of euclidean distances of every point to its nearest "
        "medoid. pyclustering runs once, and only with BENCH_PYCLUSTERING=1. Bar: vecclust >= 100x faster at "
        "equal or lower loss.",
        "",
        "| n | k | numlocal | maxneighbor | pyclustering s (rounds) | vecclust median s (rounds) "
        "| ratio pyclustering / vecclust | loss pyclustering | loss vecclust | (pyclustering - vecclust) / vecclust | bar met |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for key in sorted(groups):
        libs = groups[key]
        pyc, vc = libs.get("pyclustering"), libs.get("vecclust")
        ratio = pyc[0] / vc[0] if pyc and vc and vc[0] > 0 else None
        loss_pyc = pyc[2]["loss"] if pyc else None
        loss_vc = vc[2]["loss"] if vc else (pyc[2].get("loss_vecclust") if pyc else None)
        diff = (loss_pyc - loss_vc) / loss_vc if loss_pyc is not None and loss_vc else None
        bar = (pyc or vc)[2].get("speedup_bar", 100.0)
        ok = None if ratio is None or diff is None else (ratio >= bar and diff >= 0)
        out.append(
            f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} "
            f"| {fmt_time(pyc) if pyc else 'not run (BENCH_PYCLUSTERING=1)'} | {fmt_time(vc)} "
            f"| {'—' if ratio is None else f'**{ratio:.0f}**'} | {'—' if loss_pyc is None else f'{loss_pyc:.10g}'} "
            f"| {'—' if loss_vc is None else f'{loss_vc:.10g}'} | {'—' if diff is None else f'{diff:+.2%}'} "
            f"| {yes_no(ok)} |")
    return out + [""]


def kmeans_table(data):
    entries = clara_entries(data, "kmeans")
    if not entries:
        return []
    groups = {}  # (variant, n, k, threads) -> {library: entry}
    for entry in entries:
        info = entry[2]
        groups.setdefault((info["variant"], info["n"], info["k"], str(info["threads"])), {})[info["library"]] = entry
    first = entries[0][2]
    out = [
        f"### k-means: vecclust.KMeans vs sklearn.cluster.KMeans, same initial centres, {first['n_features']}-d "
        "float32 blobs",
        "",
        "Ratio > 1: vecclust is faster. blobs: cluster_std 1; diffuse: cluster_std 8 (overlapping). "
        "vecclust: the default algorithm (Hamerly); elkan: algorithm=\"elkan\" (same result). "
        "Bar (reported, not enforced): ratio >= 1.",
        "",
        "| data | n | k | threads | sklearn median s (rounds) | vecclust median s (rounds) | ratio sklearn / vecclust "
        "| bar met | elkan median s (rounds) | ratio sklearn / elkan | inertia sklearn | inertia vecclust "
        "| n_iter sklearn | n_iter vecclust | same labels |",
        "|:---|---:|---:|:---:|---:|---:|---:|:---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key in sorted(groups, key=lambda t: (t[0], t[1], t[2], THREAD_ORDER.get(t[3], 9))):
        libs = groups[key]
        sk, vc, elkan = libs.get("sklearn"), libs.get("vecclust"), libs.get("vecclust-elkan")
        ratio = sk[0] / vc[0] if sk and vc and vc[0] > 0 else None
        elkan_ratio = sk[0] / elkan[0] if sk and elkan and elkan[0] > 0 else None
        info = (vc or sk or elkan)[2]
        ok = None if ratio is None else ratio >= info.get("speedup_bar", 1.0)
        out.append(
            f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {fmt_time(sk)} | {fmt_time(vc)} "
            f"| {'—' if ratio is None else f'**{ratio:.2f}**'} | {yes_no(ok)} | {fmt_time(elkan)} "
            f"| {'—' if elkan_ratio is None else f'{elkan_ratio:.2f}'} | {info['inertia_sklearn']:.10g} "
            f"| {info['inertia_vecclust']:.10g} | {info['n_iter_sklearn']} | {info['n_iter_vecclust']} "
            f"| {info['same_labels']:.4f} |")
    return out + [""]


def ppp_tables(data):
    timing = sorted(clara_entries(data, "ppp_timing"), key=lambda e: e[2]["method"] != "PPP")
    scale = clara_entries(data, "ppp_scale")
    out = []
    if timing:
        info = timing[0][2]
        ppp = next((e for e in timing if e[2]["method"] == "PPP"), None)
        out += [f"### PPP vs the GMM-BIC sweep (K = 1..30), n = {info['n']}, d = {info['n_features']}, "
                f"k = {info['k']}, one thread", "",
                f"Ratio: GMM-BIC median time / method median time (bar: PPP >= {info['speedup_bar']:g}x).", "",
                "| method | median s (rounds) | ratio GMM-BIC / method | k_hat | ARI |", "|:---|---:|---:|---:|---:|"]
        gmm = next((e for e in timing if e[2]["method"] == "GMM-BIC"), None)
        for median, rounds, info in timing:
            ratio = gmm[0] / median if gmm and median > 0 else None
            out.append(f"| {info['method']} | {median:.3f} ({rounds}) | {'—' if ratio is None else f'**{ratio:.1f}**'} "
                       f"| {info.get('k_hat', '—')} | {info.get('ari', float('nan')):.4f} |")
        if ppp is None:
            out.append("| PPP | not run (vecclust.PPP not available) | — | — | — |")
        out.append("")
    for median, rounds, info in scale:
        out += [f"### PPP at scale: {info['n']} x {info['n_features']} float32 blobs ({info['k']} centres), "
                "all threads", "", "| fit s (rounds) | under 60 s | k_hat | ARI |", "|---:|:---:|---:|---:|",
                f"| {median:.2f} ({rounds}) | {yes_no(median < info['time_bar_s'])} | {info.get('k_hat', '—')} "
                f"| {info.get('ari', float('nan')):.4f} |", ""]
    return out


def gmm_table(data):
    entries = clara_entries(data, "gmm")
    if not entries:
        return []
    groups = {}
    for entry in entries:
        info = entry[2]
        key = (info["n"], info["n_features"], info["k"], info["covariance_type"], info["dtype"], str(info["threads"]))
        groups.setdefault(key, {})[info["library"]] = entry
    first = entries[0][2]
    out = [
        "### Gaussian mixture EM: vecclust.GaussianMixture vs scikit-learn (same initial parameters)",
        "",
        f"Ratio > 1: vecclust is faster. Same log-likelihood: final lower bounds within "
        f"{first.get('same_rtol', 1e-6):g} relative. Bar: ratio >= {first.get('speedup_bar', 3.0):g} at the same "
        "log-likelihood.",
        "",
        "| n | d | k | covariance | dtype | threads | sklearn median s (rounds) | vecclust median s (rounds) "
        "| ratio sklearn / vecclust | iterations sklearn / vecclust | lower bound sklearn | lower bound vecclust "
        "| rel. diff | bar met |",
        "|---:|---:|---:|:---|:---|:---:|---:|---:|---:|:---:|---:|---:|---:|:---:|",
    ]
    order = {"full": 0, "diag": 1}
    for key in sorted(groups, key=lambda t: (-t[0], t[1], -t[2], order.get(t[3], 9), t[4], THREAD_ORDER.get(t[5], 9))):
        libs = groups[key]
        sk, vc = libs.get("sklearn"), libs.get("vecclust")
        info = (vc or sk)[2]
        ratio = sk[0] / vc[0] if sk and vc and vc[0] > 0 else None
        lb_sk = sk[2]["lower_bound"] if sk else info.get("lower_bound_sklearn")
        lb_vc = vc[2]["lower_bound"] if vc else info.get("lower_bound_vecclust")
        diff = (lb_sk - lb_vc) / abs(lb_vc) if lb_sk is not None and lb_vc else None
        it_sk = sk[2]["n_iter"] if sk else info.get("n_iter_other")
        it_vc = vc[2]["n_iter"] if vc else info.get("n_iter_other")
        same = None if diff is None else abs(diff) <= info.get("same_rtol", 1e-6)
        ok = None if ratio is None or same is None else ratio >= info.get("speedup_bar", 3.0) and same
        out.append(
            f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {key[4]} | {key[5]} | {fmt_time(sk)} | {fmt_time(vc)} "
            f"| {'—' if ratio is None else f'**{ratio:.2f}**'} | {it_sk} / {it_vc} "
            f"| {'—' if lb_sk is None else f'{lb_sk:.12g}'} | {'—' if lb_vc is None else f'{lb_vc:.12g}'} "
            f"| {'—' if diff is None else f'{diff:.1e}'} | {yes_no(ok)} |")
    return out + [""]


def grouped_ratios(entries, group_key, peer, ours="vecclust"):
    """{group key: peer median / our median} over the entries of one kind of benchmark."""
    groups = {}
    for median, _, info in entries:
        groups.setdefault(group_key(info), {})[info.get("library", info.get("method"))] = median
    return {key: libs[peer] / libs[ours] for key, libs in groups.items() if peer in libs and libs.get(ours)}


def speed_ratio_rows(data, rows):
    """(algorithm, row, ratio peer / vecclust) for the figure: every comparison with a peer."""
    out = []
    for bench, group in (("fasterpam", "FasterPAM vs kmedoids"), ("end_to_end", "features to medoids vs sklearn+kmedoids")):
        for key in sorted((k for k in rows if k[0] == bench), key=lambda t: (t[1], t[2], THREAD_ORDER.get(t[3], 9))):
            vc, km = rows[key].get("vecclust"), rows[key].get("kmedoids")
            if vc and km and vc[0] > 0:
                out.append((group, f"n={key[1]} k={key[2]} threads={key[3]}", km[0] / vc[0]))
    kmeans = grouped_ratios(clara_entries(data, "kmeans"), lambda i: (i["variant"], i["n"], i["k"], str(i["threads"])),
                            "sklearn")
    out += [("KMeans vs sklearn", f"{v} n={n} k={k} threads={t}", r) for (v, n, k, t), r in sorted(kmeans.items())]
    gmm = grouped_ratios(clara_entries(data, "gmm"), lambda i: (i["n"], i["k"], i["covariance_type"], i["dtype"],
                                                                str(i["threads"])), "sklearn")
    out += [("GaussianMixture vs sklearn", f"n={n} k={k} {c} {d} threads={t}", r)
            for (n, k, c, d, t), r in sorted(gmm.items(), key=lambda item: (-item[0][0], item[0][1:]))]
    ppp = grouped_ratios(clara_entries(data, "ppp_timing"), lambda i: (i["n"], i["k"]), "GMM-BIC", "PPP")
    out += [("PPP vs GMM-BIC sweep", f"n={n} true k={k}", r) for (n, k), r in sorted(ppp.items())]
    pyc = grouped_ratios(clara_entries(data, "clarans_pyclustering"), lambda i: (i["n"], i["k"]), "pyclustering")
    out += [("CLARANS vs pyclustering", f"n={n} k={k}", r) for (n, k), r in sorted(pyc.items())]
    clara = clara_entries(data, "clara_quality")
    reference = {(i.get("dataset"), str(i["threads"])): m for m, _, i in clara if i["method"] == "fasterpam"}
    for median, _, info in clara:
        ref = reference.get((info.get("dataset"), str(info["threads"])))
        if info["method"] != "fasterpam" and ref and median > 0:
            out.append(("CLARA/CLARANS vs full FasterPAM", f"{info.get('label', info['method'])} "
                        f"{info.get('dataset', 'blobs')} threads={info['threads']}", ref / median))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", help="the file written by pytest --benchmark-json")
    parser.add_argument("--plot", type=Path, default=RESULTS_DIR / "speed_ratios.png",
                        help="the speed-ratio figure (default: bench/results/speed_ratios.png)")
    parser.add_argument("--no-plot", action="store_true", help="print the tables only")
    args = parser.parse_args(argv)
    data, rows = load(args.json)
    clara_lines = (clara_quality_table(data) + clara_scale_table(data) + clarans_pyclustering_table(data)
                   + kmeans_table(data) + ppp_tables(data) + gmm_table(data))
    if not rows and not clara_lines:
        print(f"no vecclust benchmark results in {args.json}", file=sys.stderr)
        return 1
    machine = data.get("machine_info", {})
    cpu = machine.get("cpu", {})
    commit = data.get("commit_info", {})
    print(f"Benchmarks of {data.get('datetime', '?')} on {cpu.get('brand_raw', '?')} "
          f"({cpu.get('count', '?')} CPUs), Python {machine.get('python_version', '?')}, "
          f"commit {str(commit.get('id', '?'))[:10]}{' (dirty)' if commit.get('dirty') else ''}.")
    if rows:
        print("Ratio > 1: vecclust is faster. threads=all: kmedoids scans in a shuffled order, so its loss may differ.")
    print()
    lines = table(rows, "fasterpam", "FasterPAM on a precomputed float32 distance matrix (same initial medoids)",
                  "kmedoids")
    lines += table(rows, "end_to_end", "End to end from float32 features (euclidean): "
                   "sklearn pairwise_distances + kmedoids.fasterpam vs vecclust.KMedoids.fit", "sklearn+kmedoids")
    lines += clara_lines
    print("\n".join(lines).rstrip())
    if not args.no_plot:
        ratio_bars(speed_ratio_rows(data, rows), args.plot, "vecclust against the peer of each benchmark "
                   "(median times, same run)", "time of the peer / time of vecclust (> 1: vecclust faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
